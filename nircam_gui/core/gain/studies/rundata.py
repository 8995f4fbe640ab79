"""A gain run as the studies need it: box layout, PTC points, pairs; re-fitted on demand.

A study either takes a :class:`~nircam_gui.core.gain.run.GainResult` from memory or
reads back the folder ``nircam-gain`` wrote (``ptc_points.fits``, ``boxes.ecsv``,
``box_labels.fits``, ``pairs.ecsv``, ``provenance.json``). The saved points hold the
clipped mean and bias-corrected variance of every pair, group and box, so a fit at
another signal limit or with another first-pair decision needs no ramp at all.

:meth:`RunData.refit` repeats the engine's post-processing (``fit_ptc`` -> IPC factor
-> ``check_first_pair`` -> ``combine_pairs`` -> ``sector_table``) with the same
functions; a test checks that at the run's own settings it returns the engine's maps.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from ...errors import NircamFileError
from ...progress import CancelCheck, ProgressCallback, Reporter
from ..maps import GainMaps, check_first_pair, combine_pairs, sector_table
from ..ptcfit import PTCFit, fit_ptc
from ..run import measured_lag
from ._common import scaled_progress

__all__ = ["Refit", "RunData", "find_run", "is_run_folder", "obtain_runs"]

PTC_FILE = "ptc_points.fits"  # the name products.py writes
BOX_COLUMNS = ("box_id", "amp", "region", "npix", "xmin", "xmax", "ymin", "ymax")
# options that change the PTC points (the signal limit and the first-pair mode do not:
# the studies re-fit and re-decide from the points)
POINT_OPTIONS = ("box", "groups", "regions", "ipc", "ipc_kernel", "superbias", "linearity", "saturation", "mask",
                 "nsigma", "cov_lag")


@dataclass
class Refit:
    """Maps from the saved points at one signal limit."""

    signal_limit: float
    fit: PTCFit
    pair_gain: np.ndarray  # (npairs, nbox), IPC factor applied
    maps: GainMaps
    sectors: Table


@dataclass
class RunData:
    """What a study needs from one gain run.

    Attributes
    ----------
    mean, variance, npix_diff : ndarray, shape (npairs, ngroups, nbox)
        The engine's PTC points (see :class:`~nircam_gui.core.gain.run.PTCPoints`).
    pair_used : ndarray of bool, shape (npairs,)
        The run's own first-pair decision.
    ipc_factor : float
        Factor the run applied to every fitted gain (1 for ``none`` and ``deconvolve``).
    """

    detector: str
    files: list[str]
    options: dict
    labels: np.ndarray
    boxes: Table
    pair_numbers: np.ndarray
    pair_names: list[str]
    mean: np.ndarray
    variance: np.ndarray
    npix_diff: np.ndarray
    signal_limit: float
    ipc_factor: float
    ipc_info: dict
    pair_used: np.ndarray
    source: str = "memory"
    _cache: dict = field(default_factory=dict, repr=False)
    #: (npairs, ngroups, nbox, m, m) covariances of the differenced frame, when measured
    cov: np.ndarray | None = None

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_result(cls, result) -> "RunData":
        """From a :class:`~nircam_gui.core.gain.run.GainResult` in memory."""
        from ..run import options_dict

        names = [f"{p.first.label} + {p.second.label}" for p in result.pairs]
        boxes = result.boxes.table[list(BOX_COLUMNS)].copy()
        return cls(result.detector, [os.path.abspath(f) for f in result.files], options_dict(result.options),
                   result.boxes.labels, boxes, np.array([p.number for p in result.pairs]), names,
                   result.ptc.mean, result.ptc.variance, result.ptc.npix_diff, float(result.signal_limit),
                   float(result.ipc_factor), dict(result.ipc_info), np.asarray(result.maps.pair_used, bool),
                   cov=getattr(result.ptc, "cov", None))

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "RunData":
        """Read back a folder written by ``nircam-gain`` (:func:`write_gain_products`)."""
        from ..products import read_ptc_points

        folder = Path(folder)
        if not is_run_folder(folder):
            raise NircamFileError(folder, f"not a nircam-gain output folder (no {PTC_FILE}, boxes.ecsv, "
                                          "box_labels.fits, pairs.ecsv and provenance.json)")
        prov = json.loads((folder / "provenance.json").read_text())
        pts = read_ptc_points(folder / PTC_FILE)
        boxes = Table.read(folder / "boxes.ecsv", format="ascii.ecsv")
        boxes = boxes[list(BOX_COLUMNS)]
        boxes.meta = {}
        labels = fits.getdata(folder / "box_labels.fits").astype(np.int32)
        pairs = Table.read(folder / "pairs.ecsv", format="ascii.ecsv")
        names = [f"{os.path.basename(r['file_1'])}[{r['int_1']}] + {os.path.basename(r['file_2'])}[{r['int_2']}]"
                 for r in pairs]
        summary = prov.get("summary", {})
        det = boxes_meta_detector(folder) or summary.get("detector", "")
        return cls(det, [e["path"] for e in prov.get("inputs", [])], prov.get("options", {}), labels, boxes,
                   np.asarray(pts["pairs"]), names, pts["mean"], pts["variance"],
                   pts["npix_diff"].astype(np.int64), float(summary["signal_limit_adu"]),
                   float(summary.get("ipc_factor_applied", 1.0)), prov.get("ipc", {}),
                   np.asarray(pairs["used"], bool), source=os.fspath(folder),
                   cov=_read_cov(folder))

    # ----------------------------------------------------------------- properties
    @property
    def box_size(self) -> int:
        return int(self.options.get("box", 0))

    @property
    def ipc_mode(self) -> str:
        return str(self.options.get("ipc", "none"))

    @property
    def box_npix(self) -> np.ndarray:
        return np.asarray(self.boxes["npix"])

    @property
    def regions(self) -> np.ndarray:
        return np.asarray(self.boxes["region"])

    def first_pair_mode(self) -> str:
        """``keep`` or ``drop``: the run's own decision, to hold fixed across re-fits."""
        return "keep" if bool(self.pair_used[0]) else "drop"

    # ----------------------------------------------------------------- computation
    def refit(self, signal_limit: float | None = None, first_pair: str | None = None) -> Refit:
        """Fit the saved points at ``signal_limit`` (single-frame ADU) and rebuild the maps.

        Parameters
        ----------
        signal_limit : float, optional
            Default: the run's own.
        first_pair : {"auto", "keep", "drop"}, optional
            Default: the run's own decision, so maps at different limits average the
            same pairs.
        """
        limit = float(self.signal_limit if signal_limit is None else signal_limit)
        mode = self.first_pair_mode() if first_pair is None else first_pair
        key = (limit, mode)
        if key not in self._cache:
            fit = fit_ptc(self.mean, self.variance, self.npix_diff, self.box_npix, summed_limit=2.0 * limit)
            with np.errstate(divide="ignore", invalid="ignore"):
                pair_gain = fit.gain * self.ipc_factor
                err = fit.slope_err / fit.slope**2 * self.ipc_factor
            check = check_first_pair(pair_gain, mode)
            maps = combine_pairs(pair_gain, self.box_npix, check, err)
            self._cache[key] = Refit(limit, fit, pair_gain, maps, sector_table(self.boxes, maps))
        return self._cache[key]

    def refit_covariance(self, cap: float | None = None, first_pair: str | None = None) -> Refit | None:
        """The covariance model's maps from the saved covariances, box fits capped at ``cap``
        (single-frame ADU; None: each box's turnoff). None when the run has no covariances."""
        if self.cov is None:
            return None
        from ..covfit import solve_covariance_model

        mode = self.first_pair_mode() if first_pair is None else first_pair
        key = ("covariance", cap, mode)
        if key not in self._cache:
            sol = solve_covariance_model(self.mean, self.variance, self.cov, self.npix_diff, self.boxes, cap=cap,
                                         fit_lag=self._model_lag(),
                                         with_b=bool(self.options.get("fit_b", False)), ipc_factor=self.ipc_factor)
            maps = combine_pairs(sol.pair_gain, self.box_npix, check_first_pair(sol.pair_gain, mode), sol.gain_err_fit)
            self._cache[key] = Refit(np.inf if cap is None else float(cap), None, sol.pair_gain, maps,
                                     sector_table(self.boxes, maps))
        return self._cache[key]

    def image(self, values: np.ndarray) -> np.ndarray:
        """Per-pixel image of box values, NaN outside every box."""
        lut = np.concatenate([[np.nan], np.asarray(values, float)]).astype(np.float32)
        return lut[self.labels]

    def _model_lag(self) -> int:
        """The run's ``GainOptions.model_lag``: ``fit_lag``, else the largest lag measured."""
        lag = self.options.get("fit_lag")
        return int(self.cov.shape[-1] - 1 if lag is None else lag)

    def matches(self, files: Sequence[str | os.PathLike], options: dict) -> bool:
        """True when this run measured ``files`` with the same point-defining options."""
        if sorted(os.path.abspath(f) for f in files) != sorted(self.files):
            return False
        for k in POINT_OPTIONS:
            if k == "ipc_kernel" and options.get("ipc", "none") == "none":
                continue
            if k == "cov_lag":
                # covariances measured to the same lag; none asked for: any run has the points
                want = measured_lag(options.get("cov_lag"), options.get("ptc_model", "linear"))
                have = None if self.cov is None else self.cov.shape[-1] - 1
                if want is not None and want != have:
                    return False
                continue
            a, b = options.get(k), self.options.get(k)
            if k in ("regions", "ipc_kernel", "superbias", "linearity", "saturation", "mask"):
                a = os.path.abspath(a) if a else None
                b = os.path.abspath(b) if b else None
            if a != b:
                return False
        return True


