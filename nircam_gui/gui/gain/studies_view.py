"""The Studies page of the Gain tab (report 004622 section 5): a thin view.

The studies live in :mod:`nircam_gui.core.gain.studies` (built separately); this page
only runs the ones that re-fit the saved PTC points of the current run (signal limit),
and shows any study figure handed to it. Studies that need new runs (box size, IPC,
an external map) are run with :mod:`nircam_gui.core.gain.studies` or added here once their result
objects are settled.
"""

from __future__ import annotations

import io
import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QScrollArea, QVBoxLayout, QWidget

from ..workers import TaskRunner

__all__ = ["StudiesView", "signal_limit_figure"]

log = logging.getLogger("nircam_gui")


def signal_limit_figure(result, limits: list[float]) -> tuple[bytes, str]:
    """Worker: the signal-limit study (report Table 3) of a run, as a PNG and a text summary."""
    import matplotlib

    matplotlib.use("Agg")
    from ...core.gain.studies import rundata, signallimit

    run = rundata.RunData.from_result(result)
    study = signallimit.signal_limit_study(run, limits)
    fig = signallimit.plot_signal_limit(study)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    table = getattr(study, "summary", None)
    text = ""
    if table is not None:
        text = "\n".join(table.pformat(max_width=-1, max_lines=-1))
    return buf.getvalue(), text


class StudiesView(QWidget):
    """Run a quick study on the current result and show its figure."""

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.result = None
        self.limits_edit = QLineEdit("5000, 7500, 10000, 15000")
        self.limits_edit.setToolTip("Single-frame signal limits (ADU) to compare, report Table 3")
        self.run_button = QPushButton("Signal-limit study")
        self.run_button.setEnabled(False)
        self.run_button.clicked.connect(self.run_signal_limit)
        self.figure = QLabel("Run the analysis first. Studies re-fit the PTC points of the run; box-size, IPC "
                             "and external-map studies need several runs: run them with nircam_gui.core.gain.studies.")
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

    def run_signal_limit(self) -> None:
        try:
            limits = [float(v) for v in self.limits_edit.text().replace(",", " ").split()]
        except ValueError:
            self.text.setText("Limits: numbers in ADU, separated by commas.")
            return
        self.run_button.setEnabled(False)
        self.runner.run(signal_limit_figure, self.result, limits, name="Signal-limit study",
                        on_result=self._show, on_error=self.text.setText,
                        on_finished=lambda: self.run_button.setEnabled(True))

    def _show(self, out) -> None:
        png, text = out
        pix = QPixmap()
        pix.loadFromData(png, "PNG")
        self.figure.setPixmap(pix)
        self.text.setText(text)
