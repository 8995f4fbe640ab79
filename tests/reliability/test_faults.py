"""Nothing lost: atomic outputs under a full disk, an exception, a cancel or a kill; inputs never
modified; files that change while they are read."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from nircam_gui.cli import gain as gain_cli
from nircam_gui.core.errors import NircamFileError, OutputError
from nircam_gui.core.fileio import atomic_path, sha256sum
from nircam_gui.core.gain import run as gain_run
from nircam_gui.core.gain.run import GainOptions, run_gain
from nircam_gui.core.gain.products import write_gain_products
from nircam_gui.core.progress import Cancelled
from nircam_gui.core.readers import open_image, open_ramp
from nircam_gui.core.skyflat.options import SkyflatOptions
from .skyflat_run import run_and_write as run_skyflat

from .conftest import FAST_GAIN, copy_set

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    """Temporary files of atomic_path (``.<stem>.<random>.part<suffix>``), write probes and staging folders."""
    return [p.name for p in folder.rglob("*")
            if ".part" in p.name or p.name.startswith((".nircam-write-test", ".nircam-staging"))]


# -- atomic_path itself ----------------------------------------------------------------------------

@pytest.mark.parametrize("existed", [True, False])
def test_full_disk_keeps_the_old_file_and_no_temporary(tmp_path, existed):
    target = tmp_path / "gain_map.fits"
    if existed:
        target.write_bytes(b"the previous result")
    with pytest.raises(OutputError) as info:
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half of the new res")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert info.value.path == str(target)
    assert "could not be written: the disk is full" in info.value.problem
    assert ("previous version is unchanged" in info.value.problem) == existed
    assert isinstance(info.value.__cause__, OSError)
    if existed:
        assert target.read_bytes() == b"the previous result"
    else:
        assert not target.exists()
    assert leftovers(tmp_path) == []


def test_an_output_that_is_an_input_is_refused_by_name(tmp_path):
    ramp = tmp_path / "gain_map.fits"
    ramp.write_bytes(b"precious input")
    with pytest.raises(OutputError) as info:
        with atomic_path(ramp, protect=(ramp,)) as tmp:
            tmp.write_bytes(b"product")
    assert isinstance(info.value, ValueError)  # as before, for callers that caught ValueError
    assert info.value.path == str(ramp) and "refusing to overwrite" in info.value.problem
    assert ramp.read_bytes() == b"precious input" and leftovers(tmp_path) == []


def test_other_errors_in_a_writer_pass_unchanged_and_leave_nothing(tmp_path):
    target = tmp_path / "boxes.ecsv"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="writer bug"):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("writer bug")
    assert target.read_text() == "old" and leftovers(tmp_path) == []


def test_a_killed_writer_never_leaves_a_half_written_file(tmp_path):
    """SIGKILL in the middle of a write (no clean-up can run): the target keeps its old content."""
    target = tmp_path / "sectors.ecsv"
    target.write_text("complete old table\n")
    child = textwrap.dedent(f"""
        import sys
        from nircam_gui.core.fileio import atomic_path
        with atomic_path({str(target)!r}) as tmp:
            with open(tmp, "w") as f:
                f.write("half a tab")
                f.flush()
                print("writing", flush=True)
                sys.stdin.read()  # wait here until killed
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        proc.stdin.close()
        proc.stdout.close()
    assert target.read_text() == "complete old table\n"
    # the orphaned temporary is hidden and never has the target's name
    assert all(name.startswith(".sectors.") for name in leftovers(tmp_path))


# -- gain products ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gain_result(flats):
    return run_gain([str(p) for p in flats.ramps], GainOptions(ipc="none", box=32))


def test_gain_products_on_a_full_disk_keep_the_previous_run(tmp_path, gain_result, monkeypatch):
    out = tmp_path / "out"
    write_gain_products(gain_result, out, figures=False)
    before = snapshot(out)
    real_write = Table.write

    def full_disk(self, path, *args, **kwargs):
        if kwargs.get("format") == "ascii.ecsv":
            Path(path).write_text("# %ECSV 1.0\n# ---\n# datatype: [")  # a partial file, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(self, path, *args, **kwargs)

    monkeypatch.setattr(Table, "write", full_disk)
    with pytest.raises(OutputError) as info:
        write_gain_products(gain_result, out, figures=False)
    assert info.value.path == str(out / "boxes.ecsv")
    assert "the disk is full" in info.value.problem and "previous version is unchanged" in info.value.problem
    after = snapshot(out)
    assert set(after) == set(before) and leftovers(out) == []
    assert after == before  # staged: not one file of the failed run arrived
    for name in after:  # each file is the old one or a complete new one
        if name.endswith(".fits"):
            with fits.open(out / name) as hdul:
                hdul.verify("exception")
    with fits.open(out / "gain_mask.fits") as hdul:
        assert "DQ" in hdul  # the map's flags, written in the same staged set


