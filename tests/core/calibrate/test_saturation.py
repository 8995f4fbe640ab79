import numpy as np
import pytest
from scipy import ndimage

from nircam_gui.core.calibrate.saturation import grow_flags


@pytest.mark.parametrize("n", [1, 2, 3])
def test_grow_flags_is_the_square_dilation_with_edges(n):
    rng = np.random.default_rng(n)
    mask = rng.random((97, 130)) < 0.02
    mask[0, 0] = mask[-1, -1] = mask[0, -1] = True  # corners: the box is cut at the edges, not wrapped
    ref = ndimage.maximum_filter(mask, size=2 * n + 1, mode="constant", cval=0)
    got = grow_flags(mask, n)
    np.testing.assert_array_equal(got, ref)


def test_grow_flags_leaves_the_input_alone():
    mask = np.zeros((8, 8), bool)
    mask[4, 4] = True
    out = grow_flags(mask, 1)
    assert mask.sum() == 1 and out.sum() == 9
    assert grow_flags(mask, 0) is mask


def test_flagger_thresholds_with_and_without_copies():
    from nircam_gui.core.calibrate.saturation import ATOD_LIMIT, NO_SAT_CHECK, SaturationFlagger

    thr = np.full((6, 8), 30000.0, np.float32)
    thr[1, 2] = np.nan
    dq = np.zeros((6, 8), np.uint32)
    dq[3, 4] = NO_SAT_CHECK
    kept = SaturationFlagger(thr, dq)
    np.testing.assert_array_equal(thr[1, 2], np.nan)  # the caller's arrays are left alone
    assert dq[1, 2] == 0
    owned = SaturationFlagger(thr, dq, copy=False)
    for f in (kept, owned):
        assert f.threshold[1, 2] == f.threshold[3, 4] == np.float32(ATOD_LIMIT + 1)
        assert f.threshold[0, 0] == np.float32(30000.0)
        assert f.ref_dq[1, 2] == f.ref_dq[3, 4] == NO_SAT_CHECK
    np.testing.assert_array_equal(kept.threshold, owned.threshold)
    assert owned.threshold is thr and owned.ref_dq is dq  # read from a file: kept, not copied
