"""A search row for the header window: find a keyword or value, next/previous, count of hits."""

from __future__ import annotations

from PySide6.QtGui import QTextCursor, QTextDocument
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QWidget

__all__ = ["HeaderSearch"]


class HeaderSearch(QWidget):
    """Find text in a QPlainTextEdit (case-insensitive); Enter finds the next hit."""

    def __init__(self, text: QPlainTextEdit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = text
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("Find a keyword or value (e.g. DETECTOR, NGROUPS, BUNIT)")
        self.edit.setClearButtonEnabled(True)
        self.count = QLabel("")
        prev = QPushButton("Previous")
        nxt = QPushButton("Next")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.count)
        row.addWidget(prev)
        row.addWidget(nxt)
        self.edit.textChanged.connect(self._changed)
        self.edit.returnPressed.connect(self.find_next)
        nxt.clicked.connect(self.find_next)
        prev.clicked.connect(lambda: self.find_next(backward=True))

    def hits(self) -> int:
        """How many times the search text occurs."""
        needle = self.edit.text().lower()
        return self.text.toPlainText().lower().count(needle) if needle else 0

    def _changed(self) -> None:
        n = self.hits()
        self.count.setText(f"{n} found" if self.edit.text() else "")
        self.text.moveCursor(QTextCursor.MoveOperation.Start)
        if n:
            self.find_next()

    def find_next(self, backward: bool = False) -> bool:
        """Select the next (or previous) hit, wrapping around; False when there is none."""
        needle = self.edit.text()
        if not needle:
            return False
        flags = QTextDocument.FindFlag.FindBackward if backward else QTextDocument.FindFlag(0)
        if self.text.find(needle, flags):
            return True
        self.text.moveCursor(QTextCursor.MoveOperation.End if backward else QTextCursor.MoveOperation.Start)
        return self.text.find(needle, flags)
