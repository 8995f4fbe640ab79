"""Options of the flat validation (report JWST-STScI-008304 sec. 3.2, Figures 2 and 3): one schema.

Each field is declared once with :func:`~nircam_gui.core.options.option`; ``nircam-skyflat
validate``, the Validation page's defaults and the products' provenance are made from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..options import option

__all__ = ["ValidationOptions"]

_PHOT = "photometry of sources matched across pointings"
_BKG = "background profiles and smoothed images"


@dataclass
class ValidationOptions:
    """Every choice of the validation of an old and a new flat on dithered ``_cal`` images."""

    aperture_radius: float = option(4.0, "radius of the photometry aperture", unit="pixel", group=_PHOT)
    annulus_inner: float = option(8.0, "inner radius of the local-background annulus", unit="pixel", group=_PHOT)
    annulus_outer: float = option(14.0, "outer radius of the local-background annulus", unit="pixel", group=_PHOT)
    detect_sigma: float = option(10.0, "detection threshold of the photometry sources above the background",
                                 unit="sigma", group=_PHOT)
    detect_npixels: int = option(5, "connected pixels that make a photometry source", unit="pixel", group=_PHOT)
    match_radius: float = option(1.5, "detections of one source in two pointings lie closer than this on the sky",
                                 unit="pixel", group=_PHOT)
    min_pointings: int = option(3, "pointings a source needs to have its scatter measured", unit="image",
                                group=_PHOT)
    smooth_sigma: float = option(4.0, "Gaussian smoothing of the images shown as in report Fig. 3", unit="pixel",
                                 section="008304 sec. 3.2", group=_BKG)
    mask_dilate: int = option(2, "grow the source mask of the background measures by this many pixels",
                              unit="pixel", group=_BKG)
    sigma: float = option(3.0, "clipping threshold of the image normalisation", unit="sigma",
                          section="008304 sec. 3.1", group=_BKG)
    maxiters: int = option(5, "clipping iterations of the image normalisation", section="008304 sec. 3.1",
                           group=_BKG)
    figures: bool = option(True, "skip the PNG figures", flag="--no-figures")
    checksums: bool = option(True, "do not record the inputs' SHA-256 in the provenance", flag="--no-checksums")

    def __post_init__(self) -> None:
        if not 0 < self.aperture_radius < self.annulus_inner < self.annulus_outer:
            raise ValueError("need 0 < --aperture-radius < --annulus-inner < --annulus-outer (got "
                             f"{self.aperture_radius:g}, {self.annulus_inner:g}, {self.annulus_outer:g})")
        if self.min_pointings < 2:
            raise ValueError(f"--min-pointings must be at least 2 (got {self.min_pointings})")
        if self.detect_sigma <= 0 or self.match_radius <= 0 or self.smooth_sigma < 0:
            raise ValueError("--detect-sigma and --match-radius must be positive, --smooth-sigma not negative")
