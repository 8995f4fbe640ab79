"""Inter-pixel capacitance kernels: the report's B1 kernel, inverses, variance factors.

Conventions
-----------
A JWST IPC reference file holds the *correction* kernel: the pipeline convolves the
data with it (``scipy.ndimage.convolve`` orientation, science pixels only, zero
padding). The *physical* kernel, which the detector applies to the charge, is its
convolution inverse. Kernels are indexed ``[dy, dx]`` with the centre in the middle.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = [
    "REPORT_B1_CORRECTION_KERNEL",
    "analytic_gain_factor",
    "apply_kernel",
    "invert_kernel",
    "physical_kernel",
    "variance_factor",
]

#: Correction kernel for NIRCam B1 from CV2 data (report JWST-STScI-004622, Eq. 2).
#: The report's corner exponents are illegible in the text; 1e-4 makes the kernel sum
#: to 1 to within 1e-4, as a charge-conserving kernel must.
REPORT_B1_CORRECTION_KERNEL = np.array(
    [
        [-2.6e-4, -0.0056, -2.8e-4],
        [-0.0072, 1.025, -0.0056],
        [-2.6e-4, -0.0056, -2.8e-4],
    ]
)


def invert_kernel(kernel: np.ndarray, size: int = 3, grid: int = 64) -> np.ndarray:
    """Convolution inverse of a small kernel, truncated to ``size`` x ``size``.

    The inverse is computed on a ``grid`` x ``grid`` periodic grid in Fourier space,
    then cut to the central ``size`` x ``size`` and renormalised to the original sum,
    so charge stays conserved. For NIRCam's ~0.6% coupling the truncated 3x3 inverse
    differs from the exact one by ~5e-5 per element.
    """
    k = np.asarray(kernel, dtype=float)
    ky, kx = k.shape
    padded = np.zeros((grid, grid))
    padded[:ky, :kx] = k
    padded = np.roll(padded, (-(ky // 2), -(kx // 2)), axis=(0, 1))
    inverse = np.real(np.fft.ifft2(1.0 / np.fft.fft2(padded)))
    inverse = np.roll(inverse, (size // 2, size // 2), axis=(0, 1))[:size, :size]
    return inverse * (1.0 / k.sum()) / inverse.sum()


def physical_kernel(correction_kernel: np.ndarray) -> np.ndarray:
    """The physical kernel of an IPC reference file's correction kernel, two pixels wider.

    The exact inverse of a 3x3 kernel has second-neighbour terms of order alpha^2;
    truncating it to 3x3 changes its sum of squares by ~3e-4 (a third of the
    difference between the exact and analytic factors), 5x5 by < 1e-6.
    """
    kc = np.asarray(correction_kernel, float)
    return invert_kernel(kc, size=kc.shape[0] + 2)


def variance_factor(physical_kernel: np.ndarray) -> float:
    """Exact factor by which a kernel scales white-noise variance: the sum of squares.

    A kernel normalised to unit sum leaves the mean alone, so a PTC through
    IPC-coupled data measures ``gain / variance_factor``.
    """
    k = np.asarray(physical_kernel, dtype=float)
    return float(np.sum(k**2) / np.sum(k) ** 2)


def analytic_gain_factor(correction_kernel: np.ndarray) -> float:
    """The report's first-order factor g_c / g = 1 - 2 (k_center - 1) (Eq. 1)."""
    k = np.asarray(correction_kernel, dtype=float)
    return float(1.0 - 2.0 * (k[k.shape[0] // 2, k.shape[1] // 2] - 1.0))


def apply_kernel(image: np.ndarray, kernel: np.ndarray, border: int = 4, out: np.ndarray | None = None) -> np.ndarray:
    """Convolve the science area of ``image`` (inside ``border``) with ``kernel``.

    Same orientation and edge treatment as the jwst IPC step: true convolution, pixels
    outside the science area count as zero and are left unchanged.
    """
    out = np.array(image, copy=True) if out is None else out
    sl = (slice(border, image.shape[-2] - border), slice(border, image.shape[-1] - border))
    out[sl] = ndimage.convolve(image[sl], np.asarray(kernel, dtype=image.dtype), mode="constant", cval=0.0)
    return out
