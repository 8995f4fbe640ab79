"""Widgets and tool tips made from an options schema (:mod:`nircam_gui.core.options`).

A tool tip quotes the schema's help, default, unit and report section, so the window never
states a default that the command line does not have. The CRDS delivery keywords of an
analysis (AUTHOR, USEAFTER, PEDIGREE, DESCRIP, HISTORY) are a group of text fields made from
the fields of the schema's delivery group.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLineEdit, QWidget

from ..core.crdskeys import DELIVERY_GROUP
from ..core.options import OptionInfo, option_info

__all__ = ["DeliveryFields", "option_tip"]


def option_tip(info: OptionInfo, note: str = "") -> str:
    """Tool tip of one option: its help, default with unit, report section, command-line flag.

    ``note`` is added as a second sentence (what the window does besides, e.g. that a tab
    can change the value later).
    """
    text = info.help[:1].upper() + info.help[1:]
    extra = []
    if info.type is not bool and info.default is not None:
        extra.append(f"default {info.default}{' ' + info.unit if info.unit else ''}")
    elif info.unit:
        extra.append(info.unit)
    if info.section:
        extra.append(f"report {info.section}")
    if info.flag:
        extra.append(info.flag)
    text += f" ({'; '.join(extra)})" if extra else ""
    return text + (f". {note}" if note else "")


class DeliveryFields(QGroupBox):
    """Text fields for the CRDS delivery keywords of an options schema.

    An empty field means the schema's default (shown greyed in the field).

    Signals
    -------
    changed(str, object)
        ``(option name, value)``: the text typed, or None for an empty field with a None default.
    """

    changed = Signal(str, object)

    def __init__(self, schema, title: str = "CRDS delivery keywords", parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.infos = {n: i for n, i in option_info(schema).items() if i.group == DELIVERY_GROUP}
        self.edits: dict[str, QLineEdit] = {}
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name, info in self.infos.items():
            edit = QLineEdit()
            edit.setPlaceholderText(str(info.default) if info.default is not None else "automatic")
            edit.setToolTip(option_tip(info))
            edit.setClearButtonEnabled(True)
            edit.editingFinished.connect(lambda n=name: self.changed.emit(n, self.value(n)))
            form.addRow(name.upper(), edit)
            self.edits[name] = edit

    def value(self, name: str):
        """The option's value as typed: the schema default for an empty field."""
        text = self.edits[name].text().strip()
        return text if text else self.infos[name].default

    def set_values(self, options) -> None:
        """Show the delivery keywords of ``options`` (a schema instance); defaults as empty fields."""
        for name, edit in self.edits.items():
            value = getattr(options, name)
            edit.blockSignals(True)
            edit.setText("" if value is None or value == self.infos[name].default else str(value))
            edit.blockSignals(False)
