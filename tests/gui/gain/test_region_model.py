"""Region editing state without Qt: edits, undo/redo, exact DS9 round trip, atomic autosave."""

from __future__ import annotations

import numpy as np
import pytest

from nircam_gui.core.errors import NircamFileError
from nircam_gui.core.regionsio import read_polygons
from nircam_gui.gui.gain.region_model import RegionModel, ds9_round, simplify

TRIANGLE = np.array([[10.123456, 20.5], [100.333333, 20.1], [50.0, 80.777777]])


def test_ds9_round_is_idempotent_and_matches_the_file(tmp_path):
    v = ds9_round(np.random.default_rng(1).uniform(0, 2048, (50, 2)))
    assert np.array_equal(ds9_round(v), v)
    m = RegionModel()
    m.add_polygon(v)
    m.save(tmp_path / "r.reg")
    assert np.array_equal(read_polygons(tmp_path / "r.reg")[0], v)


def test_edits_undo_redo(tmp_path):
    changes = []
    m = RegionModel()
    m.subscribe(lambda: changes.append(len(m.polygons)))
    m.add_polygon(TRIANGLE)
    m.insert_vertex(0, 1, 80.0, 60.0)
    assert len(m.polygons[0]) == 4 and np.allclose(m.polygons[0][2], [80, 60])
    m.move_vertex(0, 0, 12.0, 22.0)
    assert np.array_equal(m.polygons[0][0], [12.0, 22.0])
    assert m.delete_vertex(0, 2)
    assert len(m.polygons[0]) == 3
    assert not m.delete_vertex(0, 0)  # a triangle keeps its vertices
    m.move_polygon(0, 5.0, -1.0)
    m.add_polygon(TRIANGLE + 300)
    m.delete_polygon(0)
    assert len(m.polygons) == 1 and np.allclose(m.polygons[0], ds9_round(TRIANGLE + 300))
    for _ in range(7):  # add, insert, move, delete vertex, move region, add, delete region
        assert m.undo()
    assert m.polygons == [] and not m.undo()
    assert m.redo() and np.allclose(m.polygons[0], ds9_round(TRIANGLE))
    assert m.redo() and len(m.polygons[0]) == 4
    m.clear()
    assert m.polygons == [] and m.undo_text() == "delete all regions"
    assert changes[-1] == 0 and len(changes) >= 10


def test_too_few_vertices_and_duplicates_are_refused():
    m = RegionModel()
    with pytest.raises(ValueError):
        m.add_polygon([[1, 1], [2, 2], [2, 2]])  # a double click's repeated vertex is dropped
    assert m.polygons == [] and not m.can_undo


def test_save_load_round_trip_is_exact(tmp_path):
    m = RegionModel()
    m.add_polygon(TRIANGLE)
    m.add_polygon(np.array([[500.5, 600.25], [700.0, 600.0], [700.0, 800.0], [500.0, 800.0]]))
    path = m.save(tmp_path / "voids.reg")
    assert not m.modified
    text = (tmp_path / "voids.reg").read_text()
    assert "image" in text and "polygon(11.1235,21.5000," in text  # 1-based in the file
    other = RegionModel()
    other.load(path)
    assert len(other.polygons) == 2
    for a, b in zip(m.polygons, other.polygons):
        assert np.array_equal(a, b)
    other.save(tmp_path / "again.reg")
    assert (tmp_path / "again.reg").read_text() == text


def test_load_error_keeps_the_regions(tmp_path):
    m = RegionModel()
    m.add_polygon(TRIANGLE)
    bad = tmp_path / "bad.reg"
    bad.write_text("image\ncircle(10,10,5)\n")
    with pytest.raises(NircamFileError, match="bad.reg"):
        m.load(bad)
    assert len(m.polygons) == 1


def test_autosave_after_every_change_and_restore(tmp_path, monkeypatch):
    auto = tmp_path / "data" / "regions-autosave.reg"
    m = RegionModel(auto)
    m.add_polygon(TRIANGLE)
    assert np.array_equal(read_polygons(auto)[0], m.polygons[0])
    m.move_vertex(0, 1, 90.0, 25.0)
    assert np.array_equal(read_polygons(auto)[0], m.polygons[0])
    # "crash": a new model restores exactly what was on screen
    restored = RegionModel(auto)
    assert restored.restore_autosave() == 1
    assert np.array_equal(restored.polygons[0], m.polygons[0])
    # the autosave is atomic: a failing write leaves the previous file whole
    before = auto.read_text()

    def broken_write(path, polygons, label="epoxy void"):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("nircam_gui.gui.gain.region_model.write_polygons", broken_write)
    m.move_vertex(0, 1, 95.0, 25.0)
    assert "No space left" in m.autosave_error and auto.read_text() == before
    monkeypatch.undo()
    m.delete_polygon(0)
    assert not auto.exists()  # nothing on screen, nothing to restore
    assert RegionModel(auto).restore_autosave() == 0


def test_simplify_keeps_the_shape_within_tolerance():
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    circle = np.column_stack([100 + 40 * np.cos(t), 100 + 40 * np.sin(t)])
    s = simplify(circle, 0.5)
    assert 10 < len(s) < 60
    # every dropped point lies within the tolerance of the simplified outline
    from matplotlib.path import Path

    outline = Path(np.vstack([s, s[:1]]))
    assert all(outline.contains_point(p, radius=1.0) or outline.contains_point(p, radius=-1.0) for p in circle)
    square = np.array([[0, 0], [5, 0.1], [10, 0], [10, 10], [0, 10]], float)
    assert len(simplify(square, 0.5)) == 4


def test_fits_void_mask_opens_as_editable_polygons(tmp_path):
    """A low-epoxy mask (non-zero = void) becomes polygons; they are saved beside it, never over it."""
    from astropy.io import fits

    from nircam_gui.core.regionsio import polygons_mask

    yy, xx = np.mgrid[:256, :256]
    mask = ((xx - 128) / 40.0) ** 2 + ((yy - 60) / 25.0) ** 2 < 1
    path = tmp_path / "nrcb1_low_epoxy.fits"
    fits.PrimaryHDU(mask.astype(np.uint8)).writeto(path)
    before = path.read_bytes()
    m = RegionModel()
    m.load(path)
    assert len(m.polygons) == 1 and m.modified and m.path == str(tmp_path / "nrcb1_low_epoxy.reg")
    assert np.count_nonzero(polygons_mask(m.polygons, mask.shape) != mask) <= 0.01 * mask.sum()
    first = m.polygons[0][0].copy()
    m.move_vertex(0, 0, *(first + 1.0))  # editable like drawn regions
    assert m.undo() and np.allclose(m.polygons[0][0], first)
    saved = m.save()
    assert saved.endswith(".reg") and path.read_bytes() == before
    assert len(read_polygons(saved)) == 1
