"""What a sky-flat analysis produces: arrays and tables, no paths.

:func:`~.run.run_skyflat` returns a :class:`SkyflatResult`;
:func:`~.products.write_skyflat_products` writes it; the GUI holds it and draws it.
A result can be re-thresholded for dead pixels (:meth:`SkyflatResult.with_dead_threshold`)
without recomputing the stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from astropy.table import Table

from .additive import AdditiveResult
from .filterdiff import FilterDifference
from .deadpix import DeadPixels, find_clusters, find_dead_pixels
from .options import SkyflatOptions

__all__ = ["DetectorResult", "FilterDelta", "NewFlat", "SkyflatResult", "new_dead_pixels"]


@dataclass
class FilterDelta:
    """The delta flat of one detector and filter, and how it differs from the grey one.

    ``difference`` is delta / grey - 1 on ``fit_bin`` blocks (:mod:`.filterdiff`);
    ``filtdiff`` the same at full size (computed when asked for, to keep results small);
    ``range_max``, ``range_2_98`` and ``rms`` are the max - min, 2-98 percentile range and
    rms of the blocks, ``slope_x``, ``slope_y`` a plane fitted to them.
    """

    filter: str
    pupil: str
    files: list[str]
    median: np.ndarray = field(repr=False)
    error: np.ndarray = field(repr=False)
    coverage: np.ndarray = field(repr=False)
    #: the grey delta flat of the detector (shared, not a copy)
    grey: np.ndarray = field(repr=False)
    difference: FilterDifference | None = field(default=None, repr=False)

    @property
    def filtdiff(self) -> np.ndarray:
        """This filter's delta flat relative to the grey one, minus 1 (report Figs. 4-6), at full size."""
        if self.difference is None:
            return np.full(self.median.shape, np.nan, np.float32)
        return self.difference.image()

    def _stat(self, name: str) -> float:
        return np.nan if self.difference is None else getattr(self.difference, name)

    range_max = property(lambda self: self._stat("range_max"))
    range_2_98 = property(lambda self: self._stat("range_2_98"))
    rms = property(lambda self: self._stat("rms"))
    slope_x = property(lambda self: self._stat("slope_x"))
    slope_y = property(lambda self: self._stat("slope_y"))


@dataclass
class NewFlat:
    """A new FLAT (ground flat x large-scale fit, renormalised) for one filter."""

    ground_file: str
    data: np.ndarray = field(repr=False)
    err: np.ndarray = field(repr=False)
    dq: np.ndarray = field(repr=False)


@dataclass
class DetectorResult:
    """Everything one detector produced (JWST-STScI-008304 sections 3.1-3.4)."""

    detector: str
    #: input files in stack order, and per filter token
    files: list[str]
    groups: dict[str, list[str]]
    grey: np.ndarray = field(repr=False)
    grey_error: np.ndarray = field(repr=False)
    coverage: np.ndarray = field(repr=False)
    fit: np.ndarray = field(repr=False)
    fit_method: str = ""
    #: per filter token
    filter_deltas: dict[str, FilterDelta] = field(default_factory=dict, repr=False)
    flats: dict[str, NewFlat] = field(default_factory=dict, repr=False)
    #: pixels left out of the new dead pixels (ground MASK DEAD, or the images' DQ DEAD)
    ground_dead: np.ndarray | None = field(default=None, repr=False)
    #: the ground MASK file and its DQ (None without one)
    mask_file: str = ""
    ground_mask_dq: np.ndarray | None = field(default=None, repr=False)
    dead: DeadPixels | None = field(default=None, repr=False)
    clusters: Table | None = field(default=None, repr=False)
    #: per-image source masks (``np.packbits`` of the boolean mask, by file), with ``keep_masks``
    source_masks: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    #: the additive scattered light removed before the combines (None with ``additive="plain"``)
    additive: AdditiveResult | None = field(default=None, repr=False)

    @property
    def n_images(self) -> int:
        return len(self.files)

    @property
    def filters(self) -> list[str]:
        return sorted(self.filter_deltas)

    @property
    def deltas(self) -> dict[str, np.ndarray]:
        """Delta flat per filter token."""
        return {t: d.median for t, d in self.filter_deltas.items()}

    @property
    def filter_range(self) -> dict[str, float]:
        """2-98 percentile range of (filter delta / grey - 1) per filter name."""
        return {d.filter: d.range_2_98 for d in self.filter_deltas.values()}

    @property
    def dead_table(self) -> Table | None:
        return None if self.dead is None else self.dead.table

    @property
    def n_dead(self) -> int:
        return 0 if self.dead is None else int(self.dead.mask.sum())

    @property
    def n_clusters(self) -> int:
        return 0 if self.clusters is None else len(self.clusters)

    @property
    def dead_threshold(self) -> float:
        return np.nan if self.dead is None else self.dead.threshold

    def source_mask(self, file: str) -> np.ndarray | None:
        """The boolean source mask (sources + DO_NOT_USE) of one input image, if kept."""
        packed = self.source_masks.get(file)
        if packed is None:
            return None
        return np.unpackbits(packed, count=self.grey.size).reshape(self.grey.shape).astype(bool)


