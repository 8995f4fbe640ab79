import numpy as np
import pytest
from scipy import ndimage

from nircam_gui.core.ipc import (
    REPORT_B1_CORRECTION_KERNEL,
    analytic_gain_factor,
    apply_kernel,
    invert_kernel,
    variance_factor,
)


def test_report_factor_is_095():
    assert analytic_gain_factor(REPORT_B1_CORRECTION_KERNEL) == pytest.approx(0.95)


def test_inverse_kernel_undoes_the_correction():
    phys = invert_kernel(REPORT_B1_CORRECTION_KERNEL)
    delta = np.zeros((15, 15))
    delta[7, 7] = 1
    back = ndimage.convolve(ndimage.convolve(delta, phys), REPORT_B1_CORRECTION_KERNEL)
    assert np.abs(back - delta).max() < 3e-4
    assert phys[1, 1] == pytest.approx(0.9759, abs=1e-3)


def test_variance_factor_of_white_noise():
    """The exact factor is the sum of squares: check it on noise."""
    phys = invert_kernel(REPORT_B1_CORRECTION_KERNEL)
    rng = np.random.default_rng(1)
    z = rng.standard_normal((1024, 1024))
    out = apply_kernel(z, phys, border=0)
    assert out.var() / z.var() == pytest.approx(variance_factor(phys), rel=3e-3)
    # first-order and exact differ by a few tenths of a per cent at NIRCam's coupling
    assert abs(variance_factor(phys) - 0.95) < 0.005


def test_apply_kernel_leaves_border_alone():
    img = np.ones((16, 16))
    out = apply_kernel(img, REPORT_B1_CORRECTION_KERNEL)
    assert (out[:4] == 1).all() and (out[:, -4:] == 1).all()
