"""How much of a Gaussian's variance sigma clipping keeps, for every clipped statistic.

Clipping at ``k`` sigma removes the tails, so the variance of the kept values is biased
low. Each pass keeps ``T(t) = 1 - 2 t phi(t) / (2 Phi(t) - 1)`` of the variance (a
Gaussian truncated at +-t sigma), with ``t = k sqrt(r)`` from the previous estimate ``r``:
0.97334 after one pass and 0.96995 iterated to convergence, for k = 3. The gain's box
statistics and the sky-flat stack combine both correct by this one function.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["clip_variance_factor"]


def clip_variance_factor(nsigma: float = 3.0, iterations: int | None = None) -> float:
    """Fraction of a Gaussian's variance that ``nsigma`` clipping keeps.

    Parameters
    ----------
    nsigma : float
        Clipping limit in units of the current standard deviation estimate.
    iterations : int, optional
        Number of clipping passes, each starting from the previous estimate (the
        first from the true sigma). None: iterated to convergence.
    """

    def truncated(t: float) -> float:
        # phi(t) and 2 Phi(t) - 1 = erf(t / sqrt 2) from math: scipy.stats costs ~1 s of start-up
        pdf = math.exp(-0.5 * t * t) / math.sqrt(2.0 * math.pi)
        return 1.0 - 2.0 * t * pdf / math.erf(t / math.sqrt(2.0))

    r = 1.0
    for i in range(10_000 if iterations is None else iterations):
        new = truncated(nsigma * np.sqrt(r))
        if iterations is None and abs(new - r) < 1e-14:
            return float(new)
        r = new
    return float(r)
