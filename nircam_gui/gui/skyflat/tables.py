"""Show an astropy Table in a QTableWidget (read-only, sortable, numbers right-aligned)."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

__all__ = ["content_width", "fill_table", "fit_rows", "make_table", "set_header_tips"]


def make_table() -> QTableWidget:
    t = QTableWidget()
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.verticalHeader().setVisible(False)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    # room the columns do not need goes to the last one, not to an empty band at the right
    t.horizontalHeader().setStretchLastSection(True)
    # rows as tall as a line of text: more of a long table on a laptop screen
    t.verticalHeader().setDefaultSectionSize(t.fontMetrics().height() + 8)
    t.setAlternatingRowColors(True)
    return t


def content_width(widget: QTableWidget) -> int:
    """Width that shows every column whole without a horizontal scroll bar.

    Columns at their contents' (or header's) width, the frame, and room for a vertical
    scroll bar (a long table gets one; reserving it keeps the width steady as rows come and go).
    """
    header = widget.horizontalHeader()
    columns = sum(max(widget.sizeHintForColumn(c), header.sectionSizeHint(c)) for c in range(widget.columnCount()))
    return columns + 2 * widget.frameWidth() + widget.verticalScrollBar().sizeHint().width()


def fit_rows(widget: QTableWidget, max_rows: int) -> None:
    """Limit the table's height to its header and rows (at most ``max_rows`` of them, then it scrolls).

    A short table then leaves the space below it to the widgets that can use it.
    """
    rows = max(1, min(widget.rowCount(), max_rows))
    height = (widget.horizontalHeader().sizeHint().height() + rows * widget.verticalHeader().defaultSectionSize()
              + 2 * widget.frameWidth())
    if widget.rowCount() > max_rows or widget.horizontalScrollBar().isVisible():
        height += widget.horizontalScrollBar().sizeHint().height()
    widget.setMaximumHeight(height)


def set_header_tips(widget: QTableWidget, tips: dict[int, str]) -> None:
    """Tool tips on column headers (short column names explained)."""
    for column, tip in tips.items():
        item = widget.horizontalHeaderItem(column)
        if item is not None:
            item.setToolTip(tip)


class _Item(QTableWidgetItem):
    """Sorts numerically when both cells hold numbers."""

    def __lt__(self, other) -> bool:
        a, b = self.data(Qt.ItemDataRole.UserRole), other.data(Qt.ItemDataRole.UserRole)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a < b
        return super().__lt__(other)


def fill_table(widget: QTableWidget, rows: list[tuple], headers: list[str], formats: list[str] | None = None) -> None:
    """Replace the contents of ``widget``; ``formats`` per column (``""`` = str)."""
    widget.setSortingEnabled(False)
    widget.clear()
    widget.setColumnCount(len(headers))
    widget.setHorizontalHeaderLabels(headers)
    widget.setRowCount(len(rows))
    formats = formats or [""] * len(headers)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            fmt = formats[c]
            if isinstance(value, float) and not math.isfinite(value):
                text = "—"
            else:
                text = format(value, fmt) if fmt else str(value)
            item = _Item(text)
            item.setData(Qt.ItemDataRole.UserRole, value if isinstance(value, (int, float)) else text)
            if isinstance(value, (int, float)):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            widget.setItem(r, c, item)
    widget.setSortingEnabled(True)
