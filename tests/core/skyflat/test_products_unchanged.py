"""The sky-flat products of a fixed simulated set are the recorded ones, however they are written.

The reference fingerprints (``data/skyflat_products_reference.npz``, see
``product_fingerprint.py``) are recorded from a fresh run at thresholds 0.8 and 0.9, and
re-recorded only when products change on purpose. Here the same set is analysed once at
0.8 and written three ways: by the command line's path at 0.8 and 0.9, and at 0.9 from
the 0.8 result (what the GUI's Export does after the threshold slider moved).

The delta flats' ERR divides by the variance kept by one 3-sigma clipping pass as computed
(0.973336); the first recording was made with the literal 0.9733. A reference records the
factor it was made with (``err_clip_factor``, 0.9733 when absent), and the delta flats' ERR
is compared after that known rescaling (and not byte for byte), everything
else as it was. A re-recording (products changed on purpose) is said in its commit.
"""

import json

import numpy as np
import pytest

from product_fingerprint import REFERENCE, THRESHOLDS, _lattice, compare, fingerprint, make_set
from nircam_gui.core.clipping import clip_variance_factor
from nircam_gui.core.provenance import software_versions
from nircam_gui.core.skyflat.options import SkyflatOptions
from nircam_gui.core.skyflat.products import write_skyflat_products
from nircam_gui.core.skyflat.run import run_skyflat

pytestmark = pytest.mark.slow  # three analyses of a 16-image set

#: the one-pass clipping factor of the first recording (a literal in the code of then)
FIRST_RECORDING_FACTOR = 0.9733


def _err_scale(ref) -> float:
    """ERR(now) / ERR(recorded): the recorded clipping factor over the one computed now."""
    recorded = float(ref["err_clip_factor"]) if "err_clip_factor" in ref.files else FIRST_RECORDING_FACTOR
    return float(np.sqrt(recorded / clip_variance_factor(3.0, iterations=1)))


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    root = tmp_path_factory.mktemp("products_unchanged")
    cal, ref, pred = make_set(root)
    kw = dict(ground_flats=[ref], ground_masks=[ref], predictions=pred)
    result = run_skyflat(cal, options=SkyflatOptions(dead_threshold=THRESHOLDS[0]), **kw)
    return cal, kw, result


def _reference(threshold: float) -> tuple[dict, bool]:
    """The recorded fingerprint at ``threshold``, ERR rescaled; and whether the software is the recording's."""
    ref = np.load(REFERENCE)
    prefix = f"{threshold}|"
    out = {k[len(prefix):]: ref[k] for k in ref.files if k.startswith(prefix)}
    err_scale = _err_scale(ref)
    for k in list(out):
        if not (k.startswith("delta_") and ":ERR|" in k):
            continue
        if k.endswith("|sample"):
            out[k] = out[k].astype(np.float64) * err_scale
        elif k.endswith("|sums"):  # sum and sum of squares
            out[k] = out[k] * np.array([err_scale, err_scale ** 2])
        elif k.endswith("|float_sha256"):
            del out[k]
    same_software = str(ref["versions"]) == json.dumps(software_versions(), sort_keys=True)
    return out, same_software


def _fingerprint(folder) -> dict:
    """The products' fingerprint, without the byte digests of the delta flats' ERR."""
    return {k: v for k, v in fingerprint(folder).items()
            if not (k.startswith("delta_") and ":ERR|float_sha256" in k)}


@pytest.mark.parametrize("threshold, rethreshold", [(0.8, False), (0.9, False), (0.9, True)])
def test_products_match_the_recorded_ones(analysed, tmp_path, threshold, rethreshold):
    cal, kw, result = analysed
    if rethreshold:  # the GUI's Export after the slider moved
        write_skyflat_products(result, tmp_path, dead_threshold=threshold)
    elif threshold == result.options.dead_threshold:
        write_skyflat_products(result, tmp_path)
    else:  # nircam-skyflat --dead-threshold 0.9
        write_skyflat_products(run_skyflat(cal, options=SkyflatOptions(dead_threshold=threshold), **kw), tmp_path)
    ref, same_software = _reference(threshold)
    problems = compare(_fingerprint(tmp_path), ref, exact=same_software)
    assert problems == [], "\n".join(problems[:20])


def test_a_changed_product_is_noticed(analysed, tmp_path):
    """The comparison can fail: one pixel of one delta flat moved by 1e-4, on the sample
    lattice (always seen) and, when the software is the recording's, off it (seen by the
    byte digest)."""
    cal, kw, result = analysed
    ref, same_software = _reference(THRESHOLDS[0])
    det = next(iter(result.detectors.values()))
    token = next(iter(det.filter_deltas))
    d = det.filter_deltas[token]
    yy, xx = _lattice(d.median.shape)
    cases = [(yy[500], xx[500])] + ([(yy[500], xx[500] + 1)] if same_software else [])
    for k, (y, x) in enumerate(cases):
        d.median[y, x] += 1e-4
        try:
            write_skyflat_products(result, tmp_path / str(k))
        finally:
            d.median[y, x] -= 1e-4
        problems = compare(_fingerprint(tmp_path / str(k)), ref, exact=same_software)
        # the delta flat's SCI changed, and its FILTDIFF (delta / grey - 1) with it; nothing else
        name = f"delta_{det.detector}_{token}.fits|"
        assert any(f"{name}1:SCI" in p for p in problems), problems
        assert all(f"{name}1:SCI" in p or f"{name}4:FILTDIFF" in p for p in problems), problems
