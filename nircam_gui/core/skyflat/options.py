"""Options of the sky-flat analysis: one documented schema (JWST-STScI-008304 section 3).

Each field is declared once with :func:`~nircam_gui.core.options.option`; ``nircam-skyflat``,
the Sky-flat tab's defaults and every product's provenance are made from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..crdskeys import check_delivery, delivery_option
from ..options import option
from .largescale import FIT_METHODS

__all__ = ["SkyflatOptions"]

COMBINE_METHODS = ("bottleneck", "astropy")
ADDITIVE_METHODS = ("separate", "plain")
_MASK = "source mask (report: 3x3 Gaussian, 4 pixels, 1 sigma)"


@dataclass
class SkyflatOptions:
    """Every choice of the sky-flat method; defaults are the report's (JWST-STScI-008304 section 3)."""

    n_sigma: float = option(1.0, "detection threshold above the background", unit="sigma", section="008304 sec. 3.1",
                            flag="--nsigma", group=_MASK)
    n_pixels: int = option(4, "connected pixels that make a source", unit="pixel", section="008304 sec. 3.1",
                           flag="--npixels", group=_MASK)
    kernel_fwhm: float = option(3.0, "FWHM of the Gaussian smoothing kernel", unit="pixel",
                                section="008304 sec. 3.1", group=_MASK)
    kernel_size: int = option(3, "size of the smoothing kernel", unit="pixel", section="008304 sec. 3.1", group=_MASK)
    dilate: int = option(0, "grow the source mask by this many pixels", unit="pixel", group=_MASK)
    box_size: int = option(64, "box of the 2-D background estimate under the sources", unit="pixel", group=_MASK)
    sigma: float = option(3.0, "clipping threshold of the normalisation and the stack median", unit="sigma",
                          section="008304 sec. 3.1")
    maxiters: int = option(5, "clipping iterations of the normalisation and the stack median",
                           section="008304 sec. 3.1")
    fit: str | None = option(None, "large-scale fit (default poly3 for SW, median for LW)", choices=FIT_METHODS,
                             section="008304 sec. 3.2")
    fit_bin: int = option(32, "pixels per bin of the low-resolution grid of the large-scale fit", unit="pixel",
                          section="008304 sec. 3.2")
    median_filter: int = option(8, "median-filter size on the low-resolution grid (median fit)", unit="bin",
                                section="008304 sec. 3.2")
    dead_threshold: float = option(0.8, "grey delta below this is a new dead pixel", section="008304 sec. 3.4")
    min_coverage: int = option(3, "images a pixel needs to be judged dead", unit="image")
    cluster_link: int = option(3, "dead pixels closer than this join one concentration", unit="pixel")
    cluster_min_npix: int = option(20, "dead pixels that make a concentration", unit="pixel")
    additive: str = option("separate", "scattered light (wisps, claws): 'separate' fits the additive part "
                           "(template x per-image amplitude, claw regions per image) and removes it before the "
                           "combine; 'plain' is the report's method, which leaves it in the delta flat",
                           choices=ADDITIVE_METHODS, section="008304 sec. 3.5-3.6")
    additive_bin: int = option(16, "block size of the additive-light fit", unit="pixel", section="008304 sec. 3.5")
    combine_method: str = option("bottleneck", "sigma-clipped stack median implementation", flag="--combine",
                                 choices=COMBINE_METHODS)
    figures: bool = option(True, "skip the PNG figures", flag="--no-figures")
    checksums: bool = option(True, "do not record the inputs' SHA-256 in the provenance", flag="--no-checksums")
    author: str = delivery_option("author")
    useafter: str | None = delivery_option("useafter")
    pedigree: str | None = delivery_option("pedigree", help_extra=" (default: INFLIGHT, the first and last exposure "
                                                                  "dates of the images)")
    descrip: str | None = delivery_option("descrip")
    history: str | None = delivery_option("history")

    def __post_init__(self) -> None:
        if not 0.0 < self.dead_threshold < 1.0:
            raise ValueError(f"--dead-threshold must be between 0 and 1 (got {self.dead_threshold:g})")
        if self.fit is not None and self.fit not in FIT_METHODS:
            raise ValueError(f"large-scale fit {self.fit!r}: use one of {', '.join(FIT_METHODS)}")
        if self.additive not in ADDITIVE_METHODS:
            raise ValueError(f"additive {self.additive!r}: use one of {', '.join(ADDITIVE_METHODS)}")
        if self.additive_bin < 2:
            raise ValueError(f"--additive-bin must be at least 2 (got {self.additive_bin})")
        if self.combine_method not in COMBINE_METHODS:
            raise ValueError(f"combine method {self.combine_method!r}: use one of {', '.join(COMBINE_METHODS)}")
        self.author, self.useafter, self.pedigree = check_delivery(self.author, self.useafter, self.pedigree)
