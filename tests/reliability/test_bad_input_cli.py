"""The commands answer every bad input with exit 1 and one line ``error: <file>: <problem>``, no traceback.

``nircam-skyflat`` refuses the inputs its method cannot use before any work, with exit 2.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nircam_gui.cli import gain as gain_cli
from nircam_gui.cli import sim as sim_cli
from nircam_gui.cli import skyflat as skyflat_cli

from .cases import GAIN_CASES, SKYFLAT_CASES, SKYFLAT_REFUSED_BEFORE_WORK, gain_case, skyflat_case
from .conftest import FAST_GAIN


def assert_one_error_line(code: int, err: str, blame: str, words: str, expected: int = 1) -> None:
    assert code == expected, err
    assert "Traceback" not in err
    # nothing but one-line messages: no raw warnings with source lines, no log noise
    assert all(line.startswith(("error: ", "warning: ")) for line in err.splitlines() if line.strip()), err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert errors[0].startswith(f"error: {blame}: "), errors[0]
    assert words in errors[0]


@pytest.mark.parametrize("name", GAIN_CASES)
def test_nircam_gain_bad_input(name, tmp_path, capsys, flats, flats_b1, flats_64, cals):
    case = gain_case(name, tmp_path, flats, flats_b1, flats_64, cals)
    args = case.cli_args()
    fast = [a for a in FAST_GAIN if not (a == "none" or a == "--ipc")] if "ipc" in case.options else FAST_GAIN
    code = gain_cli.main([*args, *fast, "-o", str(tmp_path / "out")])
    assert_one_error_line(code, capsys.readouterr().err, case.blame, case.words)


@pytest.mark.parametrize("name", SKYFLAT_CASES)
def test_nircam_skyflat_bad_input(name, tmp_path, capsys, flats, cals):
    case = skyflat_case(name, tmp_path, flats, cals)
    code = skyflat_cli.main([*case.cli_args(), "-o", str(tmp_path / "out"), "-q", "--no-figures"])
    assert_one_error_line(code, capsys.readouterr().err, case.blame, case.words,
                          2 if name in SKYFLAT_REFUSED_BEFORE_WORK else 1)
    if name in SKYFLAT_REFUSED_BEFORE_WORK:
        assert not (tmp_path / "out").exists()


def _read_only_dir():
    """A folder even root cannot write in (sysfs), or None where there is none."""
    probe = "/sys/nircam-gui-test"
    if sys.platform != "linux" or not os.path.isdir("/sys"):
        return None
    try:
        os.mkdir(probe)
    except OSError:
        return probe
    os.rmdir(probe)
    return None


@pytest.mark.parametrize("where", ["read_only", "under_a_file"])
@pytest.mark.parametrize("command", ["gain", "skyflat", "sim flats", "sim images"])
def test_output_folder_not_writable(command, where, tmp_path, capsys, flats, cals, monkeypatch):
    if where == "read_only":
        outdir = _read_only_dir()
        if outdir is None:
            pytest.skip("no read-only folder on this system")
        words = "cannot write in this output folder: permission denied"
    else:
        (tmp_path / "a_file").write_text("x")
        outdir = str(tmp_path / "a_file" / "out")
        words = "cannot write in this output folder: a part of the path is a file"
    if command == "gain":
        import nircam_gui.core.gain.run as engine

        # the folder is checked before the analysis: a bad folder must not cost a whole run
        monkeypatch.setattr(engine, "run_gain", lambda *a, **k: pytest.fail("analysis ran before the check"))
        code = gain_cli.main([*map(str, flats.ramps), *FAST_GAIN, "-o", outdir])
    elif command == "skyflat":
        code = skyflat_cli.main([*cals.cal_files, "-q", "--no-figures", "-o", outdir])
    elif command == "sim flats":
        code = sim_cli.main(["flats", "--size", "64", "--nints", "2", "--ngroups", "2", "-q", "-o", outdir])
    else:
        code = sim_cli.main(["images", "--size", "64", "--n-images", "1", "-q", "-o", outdir])
    assert_one_error_line(code, capsys.readouterr().err, outdir, words)


def test_unexpected_error_is_one_line_with_a_hint(tmp_path, capsys, flats, monkeypatch):
    import nircam_gui.core.gain.run as engine

    def broken(*a, **k):
        raise RuntimeError("something nobody foresaw\nsecond line")

    monkeypatch.setattr(engine, "run_gain", broken)
    monkeypatch.delenv("NIRCAM_GUI_DEBUG", raising=False)
    code = gain_cli.main([*map(str, flats.ramps), *FAST_GAIN, "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert line == ("error: nircam-gain: unexpected RuntimeError: something nobody foresaw "
                    "(set NIRCAM_GUI_DEBUG=1 for the traceback, and please report it)")

    monkeypatch.setenv("NIRCAM_GUI_DEBUG", "1")
    code = gain_cli.main([*map(str, flats.ramps), *FAST_GAIN, "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" in err and "something nobody foresaw" in err


def _run(module: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NIRCAM_GUI_DEBUG": ""}
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_real_processes_exit_1_with_one_line(tmp_path, flats, cals):
    """The same through real processes: exit status, stderr, and nothing after the error line."""
    junk = tmp_path / "junk_uncal.fits"
    junk.write_text("not FITS")
    proc = _run("nircam_gui.cli.gain", str(junk), str(flats.ramps[1]), *FAST_GAIN, "-o", str(tmp_path / "g"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"error: {junk}: not a readable FITS file: it does not begin with "
                                                "a FITS header (the SIMPLE keyword)"]

    # a failure after the calibration has started: its warnings, each once, then the error
    mask = str(flats.references["MASK"])
    proc = _run("nircam_gui.cli.gain", *map(str, flats.ramps), *FAST_GAIN, "--superbias", mask,
                "-o", str(tmp_path / "g"))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == len(set(lines)), proc.stderr
    assert all(line.startswith("warning: ") for line in lines[:-1]) and lines
    assert lines[-1] == f"error: {mask}: is a MASK reference file, expected SUPERBIAS"

    proc = _run("nircam_gui.cli.skyflat", str(flats.ramps[0]), *cals.cal_files, "-q", "-o", str(tmp_path / "s"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr  # refused before any work
    assert proc.stderr.strip().splitlines()[-1] == (f"error: {flats.ramps[0]}: not a calibrated image; "
                                                    "found a raw _uncal ramp")
