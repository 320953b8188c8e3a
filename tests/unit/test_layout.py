"""The package's layout: what issue 16 asks the tree to show, checked so that it stays true."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "localize"


def test_every_package_is_shipped() -> None:
    """pyproject's explicit package list names every folder with an __init__.py (a wheel would miss one)."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


def test_at_most_eight_loose_modules() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(loose) <= 8, loose


def _imports(path: Path) -> set[str]:
    """Every localize module `path` imports, at module level or inside functions (TYPE_CHECKING excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("localize"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("localize"))
    return found


def _first_level(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_import_cycle_between_first_level_packages() -> None:
    """core <- stages <- run <- apps: each first-level package imports only those below it."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        me = rel.parts[1] if len(rel.parts) > 1 else ""
        if me in ("__init__", "__main__", ""):
            continue
        for target in _imports(path):
            other = _first_level(target)
            if other != me and ((PACKAGE / other).is_dir() or (PACKAGE / f"{other}.py").is_file()):
                graph.setdefault(me, set()).add(other)
    from graphlib import CycleError, TopologicalSorter

    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle between first-level packages: {exc.args[1]}") from None
    assert "stages" not in graph.get("core", set()) and "apps" not in graph.get("stages", set())


def test_apps_depend_only_on_the_public_api_and_core() -> None:
    import localize

    public = set(localize.__all__)
    for path in (PACKAGE / "apps").rglob("*.py"):
        for target in _imports(path):
            if target.startswith(("localize.core", "localize.apps")) or target == "localize":
                continue
            if target.startswith("localize.") and target.count(".") == 1 and target.split(".")[1] in public:
                continue  # `from localize import X` with X public
            raise AssertionError(f"{path.relative_to(ROOT)} imports {target}: use the public API or localize.core")


def test_the_public_api_is_small_documented_and_loads_nothing_heavy() -> None:
    """At most 40 names, each in the README; `import localize` loads no stage and no numeric library
    (its time is measured by bench/bench_pipeline.py, not asserted here)."""
    import localize

    assert len(localize.__all__) <= 40, len(localize.__all__)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    undocumented = [name for name in localize.__all__ if f"`{name}`" not in readme and not name.startswith("__")]
    assert not undocumented, f"not in the README's API section: {undocumented}"
    for name in localize.__all__:
        assert getattr(localize, name) is not None
    code = "import sys, localize; print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    heavy = sorted(m for m in loaded if m.split(".")[0] in {"numpy", "torch", "cv2", "msgspec", "click", "rich"}
                   or m.startswith(("localize.stages", "localize.apps", "localize.run")))
    assert not heavy, f"import localize loads {heavy}"
