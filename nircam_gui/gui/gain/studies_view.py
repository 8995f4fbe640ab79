"""The Studies page of the Gain tab (report 004622 section 5): a thin view.

The studies live in :mod:`nircam_gui.core.gain.studies` (built separately); this page
only runs them and shows their own figures: the signal-limit study re-fits the PTC points
of the current run; the box-size study compares it with exported runs of other box sizes.
The IPC, consistency and external-map studies need runs or files this page does not
make; they are run with ``nircam-gain study``.
"""

from __future__ import annotations

import io
import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QScrollArea, QVBoxLayout, QWidget

from ..workers import TaskRunner

__all__ = ["StudiesView", "box_size_figures", "signal_limit_figure"]

log = logging.getLogger("nircam_gui")


def signal_limit_figure(result, limits: list[float]) -> tuple[bytes, str]:
    """Worker: the signal-limit study (report Table 3) of a run, as a PNG and a text summary."""
    import matplotlib

    matplotlib.use("Agg")
    from ...core.gain.studies import rundata, signallimit

    run = rundata.RunData.from_result(result)
    study = signallimit.signal_limit_study(run, limits)
    png = _png(signallimit.plot_signal_limit(study))
    table = getattr(study, "summary", None)
    text = ""
    if table is not None:
        text = "\n".join(table.pformat(max_width=-1, max_lines=-1))
    return png, text


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def box_size_figures(result, folders: list[str]) -> tuple[list[bytes], str]:
    """Worker: the box-size study (report Table 2, Figure 7) of the current run and the
    ``nircam-gain`` output folders given (other box sizes of the same ramps)."""
    import matplotlib

    matplotlib.use("Agg")
    from ...core.gain.studies import boxsize, rundata

    runs = {result.options.box: rundata.RunData.from_result(result)}
    for folder in folders:
        run = rundata.RunData.load(folder)
        runs.setdefault(run.box_size, run)
    if len(runs) < 2:
        raise ValueError("the box-size study needs runs with at least two box sizes (export runs made with "
                         "other box sizes into subfolders of the chosen folder)")
    study = boxsize.box_size_study(list(runs.values()))
    pngs = [_png(boxsize.plot_uncertainty(study)), _png(boxsize.plot_scatter(study))]
    text = "\n".join(study.uncertainty.pformat(max_width=-1, max_lines=-1))
    return pngs, text


class StudiesView(QWidget):
    """Run a quick study on the current result and show its figure.

    Signals
    -------
    study_done()
        A study finished (figure shown) or failed (message shown).
    """

    study_done = Signal()

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.result = None
        self.limits_edit = QLineEdit("5000, 7500, 10000, 15000")
        self.limits_edit.setToolTip("Single-frame signal limits (ADU) to compare, report Table 3")
        self.run_button = QPushButton("Signal-limit study")
        self.run_button.setEnabled(False)
        self.run_button.clicked.connect(self.run_signal_limit)
        self.box_button = QPushButton("Box-size study…")
        self.box_button.setToolTip("Compare this run with exported runs of other box sizes (nircam-gain output "
                                   "folders inside the folder you choose): report Table 2 and Figure 7")
        self.box_button.setEnabled(False)
        self.box_button.clicked.connect(self.choose_box_size_runs)
        self.figure = QLabel("Run the analysis first. Studies re-fit the PTC points of the run; box-size, IPC "
                             "and external-map studies need runs or files of their own: nircam-gain study.")
        self.figure.setWordWrap(True)
        self.figure.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel("")
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setStyleSheet("font-family: monospace")
        inner = QWidget()
        il = QVBoxLayout(inner)
        il.addWidget(self.figure)
        il.addWidget(self.text)
        il.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Limits (ADU)"))
        row.addWidget(self.limits_edit, 1)
        row.addWidget(self.run_button)
        row.addWidget(self.box_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(row)
        layout.addWidget(scroll, 1)

    @staticmethod
    def available() -> bool:
        try:
            from ...core.gain.studies import rundata, signallimit  # noqa: F401
        except ImportError:
            return False
        return hasattr(rundata.RunData, "from_result") and hasattr(signallimit, "signal_limit_study")

    def set_result(self, result) -> None:
        self.result = result
        self.run_button.setEnabled(result is not None and self.available())
        self.box_button.setEnabled(result is not None and self.available())

    def run_signal_limit(self):
        """Run the signal-limit study on the current result; returns the worker (None on bad input)."""
        try:
            limits = [float(v) for v in self.limits_edit.text().replace(",", " ").split()]
        except ValueError:
            self.text.setText("Limits: numbers in ADU, separated by commas.")
            return
        self.run_button.setEnabled(False)
        return self.runner.run(signal_limit_figure, self.result, limits, name="Signal-limit study",
                               on_result=self._show, on_error=self.text.setText,
                               on_finished=lambda: self._done(self.run_button))

    def choose_box_size_runs(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self, "Folder holding exported runs of other box sizes")
        if folder:
            self.run_box_size([folder])

    def run_box_size(self, folders: list[str]):
        """Run the box-size study with the run folders in (or below) ``folders``."""
        from pathlib import Path

        from ...core.gain.studies.rundata import is_run_folder

        runs = []
        for f in folders:
            p = Path(f)
            runs += [str(p)] if is_run_folder(p) else [str(s) for s in sorted(p.iterdir()) if is_run_folder(s)]
        self.box_button.setEnabled(False)
        return self.runner.run(box_size_figures, self.result, runs, name="Box-size study", on_result=self._show,
                               on_error=self.text.setText, on_finished=lambda: self._done(self.box_button))

    def _done(self, button) -> None:
        button.setEnabled(self.result is not None)
        self.study_done.emit()

    def _show(self, out) -> None:
        pngs, text = out
        if isinstance(pngs, bytes):
            pngs = [pngs]
        # a word-wrapping QLabel sizes itself by its text, which would hide the picture
        self.figure.setWordWrap(False)
        pix = [QPixmap() for _ in pngs]
        for p, data in zip(pix, pngs):
            p.loadFromData(data, "PNG")
        if len(pix) == 1:
            self.figure.setPixmap(pix[0])
        else:  # side by side
            from PySide6.QtGui import QPainter

            w, h = sum(p.width() for p in pix), max(p.height() for p in pix)
            out_pix = QPixmap(w, h)
            out_pix.fill(Qt.GlobalColor.white)
            painter = QPainter(out_pix)
            x = 0
            for p in pix:
                painter.drawPixmap(x, 0, p)
                x += p.width()
            painter.end()
            self.figure.setPixmap(out_pix)
        self.text.setText(text)
