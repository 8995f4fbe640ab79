"""The whole sky-flat analysis over a set of ``_cal`` images (what ``nircam-skyflat`` runs).

Images are grouped by detector, then by filter and pupil. For each detector the
source-masked, normalised images are held in one float32 stack (20 full frames: 336 MB),
from which the per-filter and grey delta flats are combined block by block.
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from astropy.table import Table

from ..crdskeys import check_delivery
from ..detector import get_detector, reference_pixel_mask
from ..dq import DEAD, DO_NOT_USE
from ..errors import NircamFileError
from ..fileio import ensure_output_dir, sha256sum, staged_outputs, unstaged
from ..provenance import software_versions
from ..progress import CancelCheck, ProgressCallback, Reporter
from ..readers import ExposureMeta, find_fits, inspect, open_image, open_reference
from . import figures, products
from .background import BackgroundRecord, backgrounds_table, summarise_backgrounds
from .combine import CombineResult, combine_stack
from .deadpix import find_clusters, find_dead_pixels
from .inputs import check_skyflat_inputs
from .largescale import bin_image, default_method, fit_large_scale
from .normalise import clipped_level, normalise
from .sourcemask import source_mask

__all__ = ["DetectorSummary", "SkyflatOptions", "SkyflatResult", "expand_inputs", "new_dead_pixels", "run_skyflat",
           "write_dead_pixel_products"]


@dataclass
class SkyflatOptions:
    """Every choice of the method; defaults are the report's (JWST-STScI-008304 section 3)."""

    n_sigma: float = 1.0
    n_pixels: int = 4
    kernel_fwhm: float = 3.0
    kernel_size: int = 3
    dilate: int = 0
    box_size: int = 64
    sigma: float = 3.0
    maxiters: int = 5
    fit: str | None = None  # None: poly3 for SW, median for LW
    fit_bin: int = 32
    median_filter: int = 8
    dead_threshold: float = 0.8
    min_coverage: int = 3
    cluster_link: int = 3
    cluster_min_npix: int = 20
    combine_method: str = "bottleneck"
    figures: bool = True
    checksums: bool = True
    #: CRDS delivery keywords of the FLAT and MASK files; None: USEAFTER the first image's
    #: exposure start, PEDIGREE "INFLIGHT <first> <last>" exposure dates, DESCRIP per product
    author: str = "nircam-gui"
    useafter: str | None = None
    pedigree: str | None = None
    descrip: str | None = None
    history: str | None = None

    def __post_init__(self) -> None:
        self.author, self.useafter, self.pedigree = check_delivery(self.author, self.useafter, self.pedigree)


@dataclass
class DetectorSummary:
    """What one detector produced."""

    detector: str
    n_images: int
    filters: list[str]
    fit_method: str
    n_dead: int
    n_clusters: int
    filter_range: dict[str, float] = field(default_factory=dict)
    grey: np.ndarray | None = field(default=None, repr=False)
    fit: np.ndarray | None = field(default=None, repr=False)
    deltas: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    coverage: np.ndarray | None = field(default=None, repr=False)
    dead_table: Table | None = field(default=None, repr=False)
    clusters: Table | None = field(default=None, repr=False)
    # What re-thresholding and exporting need without recomputing the stack (the GUI's
    # threshold slider, :mod:`.export`); defaults keep older callers working.
    #: input files in stack order, and per filter token
    files: list[str] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)
    #: pixels left out of the new dead pixels (ground MASK DEAD, or the images' DQ DEAD)
    ground_dead: np.ndarray | None = field(default=None, repr=False)
    mask_file: str = ""
    #: written FLAT reference files per filter token
    flat_files: dict[str, str] = field(default_factory=dict)
    #: per-image source masks (``np.packbits`` of the boolean mask, by file), with ``keep_masks``
    source_masks: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    #: the provenance the detector's products were written with
    provenance: dict = field(default_factory=dict, repr=False)
    dead_threshold: float = 0.8

    def source_mask(self, file: str) -> np.ndarray | None:
        """The boolean source mask (sources + DO_NOT_USE) of one input image, if kept."""
        packed = self.source_masks.get(file)
        if packed is None or self.grey is None:
            return None
        return np.unpackbits(packed, count=self.grey.size).reshape(self.grey.shape).astype(bool)


