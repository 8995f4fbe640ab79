"""F1 help: what every part of the window does, the region editor, and the shortcuts."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

__all__ = ["HELP_SECTIONS", "HelpDialog", "help_html"]

#: (title, HTML body) of each help section, in the order shown
HELP_SECTIONS: list[tuple[str, str]] = [
    ("Files", """
<p>The <b>Files</b> dock lists the FITS files of a folder with a one-line summary (detector, type,
integrations x groups, filter). A click selects; <b>Shift/Ctrl+click</b> selects several;
<b>double-click or Enter</b> opens a file in the Image tab (or goes into a folder). <b>Add to</b>
(or the right-click menu) sends the selected files to the Gain tab (ramps) or the Sky flat tab
(_cal images, FLAT and MASK files). Files and folders can also be dropped on the window.</p>"""),
    ("Image tab and the Display dock", """
<p>Ramps show one group at a time: <b>[</b> and <b>]</b> step through the groups, <b>{</b> and <b>}</b>
through the integrations, <b>D</b> shows group − group 1. Wheel zooms, drag pans, <b>F</b> fits,
<b>Ctrl+1</b> is 1:1.</p>
<p>The <b>Display</b> dock acts on the image view of the tab in front (Image, Gain, Sky flat, Dead
pixels): limits (zscale, percentiles, min/max or levels typed or dragged on the histogram), scale
(linear, sqrt, log, asinh) and colours. On the Sky flat and Dead pixels tabs <i>per panel</i> keeps each
map's own stretch.</p>
<p>The status bar is the one line for the pointer: 1-based x, y (as in DS9), value, amplifier
(1-4, "ref" on reference pixels) and DQ flags; on the Gain tab also the box under the pointer. It
follows the frame on screen: stepping groups with the pointer at rest updates the value.</p>"""),
    ("Pixel ramp", """
<p>The <b>Pixel ramp</b> dock (beside the Log) plots the pixel under the pointer up the ramp: every group
of the integration on screen, raw. With reference files set in the Gain tab it also shows the ramp
minus the SUPERBIAS, the pixel's SATURATION value (dashed) and the PTC signal limit, group 1 + the
detector's limit (dotted). Untick <i>Follow the pointer</i> to keep a pixel.</p>
<p>The <b>Pixels</b> dock holds a 9x9 table of the values around the pointer, a <b>Statistics box</b>
(drag it, resize it by its corner: mean, median, std, 3-sigma clipped mean, median and sigma, pixels;
DO_NOT_USE pixels left out) and a <b>Profile line</b> (drag its ends; the values along it are plotted).
Frame ▸ DQ Overlay (Q) colours the flagged pixels with a legend; Frame ▸ Blink Integrations (B)
alternates two integrations, Frame ▸ Blink Two Files (Shift+B) the two files selected in the Files dock
(or the file on screen and one you choose), each with its own stretch; the <i>NaN</i> button in the
Display dock sets the colour of NaN pixels in every view; File ▸ Open Regions on Image draws a DS9 region file; the header window
(Ctrl+H) has a search field; File ▸ Save Session / Open Session keep and restore everything.</p>"""),
    ("Gain tab and the region editor", """
<p>Choose ramps (<b>Add…</b>, <b>From browser</b>, or <b>Add to ▸ Gain</b> in the Files dock); the tab
pairs the integrations and checks their signal. The mouse has three modes, shown at the bottom left
of the image:</p>
<ul>
<li><b>Pan (N)</b>: drag pans, wheel zooms; a click on a box shows its photon transfer curve,
Ctrl+click adds boxes to compare.</li>
<li><b>Draw (P)</b>: click vertices, then click the first vertex, double-click or press Enter to close the
polygon; or press and drag to draw freehand. Backspace removes the last vertex, Esc abandons the
polygon. A closed polygon returns to Pan. With results on screen, a new region changes the box grid;
the results stay until you run again, and the hint line says so at the first vertex.</li>
<li><b>Edit (E)</b>: drag a vertex or a whole region; double-click an edge to add a vertex; right-click a
vertex to delete it; click a region and press Delete to remove it.</li>
</ul>
<p>Undo/Redo (Ctrl+Z, Ctrl+Shift+Z) cover every edit. Regions are saved as DS9 region files (image
coordinates, 1-based) and autosaved after every edit. <b>Run gain analysis</b> works in the background;
Esc or Cancel stops it. <b>Export…</b> writes the GAIN reference file, tables, the region file and
figures; the PTC figure shows the boxes selected on screen.</p>"""),
    ("Sky flat and Dead pixels tabs", """
<p>Add folders of _cal images (grouped by detector and filter), ground FLAT and MASK files are matched
automatically; <b>Run</b> builds the delta flats, fits, new flats, dead pixels and backgrounds in the
background. The <b>Dead pixels</b> tab moves the threshold without recomputing: type a value (applied on
Enter) or drag the slider; click a concentration to zoom to it. <b>Export…</b> writes the FLAT and MASK
reference files, tables and figures at the chosen threshold.</p>"""),
    ("Export", """
<p>Every Export asks for a folder: pick one, or type the name of a new folder (it is created). A folder
that already holds files is used only after you agree. When the files are written the log says so with
the time, and a message offers to open the folder.</p>"""),
    ("Progress and the log", """
<p>Background work shows in the progress row under the log, with Cancel (Esc). The log says when each
long task started, when it finished (with the time it took) or that it was cancelled.</p>"""),
]


def help_html(shortcuts: list[tuple[str, str]]) -> str:
    """The help page: every section, then a table of ``(keys, action)`` shortcuts."""
    parts = ["<h2>NIRCam GUI</h2>", "<p>Contents: " + " · ".join(
        f"<a href='#s{i}'>{title}</a>" for i, (title, _) in enumerate(HELP_SECTIONS)) + " · <a href='#keys'>Keyboard "
        "shortcuts</a></p>"]
    for i, (title, body) in enumerate(HELP_SECTIONS):
        parts.append(f"<h3><a name='s{i}'></a>{title}</h3>{body}")
    rows = "".join(f"<tr><td><b>{keys}</b></td><td>{text}</td></tr>" for keys, text in shortcuts)
    parts.append(f"<h3><a name='keys'></a>Keyboard shortcuts</h3><table cellspacing=4>{rows}</table>")
    return "".join(parts)


def menu_shortcuts(menu_bar) -> list[tuple[str, str]]:
    """``(keys, action text)`` of every menu action with a shortcut."""
    rows = []
    for menu_action in menu_bar.actions():
        for action in menu_action.menu().actions():
            keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
            if keys:
                rows.append((keys, action.text().replace("&", "")))
    return rows


class HelpDialog(QDialog):
    """A non-modal help window (F1)."""

    def __init__(self, shortcuts: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("NIRCam GUI help")
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(True)
        self.browser.setHtml(help_html(shortcuts))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(640, 600)
