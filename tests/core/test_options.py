"""Options schemas: argparse, command lines and provenance come from one declaration."""

import argparse
from dataclasses import dataclass

import pytest

from nircam_gui.core.gain.run import GainOptions
from nircam_gui.core.options import (add_arguments, command_line, from_args, off_command_line, option, option_info,
                                     provenance)
from nircam_gui.core.skyflat.options import SkyflatOptions


@dataclass
class Demo:
    size: int = option(64, "box size", unit="pixel", section="sec. 1")
    limit: float | None = option(None, "signal limit", unit="ADU")
    mode: str = option("a", "mode", choices=("a", "b"), flag="--how")
    plots: bool = option(True, "no plots", flag="--no-plots")
    hidden: int = option(3, "not on the command line", flag="")


def _parse(args):
    p = argparse.ArgumentParser()
    add_arguments(p, Demo)
    return from_args(Demo, p.parse_args(args))


def test_one_declaration_makes_parser_command_line_and_provenance():
    assert _parse([]) == Demo()
    d = _parse(["--size", "128", "--limit", "5000", "--how", "b", "--no-plots"])
    assert d == Demo(size=128, limit=5000.0, mode="b", plots=False)
    assert command_line(d) == ["--size", "128", "--limit", "5000.0", "--how", "b", "--no-plots"]
    assert _parse(command_line(d)) == d  # the command line repeats the run
    assert provenance(d) == {"size": 128, "limit": 5000.0, "mode": "b", "plots": False, "hidden": 3}
    assert off_command_line(Demo(hidden=4)) == ["hidden"]
    info = option_info(Demo)
    assert info["size"].unit == "pixel" and info["size"].section == "sec. 1" and info["limit"].type is float
    with pytest.raises(SystemExit):
        _parse(["--how", "c"])


def test_analysis_schemas_are_documented_and_round_trip():
    for schema in (SkyflatOptions, GainOptions):
        for o in option_info(schema).values():
            assert o.help and o.type in (int, float, str, bool), o
    sky = SkyflatOptions(dead_threshold=0.7, fit="median", n_pixels=6, figures=False)
    p = argparse.ArgumentParser()
    add_arguments(p, SkyflatOptions)
    assert from_args(SkyflatOptions, p.parse_args(command_line(sky))) == sky
    assert provenance(SkyflatOptions())["dead_threshold"] == 0.8
    with pytest.raises(ValueError, match="between 0 and 1"):
        SkyflatOptions(dead_threshold=1.5)
