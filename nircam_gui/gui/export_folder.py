"""Choosing where an analysis exports to, and offering to open the folder afterwards.

The folder dialog accepts a typed name of a folder that does not exist yet (it is created),
and a folder that already holds files is only used after the user agrees, since products of
the same name would be replaced.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

__all__ = ["choose_export_folder", "prepare_folder", "offer_to_open"]


def prepare_folder(path: str | os.PathLike) -> tuple[str, int]:
    """Make ``path`` usable as an export folder: create it if missing.

    Returns
    -------
    (str, int)
        The absolute folder and how many entries it already holds.

    Raises
    ------
    ValueError
        ``path`` is an existing file, or the folder cannot be created (the message names it).
    """
    folder = Path(path).expanduser().absolute()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder}: is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        n = sum(1 for _ in folder.iterdir())
    except OSError as exc:
        raise ValueError(f"{folder}: cannot create or read the folder ({exc.strerror or exc})") from None
    return str(folder), n


def choose_export_folder(parent: QWidget, title: str, start: str) -> str:
    """Ask for an export folder; '' when the user cancels.

    The user may pick a folder or type the name of a new one. A folder that already holds
    files needs a second yes.
    """
    dialog = QFileDialog(parent, title, start)
    # AnyFile lets a typed, not yet existing name through; only folders are listed
    dialog.setFileMode(QFileDialog.FileMode.AnyFile)
    dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    dialog.setNameFilter("Folders (*)")
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setLabelText(QFileDialog.DialogLabel.FileName, "Folder:")
    dialog.setLabelText(QFileDialog.DialogLabel.Accept, "Export Here")
    dialog.setOption(QFileDialog.Option.DontConfirmOverwrite, True)
    if not dialog.exec():
        return ""
    chosen = dialog.selectedFiles()
    if not chosen:
        return ""
    return confirm_folder(parent, chosen[0])


def confirm_folder(parent: QWidget, path: str) -> str:
    """Create ``path`` if needed; ask before using a folder that is not empty. '' to stop."""
    try:
        folder, n = prepare_folder(path)
    except ValueError as exc:
        QMessageBox.warning(parent, "Export", str(exc))
        return ""
    if n:
        answer = QMessageBox.question(
            parent, "Export",
            f"{folder} already holds {n} item{'s' if n != 1 else ''}. Products with the same names will be "
            "replaced. Export there anyway?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return ""
    return folder


def offer_to_open(parent: QWidget, folder: str, n_files: int) -> QMessageBox:
    """Say the export is done and offer to open the folder (non-blocking)."""
    box = QMessageBox(QMessageBox.Icon.Information, "Export finished",
                      f"Wrote {n_files} file{'s' if n_files != 1 else ''} to {folder}.", QMessageBox.StandardButton.Close,
                      parent)
    open_button = box.addButton("Open Folder", QMessageBox.ButtonRole.ActionRole)
    open_button.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(folder)))
    box.setObjectName("exportFinished")
    box.open()
    return box
