"""``nircam-gui`` options: --geometry sets the window (and screenshot) size, --tab the first tab."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nircam_gui.cli.gui import build_parser, parse_geometry


def test_parse_geometry():
    assert parse_geometry("1366x768") == (1366, 768)
    assert parse_geometry("1920X1080") == (1920, 1080)
    for bad in ("1366", "wide", "100x100", "1366x768x2"):
        with pytest.raises(Exception, match="WIDTHxHEIGHT|between"):
            parse_geometry(bad)
    args = build_parser().parse_args(["--geometry", "1440x900", "--tab", "gain"])
    assert args.geometry == (1440, 900) and args.tab == "gain"


def test_bad_geometry_is_a_usage_error():
    out = subprocess.run([sys.executable, "-m", "nircam_gui.cli.gui", "--geometry", "big"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and "WIDTHxHEIGHT" in out.stderr


@pytest.mark.parametrize("size", [(1366, 768), (1440, 900)])
def test_screenshot_has_the_geometry(tmp_path, size):
    import numpy as np
    from astropy.io import fits

    path = tmp_path / "jw_nrca1_uncal.fits"
    header = fits.Header({"DETECTOR": "NRCA1", "NINTS": 1, "NGROUPS": 3, "READPATT": "RAPID", "SUBARRAY": "FULL"})
    ramp = (10000 + np.arange(3)[None, :, None, None] * 100 + np.zeros((1, 3, 64, 64))).astype(np.uint16)
    fits.HDUList([fits.PrimaryHDU(header=header), fits.ImageHDU(ramp, name="SCI")]).writeto(path)
    png = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               NIRCAM_GUI_SETTINGS=str(tmp_path / "settings.ini"), NIRCAM_GUI_DATA=str(tmp_path / "data"))
    out = subprocess.run([sys.executable, "-m", "nircam_gui.cli.gui", str(path), "--screenshot", str(png),
                          "--geometry", f"{size[0]}x{size[1]}", "--tab", "gain"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    from PIL import Image

    with Image.open(png) as image:
        assert image.size == size
