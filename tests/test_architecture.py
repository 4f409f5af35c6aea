"""The layout rules of docs/architecture.md, checked on the code's own imports: features never
import each other, the core imports no feature, vendor packages import only app.config,
kit imports nothing else of app/, no import cycle, and no module over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
FEATURES = {p.name for p in APP.iterdir() if (p / "router.py").exists()}
VENDORS = {"salesforce", "respondio"}
CORE = "workspace"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The app modules a file imports (absolute imports; the code uses no relative ones)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("app."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "app":
                found.update(f"app.{alias.name}" for alias in node.names)
            elif node.module.startswith("app."):
                found.add(node.module)
    return found


MODULES = {_module_name(p): p for p in APP.rglob("*.py")}
GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in FEATURES) else ""


def test_the_feature_list_is_what_the_docs_name() -> None:
    assert {"connections", "workspace_settings", "lookup", "edits", "autocreate"} <= FEATURES


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_one_way(module: str) -> None:
    own = _package(module)
    for imported in GRAPH[module]:
        other = _package(imported)
        if not other or other == own:
            continue
        if own in FEATURES:
            assert other not in FEATURES, f"{module} (a feature) imports feature {imported}"
        if own == CORE:
            assert other not in FEATURES, f"{module} (the core) imports feature {imported}"
        if own in VENDORS:
            raise AssertionError(f"{module} (a vendor package) imports {imported}")
        if own == "kit":
            raise AssertionError(f"{module} (kit) imports {imported}")
    if own in VENDORS or own == "kit":
        outside = {
            i for i in GRAPH[module] if _package(i) != own and i not in {"app.config", "app"}
        }
        if own == "kit":
            outside = {i for i in GRAPH[module] if _package(i) != "kit"}
        assert not outside, f"{module} imports {sorted(outside)}"


def test_no_import_cycle() -> None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in GRAPH.get(node, ()):
            if nxt not in GRAPH:
                continue
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_readable(module: str) -> None:
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines (at most {MAX_LINES})"
