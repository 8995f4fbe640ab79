import os
from pathlib import Path

# GUI tests run headless; set before anything imports Qt
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


import json
import pprint
import re
import subprocess
import sys

import pytest


def _write_mapping(path, header: dict, selector: str) -> None:
    from crds.refactoring.checksum import update_checksum

    path.write_text(f"header = {pprint.pformat(header)}\n\nselector = {selector}\n")
    update_checksum(str(path))


@pytest.fixture(scope="session")
def crds_certify(tmp_path_factory):
    """``certify(*paths) -> (errors, warnings, output)``: ``crds certify`` with no server.

    The CRDS cache is a small local context (pmap, NIRCam imap, GAIN/FLAT/MASK rmaps) whose
    rules (parkeys) are those of the crds package's own jwst spec files.
    """
    import crds

    root = tmp_path_factory.mktemp("crds_cache")
    maps = root / "mappings" / "jwst"
    maps.mkdir(parents=True)
    (root / "config" / "jwst").mkdir(parents=True)
    (root / "references" / "jwst" / "nircam").mkdir(parents=True)
    specs = json.loads((Path(crds.__file__).parent / "jwst" / "specs" / "combined_specs.json").read_text())["nircam"]
    rmaps = {}
    for kind in ("gain", "flat", "mask"):
        spec = specs[kind]
        name = f"jwst_nircam_{kind}_0001.rmap"
        _write_mapping(maps / name, {"derived_from": "nircam-gui test context", "filekind": kind.upper(),
                                     "instrument": "NIRCAM", "mapping": "REFERENCE", "name": name,
                                     "observatory": "JWST", "classes": ("Match", "UseAfter"),
                                     # the spec's match keys, then the exposure date the UseAfter selects on
                                     "parkey": (*(tuple(k) for k in spec["parkey"]),
                                                ("META.OBSERVATION.DATE", "META.OBSERVATION.TIME")),
                                     "sha1sum": "", "suffix": kind},
                       "Match({\n})")
        rmaps[kind.upper()] = name
    _write_mapping(maps / "jwst_nircam_0001.imap", {"derived_from": "nircam-gui test context", "instrument": "NIRCAM",
                                                     "mapping": "INSTRUMENT", "name": "jwst_nircam_0001.imap",
                                                     "observatory": "JWST", "parkey": ("REFTYPE",), "sha1sum": ""},
                   pprint.pformat(rmaps))
    _write_mapping(maps / "jwst_0001.pmap", {"derived_from": "nircam-gui test context", "mapping": "PIPELINE",
                                              "name": "jwst_0001.pmap", "observatory": "JWST",
                                              "parkey": ("META.INSTRUMENT.NAME",), "sha1sum": ""},
                   pprint.pformat({"NIRCAM": "jwst_nircam_0001.imap"}))
    ctx = "jwst_0001.pmap"
    (root / "config" / "jwst" / "server_config").write_text(pprint.pformat({
        "observatory": "jwst", "operational_context": ctx, "edit_context": ctx, "versions_context": ctx,
        "bad_files_list": [], "force_remote_mode": False, "checked_for_bad_files": False, "last_synced": "never",
        "reference_url": {}, "mapping_url": {}}))
    env = {**os.environ, "CRDS_PATH": str(root), "CRDS_MODE": "local", "CRDS_CONTEXT": ctx,
           "CRDS_SERVER_URL": "https://jwst-serverless-mode.stsci.edu", "CRDS_OBSERVATORY": "jwst"}

    def certify(*paths):
        run = subprocess.run([sys.executable, "-m", "crds.certify", *map(str, paths), "--comparison-context", ctx],
                             env=env, capture_output=True, text=True, timeout=600)
        text = run.stdout + run.stderr
        counts = {k: int(n) for n, k in re.findall(r"CRDS - INFO -\s+(\d+) (errors|warnings)", text)}
        assert "errors" in counts, text  # certify ran to its summary
        return counts["errors"], counts.get("warnings", 0), text

    return certify


@pytest.fixture(scope="session")
def dask_cluster():
    """One ``distributed.LocalCluster`` of 2 worker processes for every campaign test of the session.

    Started on first use and closed when the session ends: a cluster start costs seconds, and the
    campaign tests (core, command line, window) all need the same two workers.
    """
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=50)
    yield cluster
    cluster.close()