@dataclass
class SkyflatResult:
    """Outputs of :func:`run_skyflat`."""

    outdir: str
    files: list[str]
    backgrounds: Table
    background_summary: Table
    filter_dependence: Table
    detectors: dict[str, DetectorSummary]
    warnings: list[str]
    seconds: float
    options: SkyflatOptions | None = None
    #: USEAFTER and PEDIGREE of the reference files, the input files, the provenance document
    useafter: str = ""
    pedigree: str = ""
    inputs: list[str] = field(default_factory=list)
    provenance: dict = field(default_factory=dict, repr=False)


def expand_inputs(paths) -> list[Path]:
    """Files as given, folders expanded to the FITS files they hold."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(find_fits(p))
        elif p.exists():
            out.append(p)
        else:
            raise NircamFileError(p, "file does not exist")
    return out


def _index_references(paths, reftype: str) -> dict[tuple, ExposureMeta]:
    found = {}
    named = {Path(p) for p in paths if not Path(p).is_dir()}
    for p in expand_inputs(paths):
        meta = inspect(p)
        if meta.reftype != reftype:
            if p in named:  # other files in a folder are skipped; a file given by name must be right
                raise NircamFileError(p, f"given as a ground {reftype}, but it is {meta.description}")
            continue
        pupil = (meta.pupil or "CLEAR").upper()
        key = (meta.detector,) if reftype == "MASK" else (meta.detector, meta.filter.upper(), pupil)
        found[key] = meta
    return found


def _filter_range(frac: np.ndarray, bin: int) -> tuple[float, float, float]:
    med, _, _, _ = bin_image(frac, bin)
    v = med[np.isfinite(med)]
    if v.size == 0:
        return (np.nan, np.nan, np.nan)
    return float(v.max() - v.min()), float(np.percentile(v, 98) - np.percentile(v, 2)), float(np.std(v))


def run_skyflat(
    cal_files,
    outdir: str | os.PathLike,
    *,
    ground_flats=(),
    ground_masks=(),
    predictions: Table | None = None,
    options: SkyflatOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
    keep_masks: bool = False,
) -> SkyflatResult:
    """Delta sky flats, new flats, dead pixels and backgrounds from ``_cal`` images.

    Parameters
    ----------
    cal_files : iterable of path-like
        ``_cal.fits`` files or folders of them.
    outdir : path-like
        Output folder (made if missing). Inputs are never overwritten.
    ground_flats, ground_masks : iterable of path-like
        FLAT and MASK reference files, or folders; matched on detector (and filter, pupil).
    predictions : astropy.table.Table, optional
        Predicted backgrounds (columns ``filter``, ``background`` [, ``detector``]).
    options : SkyflatOptions, optional
    progress, cancel : callable, optional
    keep_masks : bool
        Keep every image's source mask in the result (bit-packed, 0.5 MB a full frame),
        for display; the products do not change.

    Returns
    -------
    SkyflatResult

    Raises
    ------
    NircamFileError
        A file that is not a usable full-frame ``_cal`` image.
    Cancelled
        When ``cancel()`` returned True; the output folder is left as it was (products are
        staged and moved in only at the end).
    """
    opt = options or SkyflatOptions()
    t0 = time.perf_counter()
    final = ensure_output_dir(outdir)
    warnings: list[str] = []
    written: list[str] = []
    rep = Reporter(100, progress, cancel)

    checked = check_skyflat_inputs(cal_files, ground_flats)
    metas, flats = checked.images, checked.flats
    warnings.extend(checked.warnings)
    if predictions is not None and checked.bunit not in ("", "MJy/sr"):
        raise NircamFileError(metas[0].path, f"BUNIT is {checked.bunit!r}; the background predictions are in MJy/sr")
    masks = _index_references(ground_masks, "MASK")
    image_keys = {(m.detector, m.filter.upper(), (m.pupil or "CLEAR").upper()) for m in metas}
    named_refs = {Path(p) for p in ground_masks if not Path(p).is_dir()}
    for key, ref_meta in masks.items():
        matched = any(key == k[: len(key)] for k in image_keys)
        if not matched and Path(ref_meta.path) in named_refs:
            # silently unused, the user would read "no ground FLAT given" and not know why
            warnings.append(f"{ref_meta.path}: {ref_meta.reftype} reference file for {' '.join(map(str, key))} "
                            f"matches none of the images ({', '.join(sorted(' '.join(k) for k in image_keys))}); "
                            "not used")
    inputs_all = [m.path for m in metas]
    by_det: dict[str, list[ExposureMeta]] = defaultdict(list)
    for m in metas:
        by_det[m.detector].append(m)

    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    start_mjd = [m.start_mjd for m in metas if m.start_mjd is not None]
    from astropy.time import Time

    useafter = Time(min(start_mjd), format="mjd").isot[:19] if start_mjd else "2022-07-01T00:00:00"
    pedigree = "INFLIGHT " + (f"{Time(min(start_mjd), format='mjd').isot[:10]} "
                              f"{Time(max(start_mjd), format='mjd').isot[:10]}" if start_mjd else "2022-07-01 2022-07-01")
    useafter, pedigree = opt.useafter or useafter, opt.pedigree or pedigree
    options_doc = {k: v for k, v in asdict(opt).items()}
    versions = software_versions()
    checks = {}
    n_total = len(metas)
    protect = (*inputs_all, *(m.path for m in flats.values()), *(m.path for m in masks.values()))
    # products are staged: a failed or cancelled run leaves the folder as it was
    with staged_outputs(final, protect) as out:
        records: list[BackgroundRecord] = []
        filt_rows = []
        summaries: dict[str, DetectorSummary] = {}
        done = 0
        for det_name, dmetas in sorted(by_det.items()):
            det = get_detector(det_name)
            dmetas.sort(key=lambda m: (m.filter, m.pupil, m.start_mjd or 0, m.path))
            shapes = Counter((m.ny, m.nx) for m in dmetas)
            if len(shapes) != 1:
                # blame the odd one out, not whichever file sorts first
                (cy, cx), _ = shapes.most_common(1)[0]
                odd = next(m for m in dmetas if (m.ny, m.nx) != (cy, cx))
                raise NircamFileError(odd.path, f"{det_name} images of different sizes: this one is "
                                                f"{odd.nx}x{odd.ny}, {shapes[(cy, cx)]} other(s) {cx}x{cy}")
            ny, nx = next(iter(shapes))
            # 1. source masks, normalisation, backgrounds
            stack = np.empty((len(dmetas), ny, nx), np.float32)
            groups: dict[str, list[int]] = defaultdict(list)
            drep = rep.sub(len(dmetas) * 2 + 2, int(100 * done / n_total), int(100 * (done + len(dmetas)) / n_total))
            dq_dead = np.zeros((ny, nx), bool)
            kept_masks: dict[str, np.ndarray] = {}
            if len(dmetas) < opt.min_coverage:
                warnings.append(f"{det_name}: only {len(dmetas)} image(s): a pixel needs {opt.min_coverage} to be "
                                "judged dead, so no dead pixels can be found, and the median of so few images "
                                "does not reject sources and cosmic rays")
            for i, m in enumerate(dmetas):
                with open_image(m.path) as img:
                    sci = np.array(img.sci, dtype=np.float32)
                    dq = np.array(img.dq)
                if sci.shape != dq.shape:
                    raise NircamFileError(m.path, f"DQ has shape {dq.shape}, SCI {sci.shape}")
                n_usable = int(np.count_nonzero(np.isfinite(sci) & ((dq & DO_NOT_USE) == 0)))
                if n_usable == 0:
                    raise NircamFileError(m.path, "no usable sky: every SCI pixel is NaN or flagged DO_NOT_USE")
                try:
                    mask = source_mask(sci, dq, n_sigma=opt.n_sigma, n_pixels=opt.n_pixels,
                                       kernel_fwhm=opt.kernel_fwhm, kernel_size=opt.kernel_size,
                                       dilate=opt.dilate, box_size=opt.box_size)
                except ValueError as exc:  # photutils, when too few pixels are left for a background
                    raise NircamFileError(m.path, f"no source mask could be made ({exc}); {n_usable} usable "
                                                  "pixels") from None
                level = clipped_level(sci, mask, opt.sigma, opt.maxiters)
                if not np.isfinite(level.median) or level.median <= 0:
                    raise NircamFileError(m.path, f"no usable sky: the clipped background is {level.median:g}; a sky "
                                                  "flat needs a positive sky level")
                stack[i] = normalise(sci, mask, level.median)
                dq_dead |= (dq & DEAD) != 0
                if keep_masks:
                    kept_masks[m.path] = np.packbits(mask, axis=None)
                token = products.filter_token(m.filter, m.pupil)
                groups[token].append(i)
                records.append(BackgroundRecord(file=os.path.basename(m.path), detector=det_name,
                                                filter=m.filter.upper(), pupil=(m.pupil or "CLEAR").upper(),
                                                background=level.median, std=level.std, n_pixels=level.n_used,
                                                masked_fraction=float(mask.mean()),
                                                start_mjd=m.start_mjd if m.start_mjd is not None else np.nan))
                del sci, dq, mask
                drep.step(f"{det_name} mask {i + 1}/{len(dmetas)}")
            if opt.checksums:
                for m in dmetas:
                    checks[m.path] = sha256sum(m.path)
            prov = {"versions": versions, "options": options_doc, "created": created,
                    "inputs": [{"file": m.path, "sha256": checks.get(m.path, "")} for m in dmetas],
                    "keywords": {"DETECTOR": det_name, "NSKYIMG": len(dmetas)}}
            # 2. delta flats: grey and per filter
            crep = drep.sub(len(groups) + 1, len(dmetas), 2 * len(dmetas))
            grey = combine_stack(stack, None, sigma=opt.sigma, maxiters=opt.maxiters, method=opt.combine_method,
                                 cancel=cancel)
            crep.step(f"{det_name} grey")
            deltas: dict[str, CombineResult] = {}
            for token, idx in sorted(groups.items()):
                deltas[token] = combine_stack(stack, idx, sigma=opt.sigma, maxiters=opt.maxiters,
                                              method=opt.combine_method, cancel=cancel)
                crep.step(f"{det_name} {token}")
            drep.done += len(dmetas)  # the combine's share, reported through crep
            del stack
            # 3. large-scale fit of the grey delta flat
            method = opt.fit or default_method(det.is_longwave)
            fit_kw = {"bin": opt.fit_bin}
            if method == "median":
                fit_kw["filter_size"] = opt.median_filter
            fit = fit_large_scale(grey.median, method, **fit_kw)
            drep.step(f"{det_name} fit")
            ref = reference_pixel_mask((ny, nx))
            fit_out = np.where(ref, np.nan, fit).astype(np.float32)
            kw = {"DETECTOR": det_name, "FILTER": "GREY", "NSKYIMG": len(dmetas), "BUNIT": ""}
            written.append(products.write_image(
                out / f"delta_{det_name}_grey.fits",
                {"SCI": grey.median, "ERR": grey.error, "COVERAGE": grey.coverage},
                keywords={**kw, "COMBINE": f"sigclip median {opt.sigma} sig {opt.maxiters} it",
                          "CLIPMETH": opt.combine_method}, provenance=prov))
            written.append(products.write_image(
                out / f"fit_{det_name}_grey.fits", {"SCI": fit_out},
                keywords={**kw, "FITMETH": method, "FITBIN": opt.fit_bin,
                          "MEDFILT": opt.median_filter if method == "median" else 0},
                provenance=prov))
            # 4. per-filter deltas, filter dependence, new flats
            flat_files: dict[str, str] = {}
            for token, res in deltas.items():
                idx = groups[token]
                m0 = dmetas[idx[0]]
                with np.errstate(invalid="ignore", divide="ignore"):
                    frac = (res.median / grey.median - 1.0).astype(np.float32)
                rng_max, rng_98, rms = _filter_range(frac, opt.fit_bin)
                filt_rows.append((det_name, m0.filter.upper(), (m0.pupil or "CLEAR").upper(), len(idx),
                                  rng_max, rng_98, rms))
                written.append(products.write_image(
                    out / f"delta_{det_name}_{token}.fits",
                    {"SCI": res.median, "ERR": res.error, "COVERAGE": res.coverage, "FILTDIFF": frac},
                    keywords={"DETECTOR": det_name, "FILTER": m0.filter.upper(),
                              "PUPIL": (m0.pupil or "CLEAR").upper(), "NSKYIMG": len(idx),
                              "COMBINE": f"sigclip median {opt.sigma} sig {opt.maxiters} it",
                              "FDRANGE": (rng_98, "2-98 pct range of FILTDIFF in 32px bins")},
                    provenance={**prov, "inputs": [p for p in prov["inputs"]
                                                   if p["file"] in {dmetas[j].path for j in idx}]}))
                key = (det_name, m0.filter.upper(), (m0.pupil or "CLEAR").upper())
                if key in flats:
                    gmeta = flats[key]
                    gref = open_reference(gmeta.path, "FLAT")
                    if gref.data.shape != (ny, nx):
                        raise NircamFileError(gmeta.path, f"FLAT shape {gref.data.shape} does not match the "
                                                          f"images ({ny}, {nx})")
                    data, err, fdq = products.new_flat(gref.data, gref.err, gref.dq, fit)
                    written.append(products.write_flat(
                        out / f"flat_{det_name}_{token}.fits", det_name, m0.filter.upper(),
                        (m0.pupil or "CLEAR").upper(), data, err, fdq, ground_name=os.path.basename(gmeta.path),
                        fit_method=method, n_images=len(dmetas), provenance=prov, useafter=useafter,
                        pedigree=pedigree, **products.delivery_kwargs(opt)))
                    flat_files[token] = os.fspath(unstaged(written[-1], out, final))
                else:
                    warnings.append(f"{det_name} {token}: no ground FLAT given, flat_{det_name}_{token}.fits "
                                    "not written")
            # 5. dead pixels and concentrations
            mask_meta = masks.get((det_name,))
            ground_dq = None
            if mask_meta is not None:
                ground_dq = open_reference(mask_meta.path, "MASK").dq.astype(np.uint32)
                if ground_dq.shape != (ny, nx):
                    raise NircamFileError(mask_meta.path, f"MASK shape {ground_dq.shape} does not match ({ny}, {nx})")
                ground_dead = (ground_dq & DEAD) != 0
            else:
                warnings.append(f"{det_name}: no ground MASK given; ground DEAD pixels taken from the images' DQ")
                ground_dead = dq_dead
            dead, clusters = new_dead_pixels(grey.median, grey.coverage, ground_dead, opt, opt.dead_threshold)
            written.extend(write_dead_pixel_products(
                out, det_name, dead, clusters, ground_dq, mask_meta.path if mask_meta else "", opt.dead_threshold,
                prov, useafter, pedigree, opt))
            if opt.figures:
                written.append(figures.plot_detector(out / f"skyflat_{det_name}.png", det_name, grey.median, fit,
                                                     method, dead.mask, clusters))
                written.append(figures.plot_filter_dependence(
                    out / f"filters_{det_name}.png", det_name, {t: r.median for t, r in deltas.items()}, grey.median))
            summaries[det_name] = DetectorSummary(
                detector=det_name, n_images=len(dmetas), filters=sorted(deltas), fit_method=method,
                n_dead=int(dead.mask.sum()), n_clusters=len(clusters),
                filter_range={r[1]: r[5] for r in filt_rows if r[0] == det_name},
                grey=grey.median, fit=fit, deltas={t: r.median for t, r in deltas.items()},
                coverage=grey.coverage, dead_table=dead.table, clusters=clusters,
                files=[m.path for m in dmetas],
                groups={t: [dmetas[j].path for j in idx] for t, idx in sorted(groups.items())},
                ground_dead=ground_dead, mask_file=mask_meta.path if mask_meta else "", flat_files=flat_files,
                source_masks=kept_masks, provenance=prov, dead_threshold=opt.dead_threshold)
            drep.step(f"{det_name} written")
            done += len(dmetas)
        # 6. backgrounds, filter dependence, provenance
        bg = backgrounds_table(records, checked.bunit)
        summary = summarise_backgrounds(bg, predictions, checked.bunit)
        fd = Table(rows=filt_rows or None, names=("detector", "filter", "pupil", "n_images", "range", "range_2_98",
                                                  "rms"),
                   dtype=(str, str, str, np.int32, np.float32, np.float32, np.float32))
        fd["range"].description = "max - min of (filter delta / grey delta - 1) in 32x32 pixel bins"
        fd["range_2_98"].description = "2nd-98th percentile range of the same bins"
        fd["rms"].description = "rms of the same bins"
        prov_all = {"versions": versions, "options": options_doc, "created": created}
        written.append(products.write_table(out / "backgrounds.ecsv", bg, prov_all))
        written.append(products.write_table(out / "backgrounds_summary.ecsv", summary, prov_all))
        written.append(products.write_table(out / "filter_dependence.ecsv", fd, prov_all))
        if opt.figures:
            written.append(figures.plot_backgrounds(out / "backgrounds.png", summary))
        rep.check()
        outputs = [{"file": os.path.basename(w), "sha256": sha256sum(w)} for w in written]
        doc = {"created": created, "method": "JWST-STScI-008304 section 3 (NIRCam flight flats)",
               "options": options_doc, "versions": versions,
               "inputs": [{"file": m.path, "sha256": checks.get(m.path, ""), "detector": m.detector,
                           "filter": m.filter, "pupil": m.pupil} for m in metas],
               "ground_flats": [m.path for m in flats.values()], "ground_masks": [m.path for m in masks.values()],
               "r_flat": {" ".join(k): v for k, v in checked.r_flat.items()}, "bunit": checked.bunit,
               "outputs": outputs, "warnings": warnings,
               "dead_pixels": {d: s.n_dead for d, s in summaries.items()},
               "seconds": time.perf_counter() - t0}
        written.append(products.write_json(out / "provenance.json", doc))
        if progress:
            progress(1.0, "done")
    written = [os.fspath(unstaged(w, out, final)) for w in written]
    return SkyflatResult(os.fspath(final), written, bg, summary, fd, summaries, warnings, time.perf_counter() - t0,
                         options=opt, useafter=useafter, pedigree=pedigree, inputs=inputs_all, provenance=doc)


def new_dead_pixels(grey: np.ndarray, coverage: np.ndarray | None, ground_dead: np.ndarray | None,
                    options: SkyflatOptions, threshold: float | None = None):
    """New dead pixels and their concentrations, as :func:`run_skyflat` finds them.

    One function for the run and for re-thresholding a kept grey delta flat (the GUI's
    slider, :func:`.export.export_skyflat`), so both give the same pixels.

    Parameters
    ----------
    grey, coverage : ndarray
        Grey delta flat and its coverage.
    ground_dead : ndarray of bool, optional
        Pixels already dead on the ground.
    options : SkyflatOptions
        ``min_coverage``, ``cluster_link``, ``cluster_min_npix`` (and the threshold by default).
    threshold : float, optional
        Overrides ``options.dead_threshold``.

    Returns
    -------
    dead : DeadPixels
    clusters : astropy.table.Table
    """
    t = options.dead_threshold if threshold is None else float(threshold)
    dead = find_dead_pixels(grey, threshold=t, ground_dead=ground_dead, coverage=coverage,
                            min_coverage=options.min_coverage)
    clusters, _ = find_clusters(dead.mask, grey, link=options.cluster_link, min_npix=options.cluster_min_npix)
    return dead, clusters


def write_dead_pixel_products(out: Path, detector: str, dead, clusters: Table, ground_dq: np.ndarray | None,
                              mask_file: str, threshold: float, provenance: dict, useafter: str,
                              pedigree: str, options: SkyflatOptions | None = None) -> list[str]:
    """``deadpix_<det>.ecsv``, ``clusters_<det>.ecsv`` and the MASK ``deadpix_<det>.fits``.

    ``out`` is the staging folder of :func:`~nircam_gui.core.fileio.staged_outputs`, which
    checks every product against the inputs before it moves any in.
    """
    out = Path(out)
    written = [products.write_table(out / f"deadpix_{detector}.ecsv", dead.table, provenance),
               products.write_table(out / f"clusters_{detector}.ecsv", clusters, provenance)]
    written.append(products.write_dead_mask(
        out / f"deadpix_{detector}.fits", detector, dead.mask, ground_dq,
        ground_name=os.path.basename(mask_file) if mask_file else "", threshold=threshold,
        provenance=provenance, useafter=useafter, pedigree=pedigree, **products.delivery_kwargs(options)))
    return written
