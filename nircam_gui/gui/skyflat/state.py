"""Plain-Python state of the sky-flat and dead-pixel tabs (no Qt), bound to widgets elsewhere.

As in glue, what the user chose lives apart from the widgets that show it: the setup
(files, references, options) can be built, tested and turned into a ``run_skyflat`` call
and a ``nircam-skyflat`` command line without a display, and the dead-pixel view state (detector, threshold) is a small object
the panel reads when it draws.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from ...core.errors import NircamFileError
from ...core import options as option_schema
from ...core.readers import ExposureMeta, find_fits, read_metadata
from ...core.references import ReferenceSet
from ...core.skyflat.additive import check_templates, read_templates
from ...core.skyflat.inputs import check_inputs, filter_token
from ...core.skyflat.options import SkyflatOptions

__all__ = ["CalFile", "DeadPixelViewState", "SkyflatSetup", "Template", "scan_files", "scan_templates"]


@dataclass(frozen=True)
class CalFile:
    """One input image as the setup lists it."""

    path: str
    detector: str
    token: str  # filter, or FILTER_PUPIL when the pupil holds a filter
    full_frame: bool = True
    filter: str = ""
    pupil: str = ""


@dataclass(frozen=True)
class Reference:
    """A ground FLAT or MASK reference file."""

    path: str
    reftype: str
    detector: str
    token: str = ""
    #: the header summary the core finder matches on
    meta: ExposureMeta | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Template:
    """An additive-light (wisp) template file given for the run."""

    path: str
    detector: str  # "" when the file serves every detector


def input_problem(images, flats, templates=()) -> tuple[str, list[str]]:
    """The core's sky-flat input checks on these files: ``(problem, warnings)``.

    ``problem`` is "" if they pass, else "<file>: <problem>"; ``warnings`` are the check's
    own, e.g. a stack whose ``R_FLAT`` names none of the ground flats given. Additive
    templates are checked against the images as ``nircam-skyflat --additive-template`` checks
    them (a DETECTOR none of the images has, a frame size that differs). Reads every
    image's header and every template, so the panel runs it in a worker.
    """
    try:
        checked = check_inputs(list(images), list(flats))
        if templates:
            check_templates(list(templates), checked.frame_shapes())
    except NircamFileError as exc:
        return str(exc), []
    return "", list(checked.warnings)


def scan_templates(paths) -> tuple[list[Template], list[str]]:
    """Read additive templates one by one: ``(templates, problems)``, a problem per unusable file.

    Each file is read with the core's reader, so a file the run would refuse is refused here
    with the same message.
    """
    found: list[Template] = []
    problems: list[str] = []
    for p in paths:
        try:
            (det, (path, _)), = read_templates([p]).items()
        except NircamFileError as exc:
            problems.append(str(exc))
            continue
        found.append(Template(path, det))
    return found, problems


def scan_files(paths) -> tuple[list[CalFile], list[Reference], list[str]]:
    """Sort files (folders expanded, subfolders included) into _cal images and reference files.

    Only headers are read. Returns ``(images, references, problems)``; a problem is a
    message ``"<file>: <why it was skipped>"``.
    """
    images: list[CalFile] = []
    refs: list[Reference] = []
    problems: list[str] = []
    todo: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            todo.extend(find_fits(p))
            todo.extend(f for sub in sorted(p.iterdir()) if sub.is_dir() and not sub.name.startswith(".")
                        for f in find_fits(sub))
        else:
            todo.append(p)
    for p in todo:
        try:
            meta: ExposureMeta = read_metadata(p)
        except NircamFileError as exc:
            problems.append(str(exc))
            continue
        det = (meta.detector or "").upper()
        if meta.reftype in ("FLAT", "MASK"):
            token = filter_token(meta.filter, meta.pupil) if meta.reftype == "FLAT" and meta.filter else ""
            refs.append(Reference(os.fspath(p), meta.reftype, det, token, meta))
        elif meta.kind in ("cal", "rate") and not meta.reftype:
            if not det:
                problems.append(f"{p}: no DETECTOR keyword; skipped")
                continue
            images.append(CalFile(os.fspath(p), det, filter_token(meta.filter or "?", meta.pupil),
                                  meta.is_full_frame, meta.filter or "", meta.pupil or ""))
        elif meta.kind != "unknown":
            problems.append(f"{p}: {meta.description}, not a calibrated image or FLAT/MASK; skipped")
    return images, refs, problems


@dataclass
class SkyflatSetup:
    """What the next sky-flat run uses: images, ground references, predictions, options."""

    images: list[CalFile] = field(default_factory=list)
    flats: list[Reference] = field(default_factory=list)
    masks: list[Reference] = field(default_factory=list)
    predictions: str = ""
    #: additive-light templates (``nircam-skyflat --additive-template``)
    templates: list[Template] = field(default_factory=list)
    options: SkyflatOptions = field(default_factory=SkyflatOptions)
    #: what :func:`~nircam_gui.core.skyflat.inputs.check_inputs` refused for the current
    #: images and flats ("" when nothing); set by :func:`input_problem` run in a worker
    input_problem: str = ""
    #: the warnings of that check (ground flats matched by the images' R_FLAT, as the run matches them)
    input_warnings: list[str] = field(default_factory=list)

    def add(self, images: list[CalFile], refs: list[Reference]) -> None:
        """Add files, keeping each path once."""
        seen = {c.path for c in self.images}
        self.images += [c for c in images if c.path not in seen]
        for ref in refs:
            target = self.flats if ref.reftype == "FLAT" else self.masks
            if ref.path not in {r.path for r in target}:
                target.append(ref)

    def remove(self, paths) -> None:
        paths = set(paths)
        self.images = [c for c in self.images if c.path not in paths]
        self.flats = [r for r in self.flats if r.path not in paths]
        self.masks = [r for r in self.masks if r.path not in paths]
        self.templates = [t for t in self.templates if t.path not in paths]

    def add_templates(self, templates: list[Template]) -> None:
        """Add additive templates, keeping each path once."""
        seen = {t.path for t in self.templates}
        self.templates += [t for t in templates if t.path not in seen]

    def clear(self) -> None:
        self.images, self.flats, self.masks, self.templates = [], [], [], []
        self.input_problem, self.input_warnings = "", []

    def grouped(self) -> dict[str, dict[str, list[CalFile]]]:
        """Images by detector, then filter token, sorted (what the run will stack)."""
        out: dict[str, dict[str, list[CalFile]]] = defaultdict(lambda: defaultdict(list))
        for c in sorted(self.images, key=lambda c: (c.detector, c.token, c.path)):
            out[c.detector][c.token].append(c)
        return {d: dict(t) for d, t in out.items()}

    def problems(self) -> list[str]:
        """Why a run cannot start yet (empty when it can)."""
        msgs = []
        if not self.images:
            msgs.append("Add _cal.fits images (files or folders).")
        for c in self.images:
            if not c.full_frame:
                msgs.append(f"{c.path}: not a full frame; the sky-flat method needs full frames")
        if self.predictions and not os.path.exists(self.predictions):
            msgs.append(f"{self.predictions}: predictions table does not exist")
        if not msgs and self.input_problem:
            msgs.append(self.input_problem)
        return msgs

    def input_key(self) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """The images, ground flats and additive templates the core's input checks look at."""
        return (tuple(c.path for c in self.images), tuple(r.path for r in self.flats),
                tuple(t.path for t in self.templates))

    def warnings(self) -> list[str]:
        """Things the run will do without (no ground flat for a filter, no mask, thin stacks).

        Ground flats are matched as the run matches them, by the file each stack's ``R_FLAT``
        names (the core's input check, :attr:`input_warnings`), not by detector and filter.
        """
        msgs = list(self.input_warnings)
        if self.templates and self.options.additive != "separate":
            msgs.append(f"additive templates are not used with Scattered light = {self.options.additive}")
        refs = self.references()
        minimum = self.options.min_coverage
        for det, by_token in self.grouped().items():
            if refs.find("MASK", detector=det) is None:
                msgs.append(f"{det}: no ground MASK; ground dead pixels taken from the images' DQ")
            for token, files in by_token.items():
                if not self.flats:
                    msgs.append(f"{det} {token}: no ground FLAT given; no new flat for it")
                if len(files) < minimum:
                    msgs.append(f"{det} {token}: {len(files)} image(s), fewer than the {minimum} a pixel needs "
                                "to be judged dead")
        return msgs

    def references(self) -> ReferenceSet:
        """The ground FLAT and MASK files, matched to images as the run matches them."""
        return ReferenceSet([r.meta for r in [*self.flats, *self.masks] if r.meta is not None])

    def run_kwargs(self) -> dict:
        """Keyword arguments of :func:`~nircam_gui.core.skyflat.run.run_skyflat` (outdir aside)."""
        return {"ground_flats": [r.path for r in self.flats], "ground_masks": [r.path for r in self.masks],
                "additive_templates": [t.path for t in self.templates], "options": replace(self.options)}

    def command_line(self, outdir: str = "OUTDIR") -> str:
        """The ``nircam-skyflat`` command that does the same run (shown to the user)."""
        args = ["nircam-skyflat", *[c.path for c in self.images], "-o", outdir]
        if self.flats:
            args += ["--ground-flat", *[r.path for r in self.flats]]
        if self.masks:
            args += ["--ground-mask", *[r.path for r in self.masks]]
        args += option_schema.command_line(self.options)
        if self.templates:
            args += ["--additive-template", *[t.path for t in self.templates]]
        if self.predictions:
            args += ["--predictions", self.predictions]
        return option_schema.quote(args)

    def cli_options_only(self) -> list[str]:
        """Options the command line cannot set (changed here from their defaults)."""
        return option_schema.off_command_line(self.options)