@dataclass
class SkyflatResult:
    """Outputs of :func:`~.run.run_skyflat`: per-detector results and the run's tables.

    Attributes
    ----------
    detectors : dict of str to DetectorResult
        In detector order.
    backgrounds, background_summary, filter_dependence : astropy.table.Table
        Sky level per image, per detector and filter (with predictions), filter dependence.
    inputs : list of dict
        ``file, sha256, detector, filter, pupil`` of every image (``sha256`` "" without checksums).
    ground_flats, ground_masks : list of str
        The reference files that were matched.
    useafter, pedigree : str
        USEAFTER and PEDIGREE for the reference files written from this result.
    r_flat : dict of str to str
        The flat (``R_FLAT`` file name) the images of each ``"detector filter pupil"`` were
        calibrated with, "" when they do not say.
    bunit : str
        BUNIT of the images, the unit of the backgrounds.
    versions : dict
        Software versions; ``created`` the UTC time of the run.
    """

    options: SkyflatOptions
    detectors: dict[str, DetectorResult]
    backgrounds: Table
    background_summary: Table
    filter_dependence: Table
    inputs: list[dict]
    ground_flats: list[str]
    ground_masks: list[str]
    useafter: str
    pedigree: str
    versions: dict
    created: str
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    r_flat: dict[str, str] = field(default_factory=dict)
    bunit: str = "MJy/sr"

    def to_table(self) -> Table:
        """One row per detector: images, filters, fit, new dead pixels, concentrations."""
        rows = [(name, d.n_images, ",".join(d.filters), d.fit_method, d.n_dead, d.n_clusters, d.dead_threshold)
                for name, d in self.detectors.items()]
        return Table(rows=rows or None, names=("detector", "n_images", "filters", "fit_method", "n_dead",
                                               "n_clusters", "dead_threshold"),
                     dtype=(str, np.int32, str, str, np.int64, np.int32, np.float64))

    def with_dead_threshold(self, threshold: float) -> SkyflatResult:
        """The same result with the dead pixels and concentrations found at ``threshold``.

        Raises
        ------
        ValueError
            A threshold outside (0, 1).
        """
        options = replace(self.options, dead_threshold=float(threshold))
        if options.dead_threshold == self.options.dead_threshold:
            return self
        detectors = {}
        for name, d in self.detectors.items():
            dead, clusters = new_dead_pixels(d.grey, d.coverage, d.ground_dead, options)
            detectors[name] = replace(d, dead=dead, clusters=clusters)
        return replace(self, options=options, detectors=detectors)


def new_dead_pixels(grey: np.ndarray, coverage: np.ndarray | None, ground_dead: np.ndarray | None,
                    options: SkyflatOptions, threshold: float | None = None) -> tuple[DeadPixels, Table]:
    """New dead pixels and their concentrations in a grey delta flat (report section 3.4).

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
