"""asdf's extension manifests parsed with libyaml: the same objects, and asdf left alone when it differs."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from nircam_gui.core import asdfmanifests

pytestmark = pytest.mark.skipif(not getattr(yaml, "__with_libyaml__", False), reason="PyYAML without libyaml")


def _manifest_uris():
    import asdf
    from asdf.extension import ManifestExtension

    uris = []
    for ext in asdf.get_config().extensions:
        delegate = getattr(ext, "delegate", ext)
        if isinstance(delegate, ManifestExtension):
            uris.append(delegate._manifest["id"])
    return uris


def test_every_installed_manifest_parses_to_the_same_objects():
    import asdf

    uris = _manifest_uris()
    assert len(uris) >= 10  # asdf's core, asdf-astropy, gwcs, stdatamodels' transforms...
    rm = asdf.get_config().resource_manager
    for uri in uris:
        content = rm[uri]
        assert yaml.load(content, Loader=yaml.CSafeLoader) == yaml.safe_load(content), uri


def test_extensions_loaded_with_libyaml_are_asdf_s_own(tmp_path):
    # a fresh process: asdf loads its extensions once per process
    code = r"""
import json, sys
from nircam_gui.core.asdfmanifests import parse_manifests_with_libyaml
if sys.argv[1] == "libyaml":
    assert parse_manifests_with_libyaml()
    from asdf.extension import ManifestExtension
    assert getattr(ManifestExtension.from_uri.__func__, "_nircam_gui_libyaml", False)
import asdf
out = []
for e in asdf.get_config().extensions:
    out.append([e.extension_uri, str(e.asdf_standard_requirement), sorted(e.legacy_class_names or ()),
                sorted([t.tag_uri, t.schema_uris, t.title, t.description] for t in e.tags), len(e.converters),
                len(e.validators)])
print(json.dumps(out))
"""
    runs = [subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True).stdout
            for mode in ("libyaml", "asdf")]
    assert runs[0] == runs[1]
    assert len(runs[0]) > 1000


def test_asdf_is_left_alone_when_its_method_differs(monkeypatch):
    from asdf.extension import ManifestExtension

    def from_uri(cls, manifest_uri, **kwargs):  # another implementation: not the one replaced
        return cls({"extension_uri": manifest_uri}, **kwargs)

    replaced = classmethod(from_uri)
    monkeypatch.setattr(ManifestExtension, "from_uri", replaced)
    assert not asdfmanifests.parse_manifests_with_libyaml()
    assert ManifestExtension.__dict__["from_uri"] is replaced


def test_a_manifest_libyaml_refuses_goes_to_asdf(monkeypatch):
    import asdf
    from asdf.extension import ManifestExtension

    original = ManifestExtension.__dict__["from_uri"]
    calls = []

    def from_uri(cls, manifest_uri, **kwargs):
        from asdf.config import get_config

        calls.append(manifest_uri)
        manifest = yaml.safe_load(get_config().resource_manager[manifest_uri])
        return cls(manifest, **kwargs)

    monkeypatch.setattr(ManifestExtension, "from_uri", classmethod(from_uri))
    assert asdfmanifests.parse_manifests_with_libyaml()
    uri = "asdf://example.org/manifests/test-1.0.0"
    good = b"id: asdf://example.org/manifests/test-1.0.0\nextension_uri: asdf://example.org/extensions/test-1.0.0\n"
    with asdf.config_context() as cfg:
        cfg.add_resource_mapping({uri: good})
        assert ManifestExtension.from_uri(uri).extension_uri == "asdf://example.org/extensions/test-1.0.0"
        assert calls == []  # parsed by libyaml
        cfg.add_resource_mapping({uri: b"id: [unclosed\n"})
        with pytest.raises(yaml.YAMLError):
            ManifestExtension.from_uri(uri)
        assert calls == [uri]  # asdf's own method said what is wrong
    monkeypatch.setattr(ManifestExtension, "from_uri", original)
