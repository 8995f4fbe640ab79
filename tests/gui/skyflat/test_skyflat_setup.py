"""The Sky-flat set-up: tool tips from the options schema, the CRDS delivery keywords as on the command
line, and ground flats matched by the images' R_FLAT as the run matches them."""

from __future__ import annotations

import os
import shutil

from nircam_gui.core.options import option_info
from nircam_gui.core.skyflat.options import SkyflatOptions
from nircam_gui.gui.skyflat.setup import OPTIONS
from nircam_gui.gui.skyflat.state import SkyflatSetup, input_problem, scan_files


def test_tool_tips_quote_the_schema(qtbot, tabs):
    _, sky, _ = tabs
    widgets = sky.setup.option_widgets
    assert set(widgets) >= {"n_sigma", "n_pixels", "sigma", "maxiters", "fit_bin", "median_filter", "dead_threshold"}
    for name, widget in widgets.items():
        info = OPTIONS[name]
        tip = widget.toolTip()
        assert f"default {info.default}" in tip, (name, tip)
        if info.section:
            assert info.section in tip
        assert widget.value() == info.default
    assert option_info(SkyflatOptions)["dead_threshold"].flag in widgets["dead_threshold"].toolTip()


def test_delivery_keywords_go_into_the_run_and_the_command(qtbot, tabs):
    _, sky, _ = tabs
    setup, fields = sky.setup, sky.setup.delivery
    assert set(fields.edits) == {"author", "useafter", "pedigree", "descrip", "history"}
    errors = []
    sky.setup.error.connect(errors.append)
    fields.edits["author"].setText("A. Tester")
    fields.edits["author"].editingFinished.emit()
    fields.edits["useafter"].setText("2024-03-01")
    fields.edits["useafter"].editingFinished.emit()
    assert setup.setup.options.author == "A. Tester"
    assert setup.setup.options.useafter == "2024-03-01T00:00:00"
    assert fields.edits["useafter"].text() == "2024-03-01T00:00:00"
    command = setup.setup.command_line()
    assert "--author 'A. Tester'" in command and "--useafter 2024-03-01T00:00:00" in command
    assert setup.setup.run_kwargs()["options"].author == "A. Tester"
    # a bad PEDIGREE is refused with the command line's message and the field goes back
    fields.edits["pedigree"].setText("SOMETIME")
    fields.edits["pedigree"].editingFinished.emit()
    assert errors and "PEDIGREE" in errors[-1].upper()
    assert setup.setup.options.pedigree is None and fields.edits["pedigree"].text() == ""
    # a restored set of options shows its keywords
    setup.set_options(SkyflatOptions(author="B", history="from a session"))
    assert fields.edits["author"].text() == "B" and fields.edits["history"].text() == "from a session"


def test_no_ground_flat_warning_follows_r_flat(sim_set, tmp_path):
    """A ground flat of the right detector and filter but another name is not the flat the images were
    calibrated with: the warning names the R_FLAT file, as the run's check does."""
    images, refs, _ = scan_files([sim_set])
    a1_f150w = next(r for r in refs if r.reftype == "FLAT" and r.detector == "NRCA1" and r.token == "F150W")
    setup = SkyflatSetup()
    setup.add(images, [r for r in refs if r is not a1_f150w])
    setup.input_problem, setup.input_warnings = input_problem(*setup.input_key())
    assert setup.input_problem == ""
    warned = [w for w in setup.warnings() if "NRCA1 F150W" in w or os.path.basename(a1_f150w.path) in w]
    assert warned and "R_FLAT" in warned[0] and os.path.basename(a1_f150w.path) in warned[0]
    assert not any("F200W" in w for w in setup.warnings())
    # the same flat under another name: found by detector and filter, but not the one R_FLAT names
    renamed = tmp_path / "my_own_flat.fits"
    shutil.copy(a1_f150w.path, renamed)
    _, more, _ = scan_files([renamed])
    setup.add([], more)
    problem, _ = input_problem(*setup.input_key())
    assert str(renamed) in problem and "calibrated with" in problem
    # no ground flats at all: every stack is told
    setup.flats = []
    setup.input_problem, setup.input_warnings = input_problem(*setup.input_key())
    assert sum("no ground FLAT given" in w for w in setup.warnings()) == 4
