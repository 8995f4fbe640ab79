"""The Gain tab's Qt-free state: run checks, the preview queue, stale previews, region files."""

from types import SimpleNamespace

import numpy as np

from nircam_gui.core.regionsio import read_polygons
from nircam_gui.gui.gain.state import GainState, PreviewQueue, regions_for_run, same_grid


def _grid(labels):
    labels = np.asarray(labels)
    return SimpleNamespace(labels=labels, nbox=int(labels.max()))


def test_preview_queue_collapses_requests():
    q = PreviewQueue()
    assert q.request() is True  # starts
    assert q.request() is False and q.request() is False  # queued, once
    assert q.finished() is True  # the queued one starts next
    assert q.request() is True
    assert q.finished() is False and not q.inflight


def test_preview_verdicts_and_selection():
    state = GainState()
    a, b = _grid([[1, 1], [2, 2]]), _grid([[1, 2], [3, 4]])
    assert same_grid(a, _grid([[1, 1], [2, 2]])) and not same_grid(a, b)
    serial = state.result_serial
    state.set_result(SimpleNamespace(boxes=a))
    assert state.shape == (2, 2) and state.result_serial == serial + 1
    assert state.preview_verdict(b, serial) == "stale"  # asked for before the result
    assert state.preview_verdict(a, state.result_serial) == "result"
    assert state.preview_verdict(b, state.result_serial) == "changed"
    assert state.valid_selection([1, 2, 3]) == [1, 2]


def test_run_problems():
    state = GainState()
    assert "ramps" in state.run_problem([])
    state.check = SimpleNamespace(pairing_error="x.fits: integrations of different sizes")
    assert state.run_problem(["x.fits"]) == "x.fits: integrations of different sizes"
    state.check = SimpleNamespace(pairing_error="")
    assert state.run_problem(["x.fits"]) == ""


def test_regions_for_run(tmp_path):
    square = np.array([[10.0, 10.0], [40.0, 10.0], [40.0, 40.0], [10.0, 40.0]])
    assert regions_for_run([], None, False, tmp_path / "s.reg") is None
    saved = tmp_path / "voids.reg"
    saved.write_text("# Region file format: DS9\nimage\npolygon(11,11,41,11,41,41,11,41)\n")
    assert regions_for_run([square], str(saved), False, tmp_path / "s.reg") == str(saved)
    path = regions_for_run([square], str(saved), True, tmp_path / "s.reg")  # edited since saved
    assert path == str(tmp_path / "s.reg") and np.allclose(read_polygons(path)[0], square)


def test_export_boxes_and_draw_warning():
    state = GainState()
    assert state.draw_warning() == "" and state.export_boxes() is None
    state.set_result(SimpleNamespace(boxes=_grid([[1, 2], [3, 4]])))
    state.selection = [2, 4]
    assert "box grid" in state.draw_warning()
    assert state.export_boxes() is None  # the grid on screen is a preview, not the result's
    state.grid_is_result = True
    boxes = state.export_boxes()
    assert boxes == [2, 4] and boxes is not state.selection