@dataclass
class DeadPixelViewState:
    """What the dead-pixel tab shows: one detector at one threshold."""

    detector: str = ""
    threshold: float = 0.8
    selected_cluster: int = -1  # row of the concentrations table, -1 for none


def run_task(cal_files: list[str], predictions: str, kwargs: dict, progress=None, cancel=None):
    """The background run: read the predictions, then :func:`run_skyflat` keeping the source masks.

    Module-level and free of Qt so a child process can import and run it quickly.
    """
    from ...core.skyflat.background import read_predictions
    from ...core.skyflat.run import run_skyflat

    table = None
    if predictions:
        try:
            table = read_predictions(predictions)
        except (OSError, ValueError) as exc:
            raise NircamFileError(predictions, f"cannot read the predictions table ({exc})") from exc
    return run_skyflat(cal_files, predictions=table, progress=progress, cancel=cancel, keep_masks=True, **kwargs)


def export_task(result, outdir: str, threshold: float, progress=None, cancel=None) -> list[str]:
    """Write the products of ``result`` at the dead-pixel ``threshold``, as ``nircam-skyflat`` does."""
    from ...core.skyflat.products import write_skyflat_products

    return write_skyflat_products(result, outdir, dead_threshold=threshold, progress=progress, cancel=cancel)


def build_indexes(result, max_threshold: float = 0.995) -> dict:
    """A :class:`~nircam_gui.core.skyflat.deadpix.DeadPixelIndex` per detector of a run."""
    from ...core.skyflat.deadpix import DeadPixelIndex

    opt = result.options
    return {d: DeadPixelIndex(s.grey, ground_dead=s.ground_dead, coverage=s.coverage,
                              min_coverage=opt.min_coverage, max_threshold=max_threshold)
            for d, s in result.detectors.items()}
