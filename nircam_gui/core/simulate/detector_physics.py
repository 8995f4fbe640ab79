"""Detector effects of the flat simulator beyond shot and white read noise.

* Brighter-fatter effect (BFE): collected charge changes the effective collecting area of
  a pixel and its neighbours. The area of pixel ``x`` is ``1 + sum_l a_l Q(x + l)`` with
  ``Q`` the charge (electrons) already collected; ``a_00 < 0``, the neighbours positive,
  and ``sum_l a_l = 0`` so a flat field keeps its mean. Astier et al. (2019, eq. 20) give
  what this does to a flat: ``C_00 = mu/g + a_00 mu^2 + ...`` and ``C_l = a_l mu^2 + ...``
  (ADU, ``mu`` the mean).
* 1/f read noise per amplifier, correlated along the pixel read order (rows within an
  amplifier, the fast direction alternating between amplifiers), and alternating-column
  noise (a 1/f series whose sign alternates with the column parity), after the
  generator of Rauscher et al. (2015, NGHXRG).

Kernels and matrices are indexed ``[dy, dx]``; the a-matrix quadrant ``a[j, i]`` is the
coefficient at lag ``(dx, dy) = (i, j)`` (``a_10`` is the neighbour along a row).
"""

from __future__ import annotations

import numba
import numpy as np
from scipy import fft as sp_fft

__all__ = ["bfe_kernel", "bfe_area", "bfe_step", "pink_noise_frame", "NIRCAM_BFE_A00"]

#: Default centre coefficient (1/e-). With ``adu_per_group`` = 1,100 and gains ~2.3
#: e-/ADU, the report's straight-line fit then rises by ~+0.3% at a 10,000 ADU signal
#: limit and ~+0.6% at 15,000 relative to 5,000, as report 004622 Table 3 found.
NIRCAM_BFE_A00 = -2.6e-7

# shape of the kernel relative to |a_00| on the quadrant (dy, dx) = 0..2: nearest
# neighbours carry most of the sum rule, a slightly stronger coupling along rows
_SHAPE = np.array([
    [-1.0, 0.20, 0.020],
    [0.17, 0.035, 0.005],
    [0.015, 0.005, 0.002],
])


def _full_from_quadrant(q: np.ndarray) -> np.ndarray:
    r = q.shape[0]
    k = np.zeros((2 * r - 1, 2 * r - 1))
    for j in range(r):
        for i in range(r):
            for sy in (-1, 1):
                for sx in (-1, 1):
                    k[r - 1 + sy * j, r - 1 + sx * i] = q[j, i]
    return k


def bfe_kernel(a00: float = NIRCAM_BFE_A00, shape: np.ndarray | None = None) -> np.ndarray:
    """The 5x5 BFE kernel (1/e-) with centre ``a00`` and neighbours scaled so the sum is zero.

    Parameters
    ----------
    a00 : float
        Centre coefficient, negative (1/e-).
    shape : ndarray, shape (3, 3), optional
        Quadrant ``[dy, dx]`` of relative coefficients; the centre is replaced by -1 and
        the others rescaled so the full kernel sums to zero.
    """
    q = np.array(_SHAPE if shape is None else shape, dtype=float)
    q[0, 0] = 0.0
    full = _full_from_quadrant(q)
    q *= 1.0 / full.sum()
    q[0, 0] = -1.0
    return _full_from_quadrant(q) * abs(a00)


@numba.njit(cache=True, nogil=True)
def _area_padded(qp, kernel, r, out):  # pragma: no cover - jitted
    """``out = 1 + kernel * q`` from ``qp``, the charge padded by ``r`` zeros on every side."""
    ny, nx = out.shape
    kn = 2 * r + 1
    for y in range(ny):
        for x in range(nx):
            out[y, x] = 1.0
        for j in range(kn):
            for i in range(kn):
                c = np.float32(kernel[j, i])
                row = qp[y + j]
                for x in range(nx):
                    out[y, x] += c * row[x + i]


