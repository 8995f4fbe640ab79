"""Spatial truth fields shared by the simulators: smooth maps, epoxy voids, bad pixels."""

from __future__ import annotations

import numpy as np

from ..detector import FULL_SIZE

__all__ = ["epoxy_void_polygon", "legendre_field", "random_pixels"]


def legendre_field(shape: tuple[int, int], coeffs: np.ndarray) -> np.ndarray:
    """Smooth 2-D field ``sum c[i, j] P_i(y') P_j(x')`` on coordinates scaled to [-1, 1].

    Evaluated as an outer product of 1-D polynomials, so a full frame costs a few ms.
    """
    ny, nx = shape
    y = np.linspace(-1, 1, ny)
    x = np.linspace(-1, 1, nx)
    py = np.polynomial.legendre.legvander(y, coeffs.shape[0] - 1)  # (ny, i)
    px = np.polynomial.legendre.legvander(x, coeffs.shape[1] - 1)  # (nx, j)
    return (py @ coeffs @ px.T).astype(np.float32)


def epoxy_void_polygon(rng: np.random.Generator, size: int = FULL_SIZE, n_vertices: int = 18) -> np.ndarray:
    """An irregular blob at the bottom centre straddling amplifiers 2 and 3.

    Matches report 004622 (section 5.1): the voids of A4, ALONG, B1 and B4 sit at the
    bottom centre across the sector 2/3 boundary and cover 6-8 boxes of 128x128 px.

    Returns
    -------
    ndarray, shape (n_vertices, 2)
        0-based ``(x, y)`` vertices.
    """
    s = size / FULL_SIZE
    cx, cy = 1024 * s + rng.normal(0, 20 * s), 330 * s + rng.normal(0, 20 * s)
    ax, ay = 250 * s, 160 * s
    t = np.linspace(0, 2 * np.pi, n_vertices, endpoint=False)
    # a few low harmonics make the outline irregular but not self-intersecting
    r = 1 + sum(rng.uniform(-0.08, 0.08) * np.cos(k * t + rng.uniform(0, 2 * np.pi)) for k in (2, 3, 5))
    return np.column_stack([cx + ax * r * np.cos(t), cy + ay * r * np.sin(t)])


def random_pixels(rng: np.random.Generator, shape: tuple[int, int], fraction: float, border: int) -> np.ndarray:
    """Boolean mask of ``fraction`` of the science pixels chosen at random."""
    ny, nx = shape
    n = int(round(fraction * (ny - 2 * border) * (nx - 2 * border)))
    mask = np.zeros(shape, dtype=bool)
    if n:
        ys = rng.integers(border, ny - border, n)
        xs = rng.integers(border, nx - border, n)
        mask[ys, xs] = True
    return mask
