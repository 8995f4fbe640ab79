"""The Dead pixels tab's tables at a laptop's and a large screen's size: the concentrations show every
column whole without a sideways scroll bar, and the per-detector counts take no more height than their rows."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication
from skyflat_gui_helpers import load_and_run, wait_idle


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_concentrations_fit_without_scrolling_sideways(qtbot, tabs, sim_set, size):
    from test_layout import clipped_widgets

    window, sky, dead = tabs
    window.resize(*size)
    load_and_run(qtbot, window, sky, sim_set, predictions=False)
    window.show_tab("deadpix")
    wait_idle(qtbot, window)
    for _ in range(3):
        QApplication.processEvents()
    table = dead.cluster_table
    assert table.rowCount() >= 1
    assert not table.horizontalScrollBar().isVisible()
    header = table.horizontalHeader()
    for c in range(table.columnCount()):
        need = max(table.sizeHintForColumn(c), header.sectionSizeHint(c))
        assert header.sectionSize(c) >= need, (c, header.sectionSize(c), need)
    assert header.length() <= table.viewport().width() + 1
    # the counts table is as tall as its header and rows: the free height goes to the concentrations
    counts = dead.counts_table
    rows = counts.rowCount() * counts.verticalHeader().defaultSectionSize()
    assert counts.height() <= counts.horizontalHeader().height() + rows + 2 * counts.frameWidth() + 2
    assert table.height() > counts.height()
    problems = clipped_widgets(dead)
    assert not problems, "; ".join(problems[:5])
