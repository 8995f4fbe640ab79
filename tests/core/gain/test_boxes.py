import numpy as np
import pytest

from nircam_gui.core.gain.boxes import make_boxes
from nircam_gui.core.detector import amplifier_index
from nircam_gui.core.regionsio import polygons_mask
from nircam_gui.core.simulate.fields import epoxy_void_polygon


@pytest.mark.parametrize("size,expected", [(128, 256), (256, 64), (512, 16)])
def test_plain_grid(size, expected):
    g = make_boxes((2048, 2048), size)
    assert g.nbox == expected
    assert g.labels[:4].max() == 0 and g.labels[:, -4:].max() == 0  # no reference pixels
    assert set(g.table["region"]) == {"normal"}
    assert (np.bincount(g.labels.ravel())[0]) == 2048**2 - 2040**2


def _amp_of_box(g):
    amp = np.broadcast_to(amplifier_index(g.labels.shape[1])[None, :], g.labels.shape)
    out = {}
    for b in range(1, g.nbox + 1):
        a = np.unique(amp[g.labels == b])
        out[b] = a
    return out


def test_epoxy_boxes_never_cross_amplifiers_and_small_pieces_merge():
    rng = np.random.default_rng(1)
    void = polygons_mask([epoxy_void_polygon(rng, 2048)], (2048, 2048))
    g = make_boxes((2048, 2048), 128, void_mask=void)
    for b, amps in _amp_of_box(g).items():
        assert amps.size == 1, f"box {b} crosses amplifiers"
    t = g.table
    epoxy = t[t["region"] == "epoxy"]
    assert set(epoxy["amp"]) == {2, 3}  # the void straddles sectors 2 and 3
    assert epoxy["npix"].sum() == void.sum()
    # every piece below half a nominal box has been joined to a neighbour of its kind
    small = t[t["npix"] < 0.5 * 128 * 128]
    assert len(small) == 0
    # void pixels only in epoxy boxes, and epoxy boxes only hold void pixels
    region = np.asarray(t["region"])
    lab = g.labels
    assert np.all(region[lab[void] - 1] == "epoxy")
    assert not np.any(void[(lab > 0) & (region[np.maximum(lab, 1) - 1] == "epoxy")] == False)  # noqa: E712


def test_excluded_pixels_and_table_bounds():
    exclude = np.zeros((512, 512), bool)
    exclude[100, 100] = exclude[300, 50] = True
    g = make_boxes((512, 512), 64, exclude=exclude)
    assert g.labels[100, 100] == 0 and g.labels[300, 50] == 0
    row = g.table[g.labels[200, 200] - 1]
    assert row["xmin"] <= 200 <= row["xmax"] and row["ymin"] <= 200 <= row["ymax"]
    assert row["npix"] == (g.labels == row["box_id"]).sum()
