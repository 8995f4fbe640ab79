"""Options schemas: one documented dataclass per analysis, from which everything else is made.

An analysis declares its options as a dataclass whose fields are made with :func:`option`
(default, help text, unit, the report section the value comes from, and how it appears on
the command line). From that one declaration come:

- the command-line options (:func:`add_arguments`, :func:`from_args`),
- the values a GUI starts from (the dataclass defaults; :func:`option_info` for tool tips),
- the command line that repeats a run (:func:`command_line`),
- the provenance entry of every product (:func:`provenance`),
- a documentation table (:func:`describe`).

Adding an option is one field; nothing else in the CLI, GUI defaults or provenance needs
to change.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import types
import typing
from collections.abc import Sequence
from dataclasses import MISSING, dataclass
from typing import Any

__all__ = ["OptionInfo", "add_arguments", "command_line", "describe", "from_args", "option", "option_info",
           "provenance"]


@dataclass(frozen=True)
class OptionInfo:
    """What a schema says about one option.

    Attributes
    ----------
    name : str
        The field name (also the provenance key).
    type : type
        ``int``, ``float``, ``str`` or ``bool`` (``None`` is allowed when the default is ``None``).
    default : object
    help : str
        One sentence for ``--help`` and GUI tool tips.
    unit : str
        Unit of the value, "" when it has none.
    section : str
        Where the value comes from (a report section), or "" for a choice of this tool.
    flag : str
        Command-line flag, "" when the option is not on the command line.
    choices : tuple
        Allowed values, empty for any.
    group : str
        Title of the ``--help`` group the flag is listed under, "" for the main list.
    """

    name: str
    type: type
    default: Any
    help: str
    unit: str = ""
    section: str = ""
    flag: str = ""
    choices: tuple = ()
    group: str = ""


def option(default: Any, help: str, *, unit: str = "", section: str = "", flag: str | None = None,
           choices: Sequence = (), group: str = "") -> Any:
    """A dataclass field of an options schema.

    Parameters
    ----------
    default : object
        Default value (immutable).
    help : str
        One sentence, without the default (it is added where shown).
    unit : str
        Unit of the value.
    section : str
        The report section the default comes from (e.g. ``"008304 sec. 3.1"``).
    flag : str, optional
        Command-line flag; ``None`` makes ``--name-with-dashes``, ``""`` keeps the option off
        the command line (it is still recorded in provenance).
    choices : sequence
        Allowed values.
    group : str
        ``--help`` group title.
    """
    meta = {"help": help, "unit": unit, "section": section, "flag": flag, "choices": tuple(choices), "group": group}
    return dataclasses.field(default=default, metadata={"option": meta})


def _base_type(hint) -> type:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0]
    return hint


def option_info(schema) -> dict[str, OptionInfo]:
    """``{name: OptionInfo}`` of an options dataclass (class or instance), in declaration order."""
    cls = schema if isinstance(schema, type) else type(schema)
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        meta = f.metadata.get("option")
        if meta is None:
            continue
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        flag = meta["flag"]
        if flag is None:
            flag = "--" + f.name.replace("_", "-")
        out[f.name] = OptionInfo(f.name, _base_type(hints[f.name]), default, meta["help"], meta["unit"],
                                 meta["section"], flag, meta["choices"], meta["group"])
    return out


def _help_text(o: OptionInfo) -> str:
    if o.type is bool:
        return o.help
    default = "" if o.default is None else f"{o.default}{' ' + o.unit if o.unit else ''}"
    extra = [f"default {default}" if default else ""]
    if o.section:
        extra.append(f"report {o.section}")
    extra = [e for e in extra if e]
    return o.help + (f" ({'; '.join(extra)})" if extra else "")


def add_arguments(parser: argparse.ArgumentParser, schema) -> None:
    """Add the command-line options of ``schema`` to ``parser``.

    Booleans that default to True get ``--no-<name>`` (the flag as declared), the others a
    typed value. Defaults are left to the schema: an option not given on the command line
    is absent from the namespace, so :func:`from_args` keeps the dataclass default.
    """
    groups: dict[str, argparse._ArgumentGroup] = {}
    for o in option_info(schema).values():
        if not o.flag:
            continue
        target = parser
        if o.group:
            target = groups.setdefault(o.group, parser.add_argument_group(o.group))
        kw: dict[str, Any] = {"dest": o.name, "default": argparse.SUPPRESS, "help": _help_text(o).replace("%", "%%")}
        if o.type is bool:
            kw["action"] = "store_false" if o.default else "store_true"
        else:
            kw["type"] = o.type
            if o.choices:
                kw["choices"] = o.choices
            elif o.unit:
                kw["metavar"] = o.unit.upper()
        target.add_argument(o.flag, **kw)


def from_args(schema: type, args: argparse.Namespace, **overrides):
    """The options instance from a namespace filled by :func:`add_arguments` (plus ``overrides``).

    Raises
    ------
    ValueError
        From the schema's own checks (``__post_init__``).
    """
    names = option_info(schema)
    values = {k: v for k, v in vars(args).items() if k in names}
    values.update(overrides)
    return schema(**values)


def command_line(options) -> list[str]:
    """Command-line arguments that set every option of ``options`` that differs from its default.

    Options without a flag are not included; :func:`off_command_line` names them.
    """
    out: list[str] = []
    for o in option_info(options).values():
        value = getattr(options, o.name)
        if not o.flag or value == o.default:
            continue
        if o.type is bool:
            out.append(o.flag)
        elif value is not None:
            out += [o.flag, str(value)]
    return out


def off_command_line(options) -> list[str]:
    """Options changed from their defaults that no command-line flag can set."""
    return [o.name for o in option_info(options).values()
            if not o.flag and getattr(options, o.name) != o.default]


def provenance(options) -> dict[str, Any]:
    """``{name: value}`` of every option, as written into provenance records."""
    return {name: getattr(options, name) for name in option_info(options)}


def describe(schema) -> str:
    """A Markdown table of the options (name, flag, default, unit, report section, help)."""
    rows = ["| option | flag | default | unit | from | meaning |", "|---|---|---|---|---|---|"]
    for o in option_info(schema).values():
        rows.append(f"| `{o.name}` | `{o.flag}` | {o.default} | {o.unit} | {o.section} | {o.help} |"
                    .replace("``", ""))
    return "\n".join(rows)


def quote(args: Sequence[str]) -> str:
    """``args`` as one shell command line."""
    return " ".join(shlex.quote(a) for a in args)


__all__ += ["off_command_line", "quote"]
