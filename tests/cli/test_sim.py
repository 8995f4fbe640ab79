import subprocess
import sys

import pytest

from nircam_gui.cli import gain, sim, skyflat
from nircam_gui.core.readers import read_metadata


def test_nircam_sim_flats(tmp_path, capsys):
    code = sim.main(["flats", "-o", str(tmp_path), "--size", "64", "--nints", "2", "--ngroups", "3", "-q",
                     "--detector", "B4"])
    assert code == 0
    files = sorted(tmp_path.glob("*_uncal.fits"))
    assert len(files) == 2 and read_metadata(files[0]).detector == "NRCB4"
    assert (tmp_path / "epoxy_void_nrcb4.reg").exists()  # B4 has a void in report Table 7
    assert "wrote 2 ramp file(s)" in capsys.readouterr().out


def test_nircam_sim_bad_detector_is_a_usage_error(tmp_path, capsys):
    assert sim.main(["flats", "-o", str(tmp_path), "--detector", "NRCZ9"]) == 2
    assert "unknown NIRCam detector" in capsys.readouterr().err


@pytest.mark.parametrize("module,argv", [(gain, ["f_uncal.fits", "-o", "out"]), (skyflat, ["a_cal.fits", "-o", "o"])])
def test_commands_parse_their_arguments(module, argv):
    args = module.build_parser().parse_args(argv)
    assert args.outdir in ("out", "o")


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "nircam_gui.cli.sim", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "flats" in out.stdout
