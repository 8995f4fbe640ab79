"""Export folders: a typed new folder is created, a non-empty one needs a yes, a file is refused."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox, QWidget

from nircam_gui.gui import export_folder
from nircam_gui.gui.export_folder import confirm_folder, prepare_folder


def test_prepare_folder(tmp_path):
    new = tmp_path / "a" / "new products"
    folder, n = prepare_folder(new)
    assert folder == str(new) and new.is_dir() and n == 0
    (new / "gain.fits").write_text("x")
    assert prepare_folder(new) == (str(new), 1)
    with pytest.raises(ValueError, match="is a file, not a folder"):
        prepare_folder(new / "gain.fits")


def test_non_empty_folder_needs_a_yes(qtbot, tmp_path, monkeypatch):
    parent = QWidget()
    qtbot.addWidget(parent)
    full = tmp_path / "full"
    full.mkdir()
    (full / "old.ecsv").write_text("x")
    asked = []

    def answer(reply):
        def question(*args, **kwargs):
            asked.append(args[2])
            return reply
        return question

    monkeypatch.setattr(export_folder.QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    assert confirm_folder(parent, str(full)) == ""
    assert "already holds 1 item" in asked[-1] and "replaced" in asked[-1]
    monkeypatch.setattr(export_folder.QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    assert confirm_folder(parent, str(full)) == str(full)
    # an empty or new folder is used without a question
    n = len(asked)
    assert confirm_folder(parent, str(tmp_path / "fresh")) == str(tmp_path / "fresh")
    assert len(asked) == n and (tmp_path / "fresh").is_dir()


def test_offer_to_open_has_an_open_button(qtbot, tmp_path, monkeypatch):
    parent = QWidget()
    qtbot.addWidget(parent)
    opened = []
    monkeypatch.setattr(export_folder.QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()))
    box = export_folder.offer_to_open(parent, str(tmp_path), 7)
    assert "Wrote 7 files to" in box.text()
    button = [b for b in box.buttons() if b.text() == "Open Folder"][0]
    button.click()
    assert opened == [str(tmp_path)]
