"""DS9's pixel table: the values around the pixel under the pointer (9x9 by default)."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFontDatabase
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem

from ..core.region_stats import pixel_window

__all__ = ["PixelTable"]


class PixelTable(QTableWidget):
    """Values of the frame on screen around a pixel; the centre is highlighted.

    Rows run from the top of the window down (larger y first), as the image is drawn;
    headers are 1-based x and y as in DS9.
    """

    def __init__(self, half: int = 4, parent=None) -> None:
        size = 2 * half + 1
        super().__init__(size, size, parent)
        self.half = half
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for header in (self.horizontalHeader(), self.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            header.setMinimumSectionSize(20)
        self.setToolTip("Values around the pixel under the pointer (x, y 1-based as in DS9)")
        self.centre: tuple[int, int] | None = None

    def show_around(self, image: np.ndarray, column: int, row: int, fmt: str = ".6g") -> None:
        """Fill the table with ``image`` around 0-based ``(column, row)``."""
        window, x0, y0 = pixel_window(image, column, row, self.half)
        size = window.shape[0]
        self.centre = (column, row)
        self.setHorizontalHeaderLabels([str(x0 + j + 1) for j in range(size)])
        self.setVerticalHeaderLabels([str(y0 + size - i) for i in range(size)])
        centre_brush = QBrush(QColor(255, 215, 90))
        for i in range(size):
            for j in range(size):
                v = window[size - 1 - i, j]
                item = QTableWidgetItem("" if not math.isfinite(v) else format(v, fmt))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if i == size - 1 - self.half and j == self.half:
                    item.setBackground(centre_brush)
                self.setItem(i, j, item)

    def value_at(self, column: int, row: int) -> str:
        """The text shown for 0-based ``(column, row)`` ('' when it is not in the table)."""
        if self.centre is None:
            return ""
        j = column - self.centre[0] + self.half
        i = self.half - (row - self.centre[1])
        if not (0 <= i < self.rowCount() and 0 <= j < self.columnCount()):
            return ""
        item = self.item(i, j)
        return item.text() if item is not None else ""