def _has(run: RunData, key: str, value) -> bool:
    """True when a saved run was made with ``key = value`` (covariances: measured to that lag)."""
    if key == "cov_lag":
        return value is None or (run.cov is not None and run.cov.shape[-1] - 1 == value)
    return run.options.get(key) == value


def _read_cov(folder: Path) -> np.ndarray | None:
    """The covariances of a run folder (``covariances.fits``), None when it has none."""
    path = folder / "covariances.fits"
    if not path.is_file():
        return None
    from ..products import read_covariances

    return read_covariances(path)["cov"]


def boxes_meta_detector(folder: Path) -> str | None:
    """Detector name from the ``boxes.ecsv`` metadata (written by the engine)."""
    try:
        t = Table.read(folder / "boxes.ecsv", format="ascii.ecsv")
    except Exception:  # noqa: BLE001 - only a convenience
        return None
    return t.meta.get("detector")


def is_run_folder(path: str | os.PathLike) -> bool:
    """True for a folder holding a complete ``nircam-gain`` output."""
    p = Path(path)
    return p.is_dir() and all((p / n).is_file() for n in (PTC_FILE, "boxes.ecsv", "box_labels.fits", "pairs.ecsv",
                                                         "provenance.json"))


def find_run(runs: Sequence[RunData], files: Sequence[str | os.PathLike], options: dict) -> RunData | None:
    """The first saved run that matches ``files`` and ``options``, or None."""
    for r in runs:
        if r.matches(files, options):
            return r
    return None


