"""asdf's extension manifests parsed with libyaml, the parser asdf already uses for its schemas.

The first datamodel a process makes loads every installed asdf extension (asdf-astropy,
gwcs, stdatamodels' transforms, asdf's core: ~50 manifest documents). asdf parses each
manifest with PyYAML's pure-Python ``yaml.safe_load``, ~0.4 s of CPU here, most of what a
gain run spends to be able to write its reference files; its schemas it parses with
PyYAML's C ``CSafeLoader``. :func:`parse_manifests_with_libyaml` makes
``ManifestExtension.from_uri`` parse with ``CSafeLoader`` as well: the same safe constructor,
so the same Python objects (checked in the tests for every installed manifest), in ~1/8 of
the time.

This replaces one classmethod of asdf's public ``ManifestExtension``, only while its code is
the two lines it replaces (the manifest's bytes from the resource manager, parsed with
``yaml.safe_load``); with another asdf version, or without libyaml, nothing is changed. A
manifest libyaml refuses is parsed by asdf's own method, which says what is wrong.
"""

from __future__ import annotations

import threading

__all__ = ["parse_manifests_with_libyaml"]

_LOCK = threading.Lock()
_MARK = "_nircam_gui_libyaml"


def _replaceable(method) -> bool:
    """True when ``method`` (the ``from_uri`` classmethod object) is asdf's plain implementation."""
    func = getattr(method, "__func__", None)
    code = getattr(func, "__code__", None)
    if not isinstance(method, classmethod) or code is None:
        return False
    names = set(code.co_names)
    return {"safe_load", "resource_manager"} <= names and code.co_argcount == 2


def parse_manifests_with_libyaml() -> bool:
    """Let asdf parse extension manifests with libyaml; True when it does (now or already).

    Call before the first datamodel or ``AsdfFile`` of the process: asdf loads its
    extensions once, the first time it needs them.
    """
    try:
        import yaml
        from asdf import get_config
        from asdf.extension import ManifestExtension
    except ImportError:
        return False
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None or not getattr(yaml, "__with_libyaml__", False):
        return False
    with _LOCK:
        current = ManifestExtension.__dict__.get("from_uri")
        if getattr(getattr(current, "__func__", None), _MARK, False):
            return True
        if not _replaceable(current):
            return False
        original = current.__func__

        def from_uri(cls, manifest_uri, **kwargs):
            content = get_config().resource_manager[manifest_uri]
            try:
                manifest = yaml.load(content, Loader=loader)  # noqa: S506 - CSafeLoader is a safe loader
            except yaml.YAMLError:
                return original(cls, manifest_uri, **kwargs)
            return cls(manifest, **kwargs)

        from_uri.__doc__ = original.__doc__
        setattr(from_uri, _MARK, True)
        ManifestExtension.from_uri = classmethod(from_uri)
    return True
