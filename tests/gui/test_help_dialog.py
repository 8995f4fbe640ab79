"""F1 help covers the tools and the region editor, not only the shortcuts."""

from __future__ import annotations


def test_help_covers_every_tool_and_the_shortcuts(qtbot, window):
    window.show_shortcuts()
    dialog = window.help_dialog
    assert dialog.isVisible()
    text = dialog.browser.toPlainText()
    for words in ("Pan (N)", "Draw (P)", "Edit (E)", "Backspace", "double-click", "Pixel ramp", "Display",
                  "Add to", "Export", "threshold", "cancelled", "Keyboard shortcuts"):
        assert words in text, words
    # the menu shortcuts are listed with their keys
    assert "Next Group" in text and "Zoom to Fit" in text
