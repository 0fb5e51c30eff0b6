"""The layout keeps its promises (docs/architecture.md): Beam-free packages
import no Beam, Beam stages live in transforms/, no import circles, modules
of one job stay small, every package folder is packaged."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
#: Where each installed package lives in the checkout.
FOLDERS = {"ocrbeam": "ocrbeam", "ocrbeam.transforms": "transforms",
           "ocrbeam.pipelines": "pipelines"}  # fmt: skip
#: Packages and modules that worker processes import without Beam.
BEAM_FREE = (
    "ocrbeam.engines",
    "ocrbeam.text",
    "ocrbeam.output",
    "ocrbeam.models",
    "ocrbeam.storage",
    "ocrbeam.errors",
    "ocrbeam.transforms.config",
)
#: What transforms/ holds besides Beam stages: the config schema, the
#: command-line options and the records the stages exchange.
TRANSFORMS_WITHOUT_STAGES = {
    "ocrbeam.transforms",
    "ocrbeam.transforms.config",
    "ocrbeam.transforms.records",
    "ocrbeam.transforms.options",
}
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    modules = {}
    for package, folder in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((package, *parts))] = path
    return modules


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module ``name`` imports, at module level or inside functions."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if sub in known else module)
    return found


MODULES = _modules()
GRAPH = {name: _imports(name, path, set(MODULES)) for name, path in MODULES.items()}


def _within(name: str, roots) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


def test_worker_code_imports_no_beam():
    for name in MODULES:
        if not _within(name, BEAM_FREE):
            continue
        for imported in GRAPH[name]:
            assert not imported.startswith("apache_beam"), (name, imported)
            if imported.startswith("ocrbeam"):
                assert _within(imported, BEAM_FREE) or imported == "ocrbeam", (
                    name,
                    imported,
                )


def test_transforms_hold_beam_stages_only():
    """Every module of transforms/ but the schema, options and records is a
    Beam stage: it imports Beam, directly or through the records."""
    beam_modules = {
        name
        for name, imports in GRAPH.items()
        if any(i.startswith("apache_beam") for i in imports)
    }
    for name in MODULES:
        if not name.startswith("ocrbeam.transforms") or _within(
            name, TRANSFORMS_WITHOUT_STAGES
        ):
            continue
        reached = GRAPH[name] & (beam_modules | {"ocrbeam.transforms.records"})
        assert name in beam_modules or reached, name


def test_no_import_circles():
    internal = {n: {i for i in GRAPH[n] if i in MODULES and i != n} for n in MODULES}
    # A package's __init__ re-exporting its own submodules is not a circle.
    for name in internal:
        internal[name] = {i for i in internal[name] if not name.startswith(i + ".")}
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(internal[name]):
            if state.get(nxt) == 1:
                cycle = trail[trail.index(nxt) :] + [nxt]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, trail + [nxt])
        state[name] = 2

    for name in sorted(internal):
        if name not in state:
            visit(name, [name])


def test_product_modules_stay_small():
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_every_package_folder_is_packaged():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packaged = set(setup["packages"])
    packages = {name for name, path in MODULES.items() if path.name == "__init__.py"}
    assert packages == packaged
    # Model folders ship as package data.
    data = setup["package-data"]["ocrbeam.models"]
    assert "*/inference.onnx" in data and "*/inference.yml" in data
