"""The Sky flat and Dead pixels tabs on a small simulated set (pytest-qt, offscreen)."""

import os

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from PySide6.QtCore import Qt

from skyflat_gui_helpers import load_and_run, wait_idle
from nircam_gui.core.skyflat.deadpix import find_dead_pixels
from nircam_gui.core.skyflat.products import write_skyflat_products
from nircam_gui.gui.skyflat.state import SkyflatSetup, scan_files


def test_scan_groups_images_and_references(sim_set):
    images, refs, problems = scan_files([sim_set])
    setup = SkyflatSetup()
    setup.add(images, refs)
    setup.add(images, refs)  # adding twice keeps each file once
    grouped = setup.grouped()
    assert set(grouped) == {"NRCA1", "NRCALONG"}
    assert {t: len(f) for t, f in grouped["NRCA1"].items()} == {"F150W": 4, "F200W": 4}
    assert {t: len(f) for t, f in grouped["NRCALONG"].items()} == {"F277W": 4, "F444W": 4}
    assert {(r.detector, r.token) for r in setup.flats} == {("NRCA1", "F150W"), ("NRCA1", "F200W"),
                                                            ("NRCALONG", "F277W"), ("NRCALONG", "F444W")}
    assert {r.detector for r in setup.masks} == {"NRCA1", "NRCALONG"}
    assert setup.problems() == [] and setup.warnings() == []
    setup.masks = []
    assert any("no ground MASK" in w for w in setup.warnings())
    cmd = setup.command_line("out")
    assert cmd.startswith("nircam-skyflat ") and "--ground-flat" in cmd and "-o out" in cmd


def test_setup_tree_and_options(qtbot, tabs, sim_set):
    window, sky, dead = tabs
    sky.setup.add_paths([sim_set])
    qtbot.waitUntil(lambda: not sky.setup.busy and len(sky.session.setup.images) == 16, timeout=30_000)
    top = sky.setup.tree.topLevelItem(0)
    assert top.text(0) == "Images (16)" and top.childCount() == 2
    assert [top.child(0).child(i).text(0) for i in range(2)] == ["F150W (4)", "F200W (4)"]
    assert sky.setup.run_button.isEnabled()
    sky.setup.option_widgets["dead_threshold"].setValue(0.7)
    sky.setup.fit_combo.setCurrentIndex(2)
    assert sky.session.setup.options.dead_threshold == 0.7 and sky.session.setup.options.fit == "median"
    assert "--dead-threshold 0.7" in sky.session.setup.command_line()
    sky.setup.tree.setCurrentItem(top.child(0))  # the NRCA1 group
    sky.setup.remove_selected()
    assert {c.detector for c in sky.session.setup.images} == {"NRCALONG"}


def test_run_products_backgrounds_and_masks(qtbot, tabs, sim_set, tmp_path):
    window, sky, dead = tabs
    res = load_and_run(qtbot, window, sky, sim_set)
    assert set(res.detectors) == {"NRCA1", "NRCALONG"}
    view = sky.detector_view
    names = view.views()
    for want in ("Filters", "Overview", "Grey delta flat", "Large-scale fit", "Coverage", "F150W delta flat",
                 "New flat F150W", "New flat F200W"):
        assert any(n.startswith(want) for n in names), want
    # Filters view: each filter's delta and the grey one over the fractional differences
    view.show_view("Filters")
    wait_idle(qtbot, window)
    titles = [s.title for s in view.grid.specs]
    assert titles == ["F150W delta", "F200W delta", "grey delta", "F150W / grey − 1",
                      "F200W / grey − 1"]
    frac = view.grid.specs[3].image
    s = res.detectors["NRCA1"]
    # the block-median ratio core computed (core.skyflat.filterdiff), drawn, not recomputed
    assert np.allclose(frac, s.filter_deltas["F150W"].filtdiff, equal_nan=True)
    assert view.grid.items[0].image is not None and view.grid.items[0].image.shape == (256, 256, 4)
    # the new flat shown is the one the writer puts in the FLAT file
    view.show_view("New flat F200W")
    wait_idle(qtbot, window)
    write_skyflat_products(res, tmp_path / "products")
    with fits.open(tmp_path / "products" / "flat_NRCA1_F200W.fits") as h:
        assert np.array_equal(view.grid.specs[0].image, h["SCI"].data, equal_nan=True)
    # source mask of one input image drawn over the coverage map
    view.show_view("Coverage")
    f = s.groups["F150W"][1]
    view.show_mask_of(f)
    wait_idle(qtbot, window)
    assert view.grid.overlay_items[0].isVisible()
    assert np.array_equal(view.grid._overlay, s.source_mask(f)) and 0 < view.grid._overlay.mean() < 0.9
    # readout: 1-based as in DS9
    text = view.grid.pixel_text(0, 10, 20)
    assert "x 11" in text and "y 21" in text and f"{s.coverage[20, 10]}" in text
    # backgrounds: one dot per image, the tables, predictions and their ratio
    bg = sky.backgrounds
    assert bg.n_points == 16 and bg.images_table.rowCount() == 16 and bg.summary_table.rowCount() == 4
    headers = [bg.summary_table.horizontalHeaderItem(i).text() for i in range(bg.summary_table.columnCount())]
    ratio_col = headers.index("measured / predicted")
    assert all(bg.summary_table.item(r, ratio_col).text() != "—" for r in range(4))
    assert sky.filter_table.rowCount() == 4
    assert window.last_error == ""


