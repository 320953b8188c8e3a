"""Backends found by name without importing them.

Each stage keeps a plain dict of built-in names to "module:Class" strings;
third-party packages add their own through the ``localize.backends`` entry
point group as ``"<stage>.<name>" = "module:Class"``. Importing a backend
module is cheap: heavy packages are imported inside the backend's methods.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from localize.core.errors import UnknownNameError

ENTRY_POINT_GROUP = "localize.backends"


class Registry:
    def __init__(self, stage: str, builtins: Mapping[str, str]) -> None:
        self.stage = stage
        self._builtins = dict(builtins)

    def specs(self) -> dict[str, str]:
        found = dict(self._builtins)
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            stage, _, name = ep.name.partition(".")
            if stage == self.stage and name:
                found.setdefault(name, ep.value)
        return found

    def names(self) -> list[str]:
        return sorted(self.specs())

    def load(self, name: str) -> type[Any]:
        specs = self.specs()
        if name not in specs:
            raise UnknownNameError(f"{self.stage} backend", name, specs)
        module_name, _, attr = specs[name].partition(":")
        return getattr(importlib.import_module(module_name), attr)

    def create(self, name: str, **options: Any) -> Any:
        return self.load(name)(**options)
