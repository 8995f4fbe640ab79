"""Fingerprints of a folder of sky-flat products, to check that a change of code keeps them.

A fingerprint holds, for every FITS and ECSV product of a small fixed simulated set:

- every FITS header card except the ones that record when or with what file bytes a file
  was made (DATE, CHECKSUM, DATASUM, times, software versions and input SHA-256 in HISTORY, the ASDF extension);
- every image extension: integer and boolean arrays as an exact SHA-256 of their bytes;
  float arrays as their NaN map (SHA-256), their NaN-ignoring sum and sum of squares, a
  dense sample of 2,048 values on a diagonal lattice that touches every row and column
  (256x256 frames) compared at float32 rounding level, and the SHA-256 of their bytes,
  compared only under the software versions the reference was recorded with;
- every table column in full (the tables are small);
- ``provenance.json``'s options, inputs (names), outputs (names) and warnings.

``python tests/core/skyflat/product_fingerprint.py record`` writes the reference file
``data/skyflat_products_reference.npz`` (with the one-pass clipping factor the delta flats'
ERR was made with, ``err_clip_factor``). It must only be re-recorded when products are meant
to change, after checking the differences (``compare``) are the intended ones; the commit
that re-records says which cards and columns changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from nircam_gui.core.clipping import clip_variance_factor
from nircam_gui.core.provenance import software_versions

REFERENCE = Path(__file__).parent / "data" / "skyflat_products_reference.npz"
VOLATILE_KEYS = {"DATE", "CHECKSUM", "DATASUM", "FILENAME"}
#: a 256x256 frame's simulated set and the options the products were made with
SIM = dict(detectors=("NRCA1", "NRCBLONG"), filters=("F200W", "F444W"), n_images=4, size=256, seed=11)
THRESHOLDS = (0.8, 0.9)


def _lattice(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    ny, nx = shape[-2:]
    yy, xx = np.mgrid[0:ny, 0:nx]
    keep = (xx + 5 * yy) % 32 == 0
    return yy[keep], xx[keep]


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _header(h: fits.Header) -> list[str]:
    # HISTORY cards wrap long lines: join them before blanking checksums and times
    cards, history = [], []
    for c in h.cards:
        if c.keyword == "HISTORY":
            history.append(str(c.value))
        elif c.keyword not in VOLATILE_KEYS:
            cards.append(f"{c.keyword}={c.value}")
    text = re.sub(r"sha256:[0-9a-f]+", "sha256:*", "".join(history))
    for name, version in software_versions().items():  # an upgrade is not a change of products
        text = text.replace(f"{name} {version}", f"{name} *")
    cards.append("HISTORY=" + re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?", "*", text))
    return cards


def fingerprint(folder: str | os.PathLike) -> dict[str, object]:
    """Flat ``{key: value}`` fingerprint of the products in ``folder`` (see the module docstring)."""
    folder = Path(folder)
    fp: dict[str, object] = {}
    names = sorted(n for n in os.listdir(folder) if n.endswith((".fits", ".ecsv")))
    fp["names"] = np.array(names + sorted(n for n in os.listdir(folder) if n.endswith(".png")))
    for n in names:
        if n.endswith(".ecsv"):
            t = Table.read(folder / n)
            fp[f"{n}|columns"] = np.array(t.colnames)
            for c in t.colnames:
                col = np.asarray(t[c])
                fp[f"{n}|{c}"] = col.astype(str) if col.dtype.kind in "OSU" else col
            continue
        with fits.open(folder / n) as hdul:
            for i, hdu in enumerate(hdul):
                if hdu.name == "ASDF":
                    continue
                key = f"{n}|{i}:{hdu.name}"
                fp[f"{key}|header"] = np.array(_header(hdu.header))
                if not hdu.is_image or hdu.data is None:
                    continue
                data = np.asarray(hdu.data)
                fp[f"{key}|shape"] = np.array(data.shape)
                fp[f"{key}|dtype"] = np.array(str(data.dtype))
                if data.dtype.kind in "biu":
                    fp[f"{key}|sha256"] = np.array(_sha(data))
                else:
                    nan = np.isnan(data)
                    fp[f"{key}|nan_sha256"] = np.array(_sha(nan))
                    fp[f"{key}|float_sha256"] = np.array(_sha(data))
                    d64 = data.astype(np.float64)
                    fp[f"{key}|sums"] = np.array([np.nansum(d64), np.nansum(d64 ** 2)])
                    yy, xx = _lattice(data.shape)
                    fp[f"{key}|sample"] = data[..., yy, xx]
    doc = json.loads((folder / "provenance.json").read_text())
    fp["provenance|options"] = np.array(json.dumps(doc["options"], sort_keys=True))
    fp["provenance|inputs"] = np.array(sorted(os.path.basename(i["file"]) for i in doc["inputs"]))
    fp["provenance|outputs"] = np.array(sorted(o["file"] for o in doc["outputs"]))
    fp["provenance|warnings"] = np.array(sorted(re.sub(r"\S*/", "", w) for w in doc["warnings"]))
    fp["provenance|dead_pixels"] = np.array(json.dumps(doc.get("dead_pixels", {}), sort_keys=True))
    return fp


def compare(fp: dict[str, object], ref: dict[str, object], rtol: float = 2e-6, exact: bool = False) -> list[str]:
    """Differences between two fingerprints; empty when the products are the same.

    Floats agree to ``rtol`` (a few float32 units); everything else exactly. Float arrays
    are compared byte for byte (``float_sha256``) only when ``exact``: the same software
    versions make the same bytes, another numpy or astropy may round differently.
    """
    if not exact:
        fp = {k: v for k, v in fp.items() if not k.endswith("|float_sha256")}
        ref = {k: v for k, v in ref.items() if not k.endswith("|float_sha256")}
    problems = [f"missing {k}" for k in sorted(set(ref) - set(fp))]
    problems += [f"unexpected {k}" for k in sorted(set(fp) - set(ref))]
    for k in sorted(set(fp) & set(ref)):
        a, b = np.asarray(fp[k]), np.asarray(ref[k])
        if a.shape != b.shape:
            problems.append(f"{k}: shape {a.shape} != {b.shape}")
        elif a.dtype.kind == "f" and b.dtype.kind == "f":
            if not np.allclose(a, b, rtol=rtol, atol=1e-7, equal_nan=True):
                bad = ~np.isclose(a, b, rtol=rtol, atol=1e-7, equal_nan=True)
                problems.append(f"{k}: {int(bad.sum())} of {a.size} values differ")
        elif not np.array_equal(a, b):
            problems.append(f"{k}: differs")
    return problems


def make_set(root: Path):
    """The fixed simulated set: ``(cal files, reference folder, predictions table)``."""
    from nircam_gui.core.simulate.images import CalSimConfig, simulate_cal_images

    sim = simulate_cal_images(root / "sim", CalSimConfig(**SIM))
    pred = Table({"filter": ["F200W", "F444W"], "background": [0.2, 0.4]})
    return sim.cal_files, os.path.dirname(sim.mask_files[0]), pred


def _record(root: Path) -> None:
    from nircam_gui.core.skyflat import run

    cal, ref, pred = make_set(root)
    fps = {}
    for t in THRESHOLDS:
        out = root / f"out_{t}"
        kw = dict(ground_flats=[ref], ground_masks=[ref], predictions=pred)
        try:  # the code that writes as it computes
            run.run_skyflat(cal, out, options=run.SkyflatOptions(dead_threshold=t), **kw)
        except TypeError:  # compute, then write
            from nircam_gui.core.skyflat.options import SkyflatOptions
            from nircam_gui.core.skyflat.products import write_skyflat_products

            write_skyflat_products(run.run_skyflat(cal, options=SkyflatOptions(dead_threshold=t), **kw), out)
        fps.update({f"{t}|{k}": v for k, v in fingerprint(out).items()})
    fps["versions"] = np.array(json.dumps(software_versions(), sort_keys=True))
    fps["err_clip_factor"] = np.array(clip_variance_factor(3.0, iterations=1))
    REFERENCE.parent.mkdir(exist_ok=True)
    np.savez_compressed(REFERENCE, **fps)
    print(f"wrote {REFERENCE} ({REFERENCE.stat().st_size} bytes, {len(fps)} entries)")


if __name__ == "__main__" and sys.argv[1:] == ["record"]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        _record(Path(tmp))
