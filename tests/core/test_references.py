"""One reference-file finder: by REFTYPE, DETECTOR, FILTER/PUPIL, SUBARRAY; files, folders, beside inputs."""

import pytest

from nircam_gui.core.errors import NircamFileError
from nircam_gui.core.readers import ExposureMeta
from nircam_gui.core.references import ReferenceSet, reference_matches
from nircam_gui.core.simulate.images import CalSimConfig, simulate_cal_images


def _meta(**kw):
    return ExposureMeta(path="x.fits", kind="reference", **kw)


def test_matching_rules():
    flat = _meta(reftype="FLAT", detector="NRCA1", filter="F200W", pupil="CLEAR", subarray="FULL")
    assert reference_matches(flat, detector="NRCA1", filter="F200W", pupil="", subarray="FULL")
    assert not reference_matches(flat, detector="NRCA2", filter="F200W")
    assert not reference_matches(flat, detector="NRCA1", filter="F150W")
    assert not reference_matches(flat, detector="NRCA1", filter="F200W", pupil="F162M")
    assert not reference_matches(flat, detector="NRCA1", subarray="SUB160")
    bias = _meta(reftype="SUPERBIAS", detector="NRCA1")  # no FILTER: any filter
    assert reference_matches(bias, detector="NRCA1", filter="F444W", subarray="FULL")


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    root = tmp_path_factory.mktemp("refs")
    cfg = CalSimConfig(detectors=("NRCA1", "NRCA2"), filters=("F150W", "F200W"), n_images=1, size=128, seed=2)
    return root, simulate_cal_images(root, cfg)


def test_scan_folders_files_and_beside_inputs(sim):
    root, s = sim
    found = ReferenceSet.scan([root], subfolder=True)  # beside the images: the reference/ subfolder
    assert len(found.of_type("FLAT")) == 4 and len(found.of_type("MASK")) == 2
    flat = found.find("FLAT", detector="NRCA2", filter="F200W", pupil="CLEAR")
    assert flat is not None and "nrca2" in flat.path.lower() and "f200w" in flat.path.lower()
    assert found.find("MASK", detector="NRCA1").detector == "NRCA1"
    assert ReferenceSet.scan([root]).files == []  # without the subfolder, none in the image folder
    with pytest.raises(NircamFileError, match="given as a ground FLAT"):
        ReferenceSet.scan([s.mask_files[0]], ["FLAT"], given_as="a ground FLAT")
    with pytest.raises(NircamFileError, match="does not exist"):
        ReferenceSet.scan([root / "nothing.fits"])
