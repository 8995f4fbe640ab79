"""Safe file writing: atomically, never over an input, with clear errors."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import NircamFileError, OutputError

__all__ = ["InputOverwriteError", "atomic_path", "ensure_output_dir", "reserve", "sha256sum", "staged_outputs",
           "unstaged", "write_problem"]


class InputOverwriteError(OutputError, ValueError):
    """An output path that is one of the inputs (a ValueError too, as it was before)."""


def write_problem(exc: OSError) -> str:
    """A short phrase for why a write failed, in words a user can act on."""
    reasons = {
        errno.ENOSPC: "the disk is full (no space left on device)",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EACCES: "permission denied (the folder is not writable)",
        errno.EPERM: "permission denied (the folder is not writable)",
        errno.EROFS: "the file system is read-only",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.ENOENT: "the folder does not exist and cannot be made",
        errno.EISDIR: "a folder of that name is in the way",
    }
    return reasons.get(exc.errno, exc.strerror or str(exc) or type(exc).__name__)


def reserve(file, offset: int, nbytes: int) -> None:
    """Give ``nbytes`` of the open ``file`` from ``offset`` real disk blocks now (extending it).

    A memory-mapped write into a sparse file that the disk can no longer back kills
    the process with SIGBUS and no message. Reserving the blocks before mapping turns
    a full disk into an ordinary ``OSError`` (ENOSPC) raised here, which the writers
    report with the file's name.

    Raises
    ------
    OSError
        The space cannot be reserved (a full disk, a quota).
    """
    if nbytes > 0:
        if not hasattr(os, "posix_fallocate"):  # macOS, Windows: the file is only extended
            file.truncate(offset + nbytes)
            return
        try:
            os.posix_fallocate(file.fileno(), offset, nbytes)
        except OSError as exc:  # the bare error names no file
            raise OSError(exc.errno, exc.strerror, getattr(file, "name", None)) from None


def ensure_output_dir(path: str | os.PathLike) -> Path:
    """Make the output folder ``path`` if needed and check that files can be written in it.

    Checking before a long analysis, rather than when its products are written,
    means a bad output folder costs the user seconds, not the whole run. The check
    writes and removes a small file, as permissions alone do not tell (root,
    read-only mounts, network shares).

    Raises
    ------
    OutputError
        When the folder cannot be made or written to.
    """
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            raise OutputError(path, "is a file, not a folder; choose an output folder")
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".nircam-write-test.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(path, f"cannot write in this output folder: {write_problem(exc)}") from None
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, protect: tuple[str | os.PathLike, ...] = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    A crash or an exception leaves any existing ``path`` untouched and removes the
    temporary file. ``protect`` lists input files that must never be overwritten.

    Raises
    ------
    OutputError
        The folder cannot be written, or writing failed (e.g. a full disk); the
        ``OSError`` is the cause. Other exceptions from the body pass unchanged.

    Examples
    --------
    >>> with atomic_path("out.fits") as tmp:  # doctest: +SKIP
    ...     hdul.writeto(tmp)
    """
    path = Path(path)
    _refuse_input(path, protect)
    # keep the real suffix last: writers such as stdatamodels choose the format by it
    suffix = "".join(path.suffixes) or ".tmp"
    stem = path.name[: len(path.name) - len("".join(path.suffixes))] if path.suffixes else path.name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".part{suffix}", dir=path.parent)
    except OSError as exc:
        raise OutputError(path, f"cannot be written: {write_problem(exc)}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; give the result the permissions of a normal new file
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except OSError as exc:
        # the writers (astropy, stdatamodels, matplotlib) raise bare OSErrors that name
        # the temporary file or nothing at all: name the real output instead
        kept = "; the previous version is unchanged" if path.exists() else ""
        raise OutputError(path, f"could not be written: {write_problem(exc)}{kept}") from exc
    finally:
        with contextlib.suppress(OSError):  # a failed clean-up must not hide the real error
            if tmp_path.exists():
                tmp_path.unlink()


def _refuse_input(path: Path, protect) -> None:
    for p in protect:
        if Path(p).exists() and path.exists() and os.path.samefile(p, path):
            raise InputOverwriteError(path, "is an input of this run; refusing to overwrite it (choose another "
                                            "output folder)")


@contextlib.contextmanager
def staged_outputs(outdir: str | os.PathLike, protect: tuple[str | os.PathLike, ...] = (),
                   last: tuple[str, ...] = ("provenance.json",)) -> Iterator[Path]:
    """Yield a hidden folder inside ``outdir`` for a run's products; move them all into
    ``outdir`` when the body ends without an exception.

    A run that fails, is cancelled or is interrupted leaves ``outdir`` exactly as it
    was, the outputs of an earlier run included: its products only ever existed in the
    staging folder, which is removed. Every destination is checked before the first move
    (not an input in ``protect``, not a folder). Each move is an atomic rename on the same
    file system, and a file it replaces is set aside first: should a move fail part way
    (or Ctrl-C come), the files already moved are taken back and the set-aside ones
    restored. Files named in ``last`` (the provenance) move after the others, so their
    presence means the rest is in place.
    """
    outdir = Path(outdir)
    try:
        stage = Path(tempfile.mkdtemp(prefix=".nircam-staging.", dir=outdir))
    except OSError as exc:
        raise OutputError(outdir, f"cannot write in this output folder: {write_problem(exc)}") from None
    try:
        try:
            yield stage
        except NircamFileError as exc:  # name the real output, not its staged copy
            if not Path(exc.path).is_relative_to(stage):
                raise
            dest = unstaged(exc.path, stage, outdir)
            problem = exc.problem
            if isinstance(exc, OutputError) and dest.exists() and "unchanged" not in problem:
                problem += "; the previous version is unchanged"
            raise type(exc)(dest, problem) from exc.__cause__
        _commit(stage, outdir, protect, last)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def unstaged(path: str | os.PathLike, stage: Path, outdir: str | os.PathLike) -> Path:
    """Where a file written at ``path`` in the folder :func:`staged_outputs` yielded (``stage``)
    stands once it is moved into ``outdir``."""
    return Path(outdir) / Path(path).relative_to(stage)


def _commit(stage: Path, outdir: Path, protect, last: tuple[str, ...]) -> None:
    """Move the staged files into ``outdir``, all or none."""
    files = [p.relative_to(stage) for p in stage.rglob("*") if p.is_file()]
    files.sort(key=lambda rel: (rel.name in last, str(rel)))
    for rel in files:  # every check before the first move
        dest = outdir / rel
        _refuse_input(dest, protect)
        if dest.is_dir() or any(p.exists() and not p.is_dir() for p in dest.parents if outdir in p.parents):
            raise OutputError(dest, "could not be written: a folder or file of that name is in the way; "
                                    "the output folder is unchanged")
    aside = Path(tempfile.mkdtemp(prefix=".replaced.", dir=stage))
    done: list[tuple[Path, Path | None]] = []  # (destination, the file it replaced, set aside)
    dest = outdir
    try:
        for k, rel in enumerate(files):
            dest = outdir / rel
            old = None
            if dest.exists() or dest.is_symlink():
                old = aside / str(k)
                os.replace(dest, old)
            done.append((dest, old))
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage / rel, dest)
    except BaseException as exc:
        for dest, old in reversed(done):  # take this run's files back, put the old ones back
            with contextlib.suppress(OSError):
                if old is None:
                    dest.unlink(missing_ok=True)
                else:
                    os.replace(old, dest)
        if isinstance(exc, OSError):
            raise OutputError(dest, f"could not be written: {write_problem(exc)}; the output folder is "
                                    "unchanged") from exc
        raise


def sha256sum(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, read in chunks into one buffer (hashing a GB of ramps into new
    4 MB blocks would fault in a GB of fresh memory)."""
    h = hashlib.sha256()
    buf = bytearray(chunk)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()
