"""Sessions: everything a user set up and the last results, in one file, restored without recomputing.

A session file (``.ncsession``) is a zip archive: ``session.json`` holds the inputs (ramps,
reference files, _cal images, predictions), the epoxy-void regions, the options of both
analyses, the display settings and the file open in the Image tab; ``gain_result.pickle`` and
``skyflat_result.pickle`` hold the last results as the analyses returned them (with the
dead-pixel index), ``validation_result.pickle`` the last flat validation of the Sky flat tab's
Validation page (its inputs are in ``session.json``). Results are Python pickles: open only session files you or a colleague
wrote. The file is written atomically.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..core.errors import NircamFileError

__all__ = ["SESSION_SUFFIX", "collect_state", "open_session", "save_session"]

SESSION_SUFFIX = ".ncsession"
FORMAT = "nircam-gui session"
VERSION = 1


def _display(viewer) -> dict:
    s = viewer.state
    return {"limits": s.limits if s.limits != "manual" else "zscale", "scaling": s.scaling,
            "colormap": s.colormap, "difference": bool(s.difference)}


def collect_state(window) -> dict:
    """The JSON-able part of a session (no results)."""
    gain = window.gain_panel
    setup = gain.setup
    sky = window.analysis_panels["Sky flat"]
    sflat = sky.session
    viewer = window.viewer
    state = {
        "format": FORMAT, "version": VERSION,
        "display": {"image": _display(viewer), "gain": _display(gain.viewer),
                    "nan_colour": list(getattr(window, "nan_colour", viewer.state.nan_colour))},
        "image": ({"path": viewer.source.path, "integration": viewer.state.integration,
                   "group": viewer.state.group} if viewer.source is not None else None),
        "tab": window.tabs.tabText(window.tabs.currentIndex()),
        "gain": {
            "files": list(setup.files),
            "references": setup.references(),
            "box": setup.box_combo.currentText(),
            "signal_limit": setup.limit_spin.value(),
            "groups": setup.groups_spin.value(),
            "ipc": setup.ipc_combo.currentData(),
            "first_pair": setup.first_combo.currentData(),
            "regions": [np.asarray(p, float).tolist() for p in gain.model.polygons],
            "regions_path": gain.model.path or "",
            "selection": list(gain.selection),
        },
        "skyflat": {
            "paths": [c.path for c in sflat.setup.images] + [r.path for r in sflat.setup.flats]
                     + [r.path for r in sflat.setup.masks],
            "predictions": sflat.setup.predictions,
            "additive_templates": [t.path for t in sflat.setup.templates],
            "options": dataclasses.asdict(sflat.setup.options),
            "threshold": sflat.view.threshold,
            "detector": sflat.view.detector,
            "flats_detector": sky.detector_view.detector_combo.currentText(),
            "view": sky.detector_view.view_combo.currentText(),
            "source_mask": sky.detector_view.mask_combo.currentData() or "",
            "validation": sky.validation.inputs_state(),
        },
    }
    return state


def save_session(window, path: str | os.PathLike) -> str:
    """Write the window's session to ``path`` (``.ncsession`` added if missing); returns the path."""
    path = Path(path)
    if path.suffix != SESSION_SUFFIX:
        path = path.with_name(path.name + SESSION_SUFFIX)
    state = collect_state(window)
    gain = window.gain_panel
    sflat = window.analysis_panels["Sky flat"].session
    validation = window.analysis_panels["Sky flat"].validation.result
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("session.json", json.dumps(state, indent=1))
            if gain.result is not None:
                geometry = getattr(gain.overlay, "geometry", None)
                z.writestr("gain_result.pickle", pickle.dumps(
                    {"result": gain.result, "geometry": geometry, "polygons": gain.run_polygons},
                    protocol=pickle.HIGHEST_PROTOCOL))
            if sflat.result is not None:
                z.writestr("skyflat_result.pickle", pickle.dumps(
                    {"result": sflat.result, "indexes": sflat.indexes}, protocol=pickle.HIGHEST_PROTOCOL))
            if validation is not None:
                z.writestr("validation_result.pickle", pickle.dumps(validation, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return str(path)


def read_session(path: str | os.PathLike) -> tuple[dict, dict | None, dict | None, object | None]:
    """``(state, gain results, sky-flat results, flat validation result)`` of a session file.

    Raises
    ------
    NircamFileError
        Not a session file, a newer format, or damaged.
    """
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "session.json" not in names:
                raise NircamFileError(path, "not a nircam-gui session file (no session.json inside)")
            state = json.loads(z.read("session.json"))
            if state.get("format") != FORMAT:
                raise NircamFileError(path, "not a nircam-gui session file")
            if int(state.get("version", 0)) > VERSION:
                raise NircamFileError(path, f"session format {state['version']} is newer than this version "
                                            f"reads ({VERSION}); update nircam-gui")
            gain = pickle.loads(z.read("gain_result.pickle")) if "gain_result.pickle" in names else None
            sky = pickle.loads(z.read("skyflat_result.pickle")) if "skyflat_result.pickle" in names else None
            validation = (pickle.loads(z.read("validation_result.pickle"))
                          if "validation_result.pickle" in names else None)
    except FileNotFoundError:
        raise NircamFileError(path, "no such session file") from None
    except (zipfile.BadZipFile, json.JSONDecodeError, pickle.UnpicklingError, EOFError, KeyError) as exc:
        raise NircamFileError(path, f"damaged session file ({exc})") from None
    return state, gain, sky, validation


def open_session(window, path: str | os.PathLike) -> dict:
    """Restore a session into ``window``: inputs, regions, options, display and the last results."""
    from ..core.skyflat.options import SkyflatOptions

    state, gain_res, sky_res, validation_res = read_session(path)
    origin = f"restored from {os.path.basename(os.fspath(path))}"
    g = state.get("gain", {})
    panel = window.gain_panel
    setup = panel.setup
    for reftype, ref in (g.get("references") or {}).items():
        if reftype in setup.ref_edits:
            setup.set_reference(reftype, ref or "")
    # a key missing from the file leaves the widget at the option schema's default
    if "box" in g:
        setup.box_combo.setCurrentText(str(g["box"]))
    if "signal_limit" in g:
        setup.limit_spin.setValue(float(g["signal_limit"]))
    if "groups" in g:
        setup.groups_spin.setValue(int(g["groups"]))
    for combo, key in ((setup.ipc_combo, "ipc"), (setup.first_combo, "first_pair")):
        i = combo.findData(g.get(key))
        if i >= 0:
            combo.setCurrentIndex(i)
    panel.model.clear()
    for poly in g.get("regions", []):
        panel.model.add_polygon(np.asarray(poly, float))
    panel.model.path = g.get("regions_path", "")
    panel.model.modified = False
    panel._regions_changed()
    files = [f for f in g.get("files", []) if os.path.isfile(f)]
    if files:
        setup.set_files(files)
    if gain_res is not None:
        panel.set_result(gain_res["result"], gain_res.get("geometry"), gain_res.get("polygons"), origin=origin)
        if g.get("selection"):
            panel.select_boxes([int(b) for b in g["selection"]])

    s = state.get("skyflat", {})
    sky = window.analysis_panels["Sky flat"]
    session = sky.session
    options = {k: v for k, v in (s.get("options") or {}).items()
               if k in {f.name for f in dataclasses.fields(SkyflatOptions)}}
    if options:
        sky.setup.set_options(SkyflatOptions(**options))
    if s.get("predictions"):
        sky.setup.set_predictions(s["predictions"])
    paths = [p for p in s.get("paths", []) if os.path.exists(p)]
    if paths:
        sky.setup.add_paths(paths)
    templates = [p for p in s.get("additive_templates", []) if os.path.exists(p)]
    for p in s.get("additive_templates", []):
        if p not in templates:  # else the next run would fit a template without a word
            sky.setup.error.emit(f"{p}: additive template of the session not found; the run fits one instead")
    if templates:
        sky.setup.add_templates(templates)
    if sky_res is not None:
        session.restore(sky_res["result"], sky_res["indexes"], detector=s.get("detector"),
                        threshold=s.get("threshold"), origin=origin)
        view = sky.detector_view  # what the Flats page showed: detector, view, source mask
        if s.get("flats_detector") and view.detector_combo.findText(s["flats_detector"]) >= 0:
            view.detector_combo.setCurrentText(s["flats_detector"])
        if s.get("view") and view.view_combo.findText(s["view"]) >= 0:
            view.view_combo.setCurrentText(s["view"])
        if s.get("source_mask") and view.mask_combo.findData(s["source_mask"]) >= 0:
            view.show_mask_of(s["source_mask"])
    if s.get("validation"):
        sky.validation.set_inputs_state(s["validation"])
    if validation_res is not None:
        sky.validation.set_result(validation_res, origin=origin)

    d = state.get("display", {})
    if isinstance(d.get("nan_colour"), list) and len(d["nan_colour"]) == 3:
        window.set_nan_colour(tuple(int(c) for c in d["nan_colour"]))
    for viewer, key in ((window.viewer, "image"), (panel.viewer, "gain")):
        if d.get(key):
            viewer.set_state(**d[key])
    image = state.get("image")
    if image and os.path.isfile(image.get("path", "")):
        def at_frame(*_):
            window.viewer.loaded.disconnect(at_frame)
            window.viewer.set_state(integration=int(image.get("integration", 0)), group=int(image.get("group", 0)))
        window.viewer.loaded.connect(at_frame)
        window.viewer.open(image["path"])
    tab = state.get("tab")
    for i in range(window.tabs.count()):
        if window.tabs.tabText(i) == tab:
            window.tabs.setCurrentIndex(i)
    return state