def _padded(q: np.ndarray, r: int) -> np.ndarray:
    qp = np.zeros((q.shape[0] + 2 * r, q.shape[1] + 2 * r), np.float32)
    qp[r:-r, r:-r] = q
    return qp


def bfe_area(charge: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Relative collecting area ``1 + sum_l a_l Q(x + l)`` of every pixel (zero charge outside)."""
    kernel = np.asarray(kernel, np.float64)
    r = kernel.shape[0] // 2
    out = np.empty(charge.shape, np.float32)
    # correlation: the kernel is symmetric, so correlating is convolving
    _area_padded(_padded(np.asarray(charge, np.float32), r), kernel, r, out)
    return out


def bfe_step(charge: np.ndarray, rate: np.ndarray, sqrt_rate: np.ndarray, z: np.ndarray,
             kernel: np.ndarray) -> None:
    """Add one group of charge to ``charge`` (in place) with the area set by the charge.

    The area is taken at the middle of the group, from the charge before it plus half of
    this group's increment with its noise: an event early in the group then changes the
    collection of the rest of the group on average, as in continuous collection. Taking
    the charge at the start instead leaves the covariances short by a factor (n-1)/n
    after n groups.
    """
    kernel = np.asarray(kernel, np.float64)
    r = kernel.shape[0] // 2
    qp = np.zeros((charge.shape[0] + 2 * r, charge.shape[1] + 2 * r), np.float32)
    mid = qp[r:-r, r:-r]
    np.multiply(sqrt_rate, z, out=mid)
    mid += rate
    mid *= 0.5
    mid += charge
    area = np.empty(charge.shape, np.float32)
    _area_padded(qp, kernel, r, area)
    del qp, mid
    np.maximum(area, 0.0, out=area)
    charge += rate * area
    np.sqrt(area, out=area)
    area *= sqrt_rate
    area *= z
    charge += area


def _pink(rng: np.random.Generator, nseries: int, n: int) -> np.ndarray:
    """``nseries`` series of ``n`` samples with a 1/f power spectrum and unit rms.

    Drawn in Fourier space (complex Gaussian amplitudes scaled by f^-1/2, no DC term),
    then one inverse transform in single precision.
    """
    m = 1 << int(np.ceil(np.log2(max(n, 2))))
    f = np.fft.rfftfreq(m).astype(np.float32)
    f[0] = 1.0
    spec = rng.standard_normal((nseries, f.size), dtype=np.float32) + 1j * rng.standard_normal(
        (nseries, f.size), dtype=np.float32)
    spec *= 1.0 / np.sqrt(f)
    spec[:, 0] = 0.0
    series = sp_fft.irfft(spec, n=m, axis=1)[:, :n]
    series -= series.mean(axis=1, keepdims=True)
    series /= series.std(axis=1, keepdims=True)
    return series


def pink_noise_frame(rng: np.random.Generator, shape: tuple[int, int], amps: list[tuple[int, int]],
                     rms: float, acn_rms: float, overhead: int = 12) -> np.ndarray:
    """One frame of 1/f and alternating-column noise (ADU), one series per amplifier.

    Each amplifier reads its rows one after another (``overhead`` pixel times between
    rows), along +x for amplifiers 1 and 3 and -x for 2 and 4, as the H2RG's outputs
    alternate; the noise is a function of that read order.
    """
    ny, nx = shape
    out = np.zeros(shape, np.float32)
    w = max(x1 - x0 for x0, x1 in amps)
    n = ny * (w + overhead)
    for kind, level in (("pink", rms), ("acn", acn_rms)):
        if level <= 0:
            continue
        series = _pink(rng, len(amps), n) * level
        for a, (x0, x1) in enumerate(amps):
            block = series[a].reshape(ny, w + overhead)[:, : x1 - x0]
            if a % 2:
                block = block[:, ::-1]
            if kind == "acn":
                block = block * np.where(np.arange(x0, x1) % 2 == 0, 1.0, -1.0)
            out[:, x0:x1] += block.astype(np.float32)
    return out
