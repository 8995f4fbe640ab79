"""The GUI in real processes: a killed session loses no hand-drawn region or setting, and the demo
workflow (open, draw, run the gain analysis, click a box, export; build a sky flat) ends with exit 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats  # noqa: E402
from nircam_gui.core.simulate.images import CalSimConfig, simulate_cal_images  # noqa: E402

DRIVER = Path(__file__).with_name("gui_driver.py")
CORNERS = [[20.0, 30.0], [90.0, 34.0], [60.0, 100.0]]  # across amplifiers 1 and 2 of a 128-pixel frame


@pytest.fixture(scope="module")
def gui_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("gui_rel")
    flats = simulate_flats(root / "ramps", FlatSimConfig(detector="NRCB1", size=128, nints=4, ngroups=5, seed=8))
    cals = simulate_cal_images(root / "cal", CalSimConfig(detectors=("NRCBLONG",), filters=("F277W",), n_images=3,
                                                          size=128, seed=5))
    refs = {k: str(v) for k, v in flats.references.items() if k in ("SUPERBIAS", "LINEARITY", "SATURATION", "MASK",
                                                                      "IPC")}
    return {"ramps": [str(p) for p in flats.ramps], "refs": refs, "ramp_folder": str(root / "ramps"),
            "cal_folder": str(root / "cal"), "box": "64", "signal_limit": 4000.0, "corners": CORNERS}, cals


def _env(tmp_path: Path) -> dict:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "NIRCAM_GUI_SETTINGS": str(tmp_path / "settings.ini"),
            "NIRCAM_GUI_DATA": str(tmp_path / "data"), "NIRCAM_GUI_DEBUG": ""}


def _states(stdout: str) -> list[dict]:
    return [json.loads(line[6:]) for line in stdout.splitlines() if line.startswith("STATE ")]


def _run(mode: str, args: dict, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(DRIVER), mode, json.dumps(args)], capture_output=True, text=True,
                          env=env, timeout=900)


def test_killed_session_restores_regions_and_settings(tmp_path, gui_data):
    args, _ = gui_data
    env = _env(tmp_path)
    proc = subprocess.Popen([sys.executable, str(DRIVER), "edit", json.dumps(args)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.strip() == "READY":
                break
        assert lines and lines[-1].strip() == "READY", "".join(lines) + proc.stderr.read()
        proc.send_signal(signal.SIGKILL)  # a crash: no close event, no save, no clean-up
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.stdin.close()
        proc.stdout.close()
        proc.stderr.close()
    (edited,) = _states("".join(lines))
    assert len(edited["polygons"]) == 1 and edited["box"] == "64"

    restarted = _run("restore", args, env)
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    (restored,) = _states(restarted.stdout)
    assert restored["polygons"] == edited["polygons"]  # the hand-drawn region, vertex for vertex
    assert restored["files"] == edited["files"] == [os.path.abspath(p) for p in args["ramps"]]
    assert restored["box"] == "64" and restored["signal_limit"] == pytest.approx(4000.0)
    assert restored["refs"] == edited["refs"] and restored["refs"]["SUPERBIAS"] == args["refs"]["SUPERBIAS"]


def test_demo_workflow_end_to_end_exits_cleanly(tmp_path, gui_data):
    args, cals = gui_data
    out = tmp_path / "exports"
    proc = _run("workflow", {**args, "out": str(out)}, _env(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    (state,) = _states(proc.stdout)
    assert state["errors"] == ""
    assert state["opened"].endswith("_uncal.fits")
    assert state["polygons"] == 1 and state["regions_file"]  # the drawn region went into the run
    assert state["selection"] == [state["clicked"]] and state["ptc_points"] > 0
    for name in ("gain_map", "boxes", "sectors", "pairs", "ptc_points", "regions"):
        assert name in state["gain_products"]
    assert (out / "gain" / "gain_map.fits").is_file() and (out / "gain" / "boxes.ecsv").is_file()
    assert state["sky_detectors"] == ["NRCBLONG"]
    assert any(f.startswith("delta_NRCBLONG_grey") for f in state["sky_files"])
    assert (out / "skyflat").is_dir() and not [p for p in out.rglob("*") if ".part" in p.name]