def test_dead_pixel_threshold_is_live_and_matches_the_engine(qtbot, tabs, sim_set):
    window, sky, dead = tabs
    res = load_and_run(qtbot, window, sky, sim_set, predictions=False)
    started = []
    window.runner.task_started.connect(lambda w: started.append(w.name))
    window.tabs.setCurrentWidget(dead)
    dead.detector_combo.setCurrentText("NRCALONG")
    s = res.detectors["NRCALONG"]
    for t in (0.5, 0.9, 0.8):
        dead.slider.setValue(int(round(t / 0.005)))
        assert dead.spin.value() == pytest.approx(t)
        ref = find_dead_pixels(s.grey, threshold=t, ground_dead=s.ground_dead, coverage=s.coverage, min_coverage=3)
        x, y = dead.scatter.getData()
        # drawn at once, before any worker has answered
        assert len(x) == int(ref.mask.sum())
        assert set(zip((x - 0.5).astype(int), (y - 0.5).astype(int))) == set(zip(*np.nonzero(ref.mask)[::-1]))
    assert "Sky flats" not in started  # the stack was not recomputed
    qtbot.waitUntil(lambda: dead.idle and dead.clusters_threshold == 0.8, timeout=30_000)
    assert len(dead.clusters) == len(res.detectors["NRCALONG"].clusters) >= 1
    assert {d: len(t) for d, t in dead.all_clusters.items()} == {d: x.n_clusters for d, x in res.detectors.items()}
    concentrations = {dead.counts_table.item(r, 0).text(): dead.counts_table.item(r, 3).text()
                      for r in range(dead.counts_table.rowCount())}
    assert concentrations == {d: str(x.n_clusters) for d, x in res.detectors.items()}
    assert dead.cluster_table.rowCount() == len(dead.clusters) == len(dead._circles)
    counts = {dead.counts_table.item(r, 0).text(): int(dead.counts_table.item(r, 2).text())
              for r in range(dead.counts_table.rowCount())}
    assert counts == {d: x.n_dead for d, x in res.detectors.items()}
    # clicking a concentration zooms to it
    dead.cluster_table.selectRow(0)
    c = dead.clusters[0]
    rect = dead.grid.view_rect()
    assert rect.contains(float(c["x"]), float(c["y"])) and rect.width() < 200
    # the white background of the report's figure keeps the grey delta in the readout
    dead.background_combo.setCurrentIndex(1)
    wait_idle(qtbot, window)
    assert f"{s.grey[5, 6]:.5g}" in dead.grid.pixel_text(0, 6, 5)


def test_export_equals_command_line(qtbot, tabs, sim_set, tmp_path):
    from nircam_gui.cli import skyflat as cli

    window, sky, dead = tabs
    load_and_run(qtbot, window, sky, sim_set)
    dead.set_threshold(0.7)
    with qtbot.waitSignal(sky.session.exported, timeout=60_000):
        sky.session.export(str(tmp_path / "gui"))
    code = cli.main([str(sim_set), "-o", str(tmp_path / "cli"), "--ground-flat", str(sim_set / "reference"),
                     "--ground-mask", str(sim_set / "reference"), "--dead-threshold", "0.7",
                     "--predictions", str(sim_set / "predictions.ecsv"), "-q"])
    assert code == 0
    gui_files = sorted(os.listdir(tmp_path / "gui"))
    assert gui_files == sorted(os.listdir(tmp_path / "cli"))
    compared = 0
    for name in gui_files:
        a, b = tmp_path / "gui" / name, tmp_path / "cli" / name
        if name.endswith(".ecsv"):
            ta, tb = Table.read(a), Table.read(b)
            assert ta.colnames == tb.colnames and len(ta) == len(tb), name
            for col in ta.colnames:
                va, vb = np.asarray(ta[col]), np.asarray(tb[col])
                assert np.array_equal(va, vb, equal_nan=va.dtype.kind == "f"), (name, col)
            compared += 1
        elif name.endswith(".fits"):
            with fits.open(a) as ha, fits.open(b) as hb:
                assert [h.name for h in ha] == [h.name for h in hb]
                for x, y in zip(ha, hb):
                    if x.is_image and x.data is not None:
                        assert np.array_equal(x.data, y.data, equal_nan=True), (name, x.name)
            compared += 1
    assert compared >= 20
    with fits.open(tmp_path / "gui" / "deadpix_NRCA1.fits") as h:
        assert h[0].header["DEADTHR"] == 0.7
    assert any(n.endswith(".png") for n in gui_files)


