"""localize.apps.review's lazy exports: __all__ is spelled out for linters and type checkers; it must name
exactly what __getattr__ serves, and each name must resolve to the object in its module."""

import importlib

import localize.apps.review as review


def test_all_names_exactly_the_lazy_exports() -> None:
    assert review.__all__ == sorted(review._EXPORTS)


def test_every_export_resolves_to_its_modules_object() -> None:
    for name, module in review._EXPORTS.items():
        assert getattr(review, name) is getattr(importlib.import_module(module), name)
