"""Even/odd column correction and the reference-pixel (bias drift) correction.

Both follow jwst's ``RefPixStep`` for NIR full frames (``jwst.refpix.reference_pixels``)
so that they can be tested against it:

* even/odd (report 004622, 3.2): per amplifier, the 3-sigma iteratively clipped mean
  (``scipy.stats.sigmaclip``) of the top and of the bottom reference rows, separately
  for even and odd columns, pixels with DO_NOT_USE left out; the top and bottom means
  are averaged and subtracted from every row of those columns. This is jwst's
  top/bottom correction with ``odd_even_columns=True``; the report does not say
  whether it pooled top and bottom rows, and averaging the two means keeps the step
  identical to the pipeline's.
* bias drift (the "bias_drift" of the report, jwst refpix): the same top/bottom
  correction, then the side reference columns: a running median over
  ``side_smoothing_length`` rows of the left 4 and of the right 4 columns (edges
  reflected, DO_NOT_USE left out), the two averaged and subtracted, times
  ``side_gain``, from every pixel of the row.

jwst works in detector orientation; in DMS orientation a NIRCam frame is the
detector frame flipped in x and/or y, which maps each (amplifier, column parity) set
and each row window onto itself, so the results are the same.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..detector import REF_BORDER, amplifier_bounds
from ..dq import DO_NOT_USE

__all__ = ["clipped_mean", "even_odd_offsets", "side_reference_signal", "subtract_even_odd", "correct_refpix"]


def clipped_mean(values: np.ndarray, dq: np.ndarray, sigma: float = 3.0) -> float | None:
    """Iterative ``sigma`` clipped mean of ``values`` whose ``dq`` lacks DO_NOT_USE.

    Same as jwst's ``Dataset.sigma_clip``: ``scipy.stats.sigmaclip`` to convergence;
    ``None`` when no pixel is usable.
    """
    good = (dq & DO_NOT_USE) == 0
    v = values[good]
    if v.size == 0:
        return None
    if np.std(v, dtype=np.float64) != 0.0:
        from scipy import stats  # only the step-by-step engine clips here: keep scipy.stats out of start-up

        clipped, _, _ = stats.sigmaclip(v, sigma, sigma)
        return clipped.mean()
    return v.mean(dtype=np.float64)


def _average(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return 0.5 * (a + b)


def even_odd_offsets(group: np.ndarray, pixeldq: np.ndarray, sigma: float = 3.0,
                     border: int = REF_BORDER) -> np.ndarray:
    """Reference level of each amplifier and column parity, shape ``(4, 2)`` [even, odd].

    Parity is that of the 0-based DMS column index. NaN where no reference pixel is
    usable (the columns are then left alone, as in jwst).
    """
    ny, nx = group.shape
    out = np.full((4, 2), np.nan)
    top, bottom = slice(ny - border, ny), slice(0, border)
    for a, (x0, x1) in enumerate(amplifier_bounds(nx)):
        for p in (0, 1):
            cols = slice(x0 + p, x1, 2) if x0 % 2 == 0 else slice(x0 + 1 - p, x1, 2)
            means = [clipped_mean(group[rows, cols], pixeldq[rows, cols], sigma) for rows in (top, bottom)]
            m = _average(*means)
            out[a, p] = np.nan if m is None else m
    return out


def subtract_even_odd(group: np.ndarray, offsets: np.ndarray) -> None:
    """Subtract :func:`even_odd_offsets` from every row of each amplifier's columns, in place."""
    nx = group.shape[-1]
    for a, (x0, x1) in enumerate(amplifier_bounds(nx)):
        if np.isnan(offsets[a]).any():
            continue  # jwst leaves an amplifier alone unless both parities have a value
        for p in (0, 1):
            cols = slice(x0 + p, x1, 2) if x0 % 2 == 0 else slice(x0 + 1 - p, x1, 2)
            # float64 subtraction then cast, as jwst does (float32 array - Python float)
            group[:, cols] = group[:, cols] - offsets[a, p]


def _reflect(data: np.ndarray, half: int) -> np.ndarray:
    # jwst create_reflected: mirror without repeating the edge row
    return np.concatenate([data[half:0:-1], data, data[-2:-(half + 2):-1]], axis=0)


def side_reference_signal(group: np.ndarray, pixeldq: np.ndarray, smoothing_length: int = 11,
                          border: int = REF_BORDER) -> np.ndarray:
    """Per-row reference signal from the side columns, shape ``(ny,)``, float64.

    Running median over ``smoothing_length`` rows of the ``border`` left and right
    reference columns (each side separately), then the average of the two sides
    (one side alone where the other has no usable pixel, 0 where neither has).
    """
    if smoothing_length % 2 == 0:
        smoothing_length += 1
    half = smoothing_length // 2
    sides = []
    for cols in (slice(0, border), slice(group.shape[1] - border, group.shape[1])):
        data = _reflect(group[:, cols], half)
        bad = _reflect((pixeldq[:, cols] & DO_NOT_USE) != 0, half)
        win = sliding_window_view(data, smoothing_length, axis=0)  # (ny, border, L)
        win = win.reshape(win.shape[0], -1)
        if bad.any():
            wbad = sliding_window_view(bad, smoothing_length, axis=0).reshape(win.shape[0], -1)
            w = np.where(wbad, np.nan, win)
            with np.errstate(all="ignore"), _no_warnings():
                med = np.nanmedian(w, axis=1).astype(np.float64)
        else:
            med = np.median(win, axis=1).astype(np.float64)
        sides.append(med)
    left, right = sides
    out = np.where(np.isnan(left), right, np.where(np.isnan(right), left, 0.5 * (left + right)))
    return np.nan_to_num(out, nan=0.0)


class _no_warnings:
    def __enter__(self):
        import warnings

        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def correct_refpix(group: np.ndarray, pixeldq: np.ndarray, use_side: bool = True, sigma: float = 3.0,
                   smoothing_length: int = 11, side_gain: float = 1.0, border: int = REF_BORDER) -> None:
    """jwst RefPixStep on one group in place (``odd_even_columns=True``)."""
    subtract_even_odd(group, even_odd_offsets(group, pixeldq, sigma, border))
    if use_side:
        side = side_reference_signal(group, pixeldq, smoothing_length, border)
        group -= (side_gain * side)[:, None].astype(group.dtype)