def test_cancel_keeps_nothing(qtbot, tabs, sim_set):
    window, sky, dead = tabs
    sky.setup.add_paths([sim_set])
    qtbot.waitUntil(lambda: not sky.setup.busy and len(sky.session.setup.images) == 16, timeout=30_000)
    with qtbot.waitSignal(sky.session.finished, timeout=60_000):
        sky.setup.run_button.click()
        assert sky.setup.cancel_button.isEnabled()
        sky.setup.cancel_button.click()
    assert sky.session.result is None
    assert sky.setup.run_button.isEnabled() and not sky.setup.cancel_button.isEnabled()
    assert not dead.export_button.isEnabled()


def test_errors_name_the_file(qtbot, tabs, sim_set, tmp_path):
    window, sky, dead = tabs
    bad = tmp_path / "broken_cal.fits"
    bad.write_bytes(b"not FITS at all")
    with qtbot.waitSignal(window.error, timeout=30_000) as blocker:
        sky.setup.add_paths([bad])
    assert str(bad) in blocker.args[0] and "Traceback" not in blocker.args[0]
    # a file that disappears before the run: the run's error names it
    import shutil

    gone = tmp_path / "gone_cal.fits"
    shutil.copy(sorted(sim_set.glob("*nrca1*_cal.fits"))[0], gone)
    sky.setup.add_paths([gone])
    qtbot.waitUntil(lambda: not sky.setup.busy and len(sky.session.setup.images) == 1, timeout=30_000)
    gone.unlink()
    with qtbot.waitSignal(window.error, timeout=60_000) as blocker:
        sky.setup.run_button.click()
    assert str(gone) in blocker.args[0] and "Traceback" not in blocker.args[0]
    wait_idle(qtbot, window)
    assert sky.session.result is None


def test_run_in_child_process(qtbot, tabs, sim_set):
    """The real set-up: the run in a child process, its result (with the kept masks) sent back."""
    window, sky, dead = tabs
    sky.session.in_process = True
    sky.setup.add_paths([sim_set / "reference"] + sorted(str(p) for p in sim_set.glob("*nrcalong*_cal.fits")))
    qtbot.waitUntil(lambda: not sky.setup.busy and len(sky.session.setup.images) == 8, timeout=30_000)
    with qtbot.waitSignal(sky.session.result_changed, timeout=180_000):
        sky.setup.run_button.click()
    s = sky.session.result.detectors["NRCALONG"]
    assert s.source_mask(s.files[0]).shape == (256, 256)
    wait_idle(qtbot, window)
    assert dead.count_label.text().startswith(f"{s.n_dead} new dead pixels on NRCALONG")


def test_inputs_the_method_cannot_use_keep_run_disabled(qtbot, tabs, sim_set, tmp_path):
    """The core's input check runs in the background: an image that is not flat-fielded is named."""
    import shutil

    window, sky, dead = tabs
    files = sorted(sim_set.glob("*nrca1*_cal.fits"))[:3]
    copies = [shutil.copy(f, tmp_path / f.name) for f in files]
    with fits.open(copies[1], mode="update") as hdul:
        hdul[0].header["S_FLAT"] = "SKIPPED"
    sky.setup.add_paths(copies)
    qtbot.waitUntil(lambda: not sky.setup.busy and len(sky.session.setup.images) == 3, timeout=30_000)
    assert not sky.setup.run_button.isEnabled()
    assert "not flat-fielded" in sky.setup.notes.text() and os.path.basename(copies[1]) in sky.setup.notes.text()
    sky.setup.setup.remove([str(copies[1])])
    sky.setup.remove_selected()  # nothing selected: re-checks the remaining set
    qtbot.waitUntil(lambda: not sky.setup.busy, timeout=30_000)
    assert sky.setup.run_button.isEnabled()
