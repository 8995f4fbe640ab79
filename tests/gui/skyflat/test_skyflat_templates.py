"""Additive-light templates in the Sky flat tab: read and checked as ``nircam-skyflat --additive-template``
checks them (a template whose DETECTOR is none of the images' is refused by name), given to the run,
in the command line, removable from the list and kept in sessions."""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from skyflat_gui_helpers import wait_idle

from nircam_gui.core.simulate.scattered_light import wisp_template
from nircam_gui.gui.skyflat.setup import PATH_ROLE

SIZE = 256  # the frame size of the sim_set fixture


def _template(path, detector, size=SIZE):
    h = fits.PrimaryHDU(wisp_template(size, "NRCA4"))
    if detector:
        h.header["DETECTOR"] = detector
    h.writeto(path)
    return str(path)


def _tree_items(tree):
    stack = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    while stack:
        it = stack.pop()
        yield it
        stack.extend(it.child(i) for i in range(it.childCount()))


def _tree_paths(tree):
    return [it.data(0, PATH_ROLE) for it in _tree_items(tree) if it.data(0, PATH_ROLE)]


def _tree_item(tree, path):
    return next(it for it in _tree_items(tree) if it.data(0, PATH_ROLE) == path)


def test_templates_are_checked_run_and_saved(qtbot, tabs, sim_set, tmp_path):
    window, sky, _ = tabs
    setup = sky.setup
    errors = []
    setup.error.connect(errors.append)
    setup.add_paths([sim_set])
    qtbot.waitUntil(lambda: not setup.busy and len(setup.setup.images) == 16, timeout=30_000)
    assert setup.run_button.isEnabled()

    # a template for a detector none of the images has: refused by name, Run disabled
    b3 = _template(tmp_path / "wisp_b3.fits", "NRCB3")
    setup.add_templates([b3])
    qtbot.waitUntil(lambda: not setup.busy, timeout=30_000)
    assert b3 in _tree_paths(setup.tree)
    problems = setup.setup.problems()
    assert problems and problems[0].startswith(b3) and "NRCB3" in problems[0] and "NRCA1" in problems[0]
    assert not setup.run_button.isEnabled()
    assert "wisp_b3.fits" in setup.notes.text()

    # removed from the list like any input: the set can run again
    _tree_item(setup.tree, b3).setSelected(True)
    setup.remove_selected()
    qtbot.waitUntil(lambda: not setup.busy, timeout=30_000)
    assert setup.setup.templates == [] and setup.setup.problems() == []
    assert setup.run_button.isEnabled()

    # an unreadable file is refused at once with the core reader's message, and never listed
    empty = tmp_path / "empty.fits"
    fits.PrimaryHDU(np.zeros((8, 8), np.float32)).writeto(empty)
    setup.add_templates([empty])
    qtbot.waitUntil(lambda: not setup.busy, timeout=30_000)
    assert errors and errors[-1].startswith(str(empty)) and "empty" in errors[-1]
    assert setup.setup.templates == []

    # a template for NRCA1: the run fits it (its name in the result), the command line carries it
    a1 = _template(tmp_path / "wisp_a1.fits", "A1")
    setup.add_templates([a1])
    qtbot.waitUntil(lambda: not setup.busy and bool(setup.setup.templates), timeout=30_000)
    assert [(t.path, t.detector) for t in setup.setup.templates] == [(a1, "NRCA1")]
    assert setup.setup.problems() == []
    assert f"--additive-template {a1}" in setup.setup.command_line()
    assert "1 file" in setup.template_label.text()
    with qtbot.waitSignal(sky.session.result_changed, timeout=120_000):
        setup.run_button.click()
    wait_idle(qtbot, window)
    result = sky.session.result
    assert result.detectors["NRCA1"].additive.source == "wisp_a1.fits"
    assert result.detectors["NRCALONG"].additive.source == "fitted"

    # with the report's plain method the templates are not used, and the set-up says so
    setup.additive_combo.setCurrentText("plain")
    assert any("not used" in w for w in setup.setup.warnings())
    setup.additive_combo.setCurrentText("separate")

    # a session keeps the templates
    from nircam_gui.gui.main_window import MainWindow
    from nircam_gui.gui.settings import Settings

    path = window.save_session(str(tmp_path / "tpl"))
    other = MainWindow(settings=Settings(tmp_path / "other.ini"), restore_layout=False, modal_errors=False)
    qtbot.addWidget(other)
    osetup = other.analysis_panels["Sky flat"].setup
    assert other.open_session(path)
    qtbot.waitUntil(lambda: not osetup.busy and bool(osetup.setup.templates) and len(osetup.setup.images) == 16,
                    timeout=30_000)
    wait_idle(qtbot, other)
    assert [t.path for t in osetup.setup.templates] == [a1]
    assert a1 in _tree_paths(osetup.tree)
    other.close()
