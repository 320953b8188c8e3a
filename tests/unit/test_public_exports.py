"""The package's lazy public API: __all__ is spelled out for linters and type checkers; it must name exactly
what __getattr__ serves, and each name must resolve to the object in its module."""

import importlib

import localize


def test_all_names_exactly_the_lazy_exports() -> None:
    assert localize.__all__ == sorted([*localize._EXPORTS, *localize._MODULES])


def test_every_export_resolves_to_its_modules_object() -> None:
    for name, module in localize._EXPORTS.items():
        assert getattr(localize, name) is getattr(importlib.import_module(module), name)
    for name, module in localize._MODULES.items():
        assert getattr(localize, name) is importlib.import_module(module)