def obtain_runs(
    specs: Sequence[dict],
    files: Sequence[str | os.PathLike],
    base_options,
    saved: Sequence[RunData] = (),
    save_dir: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
) -> list[RunData]:
    """One run per spec: a matching saved run when there is one, else the engine.

    Parameters
    ----------
    specs : list of dict
        Overrides of ``base_options`` (for example ``{"box": 128}`` or ``{"ipc": "none"}``).
    files : list of path-like
        Ramps; may be empty when every spec has a saved run.
    base_options : GainOptions
    saved : list of RunData
        Runs read back with :meth:`RunData.load`.
    save_dir : path-like, optional
        Computed runs are written here (``<save_dir>/box<N>_ipc-<mode>``, no figures)
        so the next study can reuse them.
    progress, cancel : callable, optional
    """
    from ..run import GainOptions, options_dict, run_gain

    todo = []
    out: list[RunData | None] = []
    for spec in specs:
        opts = dataclasses.replace(base_options, **spec)
        hit = find_run(saved, files, options_dict(opts)) if files else next(
            (r for r in saved if all(_has(r, k, v) for k, v in spec.items())), None)
        out.append(hit)
        if hit is None:
            if not files:
                raise NircamFileError(save_dir or ".", f"no saved run with {spec} and no ramps to compute one")
            todo.append((len(out) - 1, opts))
    rep = Reporter(max(len(todo), 1), None, cancel)
    for k, (i, opts) in enumerate(todo):
        cb = scaled_progress(progress, k / len(todo), (k + 1) / len(todo), f"box {opts.box}, IPC {opts.ipc}: ")
        result = run_gain(list(files), GainOptions(**dataclasses.asdict(opts)), cb, cancel)
        if save_dir is not None:
            from ..products import write_gain_products

            write_gain_products(result, Path(save_dir) / f"box{opts.box}_ipc-{opts.ipc}", figures=False,
                                checksums=False)
        out[i] = RunData.from_result(result)
        rep.step(f"run {k + 1} of {len(todo)} done")
    return [r for r in out if r is not None]
