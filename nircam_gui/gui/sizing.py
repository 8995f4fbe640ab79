"""Small layout helpers that keep long texts from widening the window on a laptop screen."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox

__all__ = ["compact_combo"]


def compact_combo(combo: QComboBox, chars: int = 12) -> QComboBox:
    """Size ``combo`` for ``chars`` characters instead of its longest item.

    The closed box shows the start of a long choice; the open list and the tooltip (kept on
    the current choice) show all of it.
    """
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(chars)
    combo.currentTextChanged.connect(combo.setToolTip)
    combo.setToolTip(combo.currentText())
    return combo
