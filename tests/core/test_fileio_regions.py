import numpy as np
import pytest

from nircam_gui.core.errors import NircamFileError, OutputError
from nircam_gui.core.fileio import InputOverwriteError, atomic_path, staged_outputs
from nircam_gui.core.regionsio import polygons_mask, read_polygons, write_polygons


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_path(target) as tmp:
        assert tmp.name.endswith(".txt")
        tmp.write_text("new")
    assert target.read_text() == "new"


def test_atomic_write_refuses_to_overwrite_an_input(tmp_path):
    src = tmp_path / "in.fits"
    src.write_text("data")
    with pytest.raises(ValueError, match="input"):
        with atomic_path(src, protect=(src,)):
            pass
    assert src.read_text() == "data"


def test_staged_outputs_commit_all_or_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("old a")
    (out / "keep.txt").write_text("someone else's")
    with pytest.raises(RuntimeError):
        with staged_outputs(out) as stage:
            (stage / "a.txt").write_text("new a")
            (stage / "b.txt").write_text("new b")
            raise RuntimeError("the run failed half way")
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "keep.txt"]  # no staging folder left
    assert (out / "a.txt").read_text() == "old a"
    with staged_outputs(out) as stage:
        (stage / "a.txt").write_text("new a")
        (stage / "sub").mkdir()
        (stage / "sub" / "c.txt").write_text("new c")
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "keep.txt", "sub"]
    assert (out / "a.txt").read_text() == "new a" and (out / "sub" / "c.txt").read_text() == "new c"
    assert (out / "keep.txt").read_text() == "someone else's"


def test_staged_outputs_never_move_over_an_input(tmp_path):
    (tmp_path / "in.fits").write_text("input")
    with pytest.raises(InputOverwriteError, match="in.fits"):
        with staged_outputs(tmp_path, protect=(tmp_path / "in.fits",)) as stage:
            (stage / "product.fits").write_text("p")
            (stage / "in.fits").write_text("clobber")
    # checked before the first move: nothing of the run arrived
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.fits"]
    assert (tmp_path / "in.fits").read_text() == "input"


def test_staged_outputs_refuse_a_folder_in_the_way_before_moving_anything(tmp_path):
    (tmp_path / "a.txt").write_text("old a")
    (tmp_path / "c.txt").mkdir()
    with pytest.raises(OutputError, match="in the way"):
        with staged_outputs(tmp_path) as stage:
            (stage / "a.txt").write_text("new a")
            (stage / "c.txt").write_text("new c")
    assert (tmp_path / "a.txt").read_text() == "old a" and (tmp_path / "c.txt").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "c.txt"]


def test_staged_outputs_take_everything_back_when_a_move_fails(tmp_path, monkeypatch):
    import errno
    import os

    import nircam_gui.core.fileio as fileio

    for name in ("a.txt", "b.txt", "provenance.json"):
        (tmp_path / name).write_text(f"old {name}")
    real_replace = os.replace
    moved_in = []

    def flaky_replace(src, dst):
        if ".nircam-staging." in str(src) and ".replaced." not in str(src):
            moved_in.append(dst)
            if len(moved_in) == 3:  # the third file into the folder: the disk gives up
                raise OSError(errno.EIO, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(fileio.os, "replace", flaky_replace)
    with pytest.raises(OutputError, match="unchanged"):
        with staged_outputs(tmp_path) as stage:
            for name in ("a.txt", "b.txt", "new.txt", "provenance.json"):
                (stage / name).write_text(f"new {name}")
    assert len(moved_in) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt", "provenance.json"]
    for name in ("a.txt", "b.txt", "provenance.json"):
        assert (tmp_path / name).read_text() == f"old {name}"


def test_ds9_round_trip_is_exact_and_one_based(tmp_path):
    polys = [np.array([[10.25, 20.5], [100.0, 30.0], [60.0, 90.75]]), np.array([[0.0, 0.0], [5, 0], [5, 5]])]
    path = tmp_path / "void.reg"
    write_polygons(path, polys)
    text = path.read_text()
    assert "image" in text and "polygon(11.2500,21.5000" in text  # DS9 is 1-based
    back = read_polygons(path)
    assert len(back) == 2
    for a, b in zip(polys, back):
        np.testing.assert_array_equal(a, b)


def test_mask_and_bad_region_files(tmp_path):
    square = np.array([[9.5, 9.5], [19.5, 9.5], [19.5, 19.5], [9.5, 19.5]])
    assert polygons_mask([square], (32, 32)).sum() == 100
    bad = tmp_path / "bad.reg"
    bad.write_text("image\ncircle(10,10,5)\n")
    with pytest.raises(NircamFileError, match="bad.reg: only polygons"):
        read_polygons(bad)


def test_sha256sum_over_several_chunks(tmp_path):
    import hashlib

    from nircam_gui.core.fileio import sha256sum

    data = bytes(range(256)) * 1000 + b"tail"
    p = tmp_path / "f.bin"
    p.write_bytes(data)
    want = hashlib.sha256(data).hexdigest()
    assert sha256sum(p) == want
    assert sha256sum(p, chunk=1000) == want  # the last chunk short
    (tmp_path / "empty").write_bytes(b"")
    assert sha256sum(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()