def test_gain_products_never_move_over_an_input(tmp_path, gain_result):
    """The products are written in a staging folder; the move into the output folder checks
    every one of them against the inputs (here gain_map.fits is a link to a ramp)."""
    ramp = Path(gain_result.files[0])
    before = ramp.read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    (out / "gain_map.fits").symlink_to(ramp)
    with pytest.raises(OutputError) as info:
        write_gain_products(gain_result, out, figures=False)
    assert info.value.path == str(out / "gain_map.fits") and "refusing to overwrite" in info.value.problem
    assert ramp.read_bytes() == before
    assert [p.name for p in out.iterdir()] == ["gain_map.fits"] and leftovers(out) == []


def test_nircam_gain_full_disk_is_one_line(tmp_path, flats, capsys, monkeypatch):
    def full_disk(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fits.HDUList, "writeto", full_disk)
    out = tmp_path / "out"
    code = gain_cli.main([*map(str, flats.ramps), *FAST_GAIN, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert line.startswith(f"error: {out}/") and "could not be written: the disk is full" in line
    assert leftovers(out) == []


def test_a_writer_exception_leaves_no_partial_gain_file(tmp_path, gain_result, monkeypatch):
    import nircam_gui.core.gain.figures as gain_figures

    def broken(*args, **kwargs):
        raise RuntimeError("matplotlib fell over")

    monkeypatch.setattr(gain_figures, "write_figures", broken)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        write_gain_products(gain_result, out, figures=True)
    assert leftovers(out) == []
    for p in out.glob("*.fits"):
        with fits.open(p) as hdul:
            hdul.verify("exception")
    assert Table.read(out / "boxes.ecsv", format="ascii.ecsv")["gain"].shape == (gain_result.boxes.nbox,)


def test_cancelled_gain_run_writes_nothing(tmp_path, flats, capsys, monkeypatch):
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3  # mid-way through the first pair

    with pytest.raises(Cancelled):
        run_gain([str(p) for p in flats.ramps], GainOptions(ipc="none", box=32), cancel=cancel)
    # and through the command, as Ctrl-C does it
    real = gain_run.run_gain
    monkeypatch.setattr(gain_run, "run_gain", lambda files, opts, progress, _: real(files, opts, progress, cancel))
    calls.clear()
    out = tmp_path / "out"
    assert gain_cli.main([*map(str, flats.ramps), *FAST_GAIN, "-o", str(out)]) == 130
    assert "stopped by the user" in capsys.readouterr().err
    assert list(out.iterdir()) == []


# -- sky flats -------------------------------------------------------------------------------------

def test_skyflat_full_disk_names_the_file_and_leaves_no_temporary(tmp_path, cals, monkeypatch):
    def full_disk(self, path, *args, **kwargs):
        Path(path).write_bytes(b"SIMPLE  =                    T")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fits.HDUList, "writeto", full_disk)
    out = tmp_path / "out"
    with pytest.raises(OutputError) as info:
        run_skyflat(cals.cal_files, out, options=SkyflatOptions(figures=False, checksums=False))
    assert info.value.path.startswith(str(out)) and "the disk is full" in info.value.problem
    assert leftovers(out) == [] and not any(p.suffix == ".fits" for p in out.iterdir())


def test_cancelled_skyflat_run_removes_its_outputs(tmp_path, cals):
    out = tmp_path / "out"
    seen = []

    def progress(fraction, message):
        seen.append(message)

    def cancel():  # once the first product is written
        return any("fit" in m for m in seen)

    with pytest.raises(Cancelled):
        run_skyflat(cals.cal_files, out, options=SkyflatOptions(figures=False, checksums=False),
                    progress=progress, cancel=cancel)
    assert [p.name for p in out.iterdir()] == []


def test_cancelled_rerun_keeps_the_earlier_outputs(tmp_path, cals):
    """A second run into the same folder, cancelled after it wrote its products, leaves the
    first run's files byte for byte: they are replaced only when the new run completes."""
    out = tmp_path / "out"
    opts = SkyflatOptions(figures=False, checksums=False)
    run_skyflat(cals.cal_files, out, options=opts)
    before = _digests(sorted(out.iterdir()))
    seen = []
    with pytest.raises(Cancelled):
        run_skyflat(cals.cal_files, out, options=SkyflatOptions(figures=False, checksums=False, dead_threshold=0.6),
                    progress=lambda fraction, message: seen.append(message),
                    cancel=lambda: any(m.endswith("written") for m in seen))
    assert any(m.endswith("written") for m in seen)  # the products had been made
    assert _digests(sorted(out.iterdir())) == before  # and no staging folder is left


# -- inputs are never modified ---------------------------------------------------------------------

def _digests(paths) -> dict[str, str]:
    return {str(p): sha256sum(p) for p in paths}


def test_gain_run_leaves_every_input_byte_identical(tmp_path, flats):
    refs = flats.references
    inputs = [*flats.ramps, *refs.values(), flats.regions]
    before = _digests(inputs)
    stat_before = {str(p): os.stat(p).st_mtime_ns for p in inputs}
    args = ["--box", "32", "--no-figures", "-q", "--regions", str(flats.regions), "--ipc", "exact",
            "--ipc-kernel", str(refs["IPC"]), "--superbias", str(refs["SUPERBIAS"]), "--linearity",
            str(refs["LINEARITY"]), "--saturation", str(refs["SATURATION"]), "--mask", str(refs["MASK"])]
    assert gain_cli.main([*map(str, flats.ramps), *args, "-o", str(tmp_path / "out")]) == 0
    assert _digests(inputs) == before
    assert {str(p): os.stat(p).st_mtime_ns for p in inputs} == stat_before


def test_skyflat_run_leaves_every_input_byte_identical(tmp_path, cals):
    inputs = [*cals.cal_files, *cals.flat_files, *cals.mask_files]
    before = _digests(inputs)
    run_skyflat(cals.cal_files, tmp_path / "out", ground_flats=cals.flat_files, ground_masks=cals.mask_files,
                options=SkyflatOptions(figures=False))
    assert _digests(inputs) == before


def test_an_output_folder_that_is_the_input_folder_never_overwrites_inputs(tmp_path, cals):
    """Products go beside the inputs, which keep their bytes: names never collide with _cal files."""
    folder = tmp_path / "data"
    images = copy_set(cals.cal_files, folder)
    before = _digests(images)
    run_skyflat(images, folder, options=SkyflatOptions(figures=False, checksums=False))
    assert _digests(images) == before


# -- files that change while they are read ---------------------------------------------------------

def _truncate(path: Path, fraction: float = 0.5) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(int(size * fraction))


def test_ramp_truncated_after_it_was_opened(tmp_path, flats):
    (p,) = copy_set(flats.ramps[:1], tmp_path)
    with open_ramp(p) as ramp:
        ramp.read_groups(0, 0, 1)
        _truncate(p)
        with pytest.raises(NircamFileError) as info:
            ramp.read_groups(0, 0, ramp.meta.ngroups)
    assert info.value.path == str(p)
    assert "the file changed while it was read" in info.value.problem


def test_image_truncated_after_it_was_opened(tmp_path, cals):
    (p,) = copy_set(cals.cal_files[:1], tmp_path)
    with fits.open(p) as hdul:  # cut half way through the SCI data, whatever follows it
        sci = hdul["SCI"]
        middle = sci._data_offset + sci.size // 2  # HDU size is in bytes
    img = open_image(p)
    try:
        _truncate(p, middle / p.stat().st_size)
        with pytest.raises(NircamFileError, match="changed while it was read"):
            img.sci
    finally:
        img.close()


def test_gain_ramp_truncated_between_inspect_and_read(tmp_path, flats, monkeypatch):
    ramps = copy_set(flats.ramps, tmp_path)
    real = gain_run.calibrate_integration

    def truncate_then_calibrate(path, *args, **kwargs):
        if Path(path) == ramps[1]:
            _truncate(ramps[1])
        return real(path, *args, **kwargs)

    monkeypatch.setattr(gain_run, "calibrate_integration", truncate_then_calibrate)
    with pytest.raises(NircamFileError) as info:
        run_gain(ramps, GainOptions(ipc="none", box=32))
    assert info.value.path == str(ramps[1]) and "is truncated" in info.value.problem


def test_gain_ramp_replaced_by_another_shape_while_read(tmp_path, flats, flats_64, monkeypatch):
    ramps = copy_set(flats.ramps, tmp_path)
    real = gain_run.calibrate_integration

    def replace_then_calibrate(path, *args, **kwargs):
        if Path(path) == ramps[1] and ramps[1].stat().st_size == Path(flats.ramps[1]).stat().st_size:
            ramps[1].write_bytes(Path(flats_64.ramps[1]).read_bytes())
        return real(path, *args, **kwargs)

    monkeypatch.setattr(gain_run, "calibrate_integration", replace_then_calibrate)
    with pytest.raises(NircamFileError) as info:
        run_gain(ramps, GainOptions(ipc="none", box=32))
    assert info.value.path == str(ramps[1])
    assert "changed while it was read: its frames are now 64x64, were 128x128" in info.value.problem
