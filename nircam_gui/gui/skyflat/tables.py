"""Show an astropy Table in a QTableWidget (read-only, sortable, numbers right-aligned)."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

__all__ = ["fill_table", "make_table"]


def make_table() -> QTableWidget:
    t = QTableWidget()
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.verticalHeader().setVisible(False)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.setAlternatingRowColors(True)
    return t


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
