"""Scattered light for simulated ``_cal`` images: wisps and claws (JWST-STScI-008304 sections 3.5-3.6).

Both are additive light: they reach the pixels like the sky does, so in a ``_cal`` image
calibrated with the ground flat they appear as ``(sky + wisp + claws) x delta flat``.

*Wisp* (light off the secondary-mirror support): one fixed detector-space template
``T`` (peak 1) per detector, at the top middle of A3 and B4 and the bottom middle of A4
and B3 (report Figs. 6 and 9), a curved ridge over a diffuse lobe. Its strength relative
to the sky varies from image to image with filter (stronger at redder wavelengths, report
section 3.5) and pointing: image *i* gets ``sky_i * a_i * T``.

*Claws* (stray starlight through rogue paths): a few thin concentric arcs whose position
and orientation depend on the pointing, present in a few images only (report Fig. 10).
"""

from __future__ import annotations

import numpy as np

from ..detector import FULL_SIZE

__all__ = ["WISP_SIDE", "claw_image", "wisp_amplitudes", "wisp_filter_factor", "wisp_template"]

#: where the wisp sits on the detectors that show one (report Figs. 6 and 9)
WISP_SIDE = {"NRCA3": "top", "NRCB4": "top", "NRCA4": "bottom", "NRCB3": "bottom"}

#: strength relative to F200W: the wisps grow towards the red (report section 3.5)
_FILTER_FACTOR = {"F070W": 0.35, "F090W": 0.45, "F115W": 0.6, "F150W": 0.75, "F162M": 0.8, "F182M": 0.9,
                  "F200W": 1.0, "F210M": 1.05}


def wisp_filter_factor(filt: str) -> float:
    """Wisp strength of a filter relative to F200W (1 for filters not listed)."""
    return float(_FILTER_FACTOR.get(filt.upper(), 1.0))


def wisp_template(size: int, detector: str) -> np.ndarray:
    """The wisp's detector-space template, peak 1, float32 (``size`` x ``size``, full-frame layout).

    A bright curved ridge (Gaussian cross-section, ~45 px wide at full frame) concentric
    with a fainter second ridge, over a diffuse lobe that fades ~600 px into the detector;
    zero far from the edge. Mirrored top/bottom by :data:`WISP_SIDE` (bottom for detectors
    not listed); sizes scale with the frame.
    """
    s = size / FULL_SIZE
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    if WISP_SIDE.get(detector.upper(), "bottom") == "top":
        yy = (size - 1) - yy
    # arcs centred below the frame edge, so they bow into the detector
    cx, cy = 1000.0 * s, -700.0 * s
    r = np.hypot(xx - cx, yy - cy)
    ang = np.arctan2(xx - cx, yy - cy)  # 0 straight up
    taper = np.exp(-0.5 * (ang / 0.45) ** 4)  # ridges fade out sideways
    ridge = np.exp(-0.5 * ((r - 1080.0 * s) / (22.0 * s)) ** 2) * taper
    ridge2 = 0.5 * np.exp(-0.5 * ((r - 1230.0 * s) / (14.0 * s)) ** 2) * np.exp(-0.5 * (ang / 0.3) ** 4)
    lobe = 0.45 * np.exp(-0.5 * (((xx - 1080.0 * s) / (330.0 * s)) ** 2 + (yy / (260.0 * s)) ** 2))
    t = ridge + ridge2 + lobe
    t[t < 1e-4] = 0.0
    return (t / t.max()).astype(np.float32)


def wisp_amplitudes(rng: np.random.Generator, n: int, level: float, ratio: float, filt: str) -> np.ndarray:
    """Peak wisp strengths relative to the sky for ``n`` images of one filter.

    Log-spaced from ``level / sqrt(ratio)`` to ``level * sqrt(ratio)`` (times the filter's
    factor) and shuffled: the pointings of one filter span exactly ``ratio`` in strength.
    """
    if n == 1 or ratio <= 1:
        amps = np.full(n, level)
    else:
        amps = level * np.exp(np.linspace(-0.5, 0.5, n) * np.log(ratio))
    return rng.permutation(amps * wisp_filter_factor(filt))


def claw_image(rng: np.random.Generator, size: int, amplitude: float) -> np.ndarray:
    """One pointing's claws: 3-4 thin concentric arcs at a random place and angle, peak ``amplitude``.

    In units of the sky (``sky * claw_image`` is the light added); float32.
    """
    s = size / FULL_SIZE
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    # the arcs' common centre lies off the detector, beyond a random edge
    phi = rng.uniform(0, 2 * np.pi)
    dist = rng.uniform(1150, 1500) * s
    cx, cy = size / 2 + dist * np.cos(phi), size / 2 + dist * np.sin(phi)
    r = np.hypot(xx - cx, yy - cy)
    ang = np.arctan2(yy - cy, xx - cx) - (phi + np.pi)
    ang = (ang + np.pi) % (2 * np.pi) - np.pi
    out = np.zeros((size, size))
    r0 = dist - rng.uniform(250, 450) * s
    for k in range(int(rng.integers(3, 5))):
        rk = r0 - k * rng.uniform(60, 110) * s
        width = rng.uniform(6, 12) * s + 0.8
        half = rng.uniform(0.12, 0.22)
        centre = rng.uniform(-0.1, 0.1)
        out += rng.uniform(0.5, 1.0) * np.exp(-0.5 * ((r - rk) / width) ** 2) \
            * np.exp(-0.5 * ((ang - centre) / half) ** 4)
    peak = out.max()
    return (amplitude * out / peak).astype(np.float32) if peak > 0 else out.astype(np.float32)
