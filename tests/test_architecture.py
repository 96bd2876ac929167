"""The package's layers, checked from the source: lower layers never import higher ones."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "napari_styletransfer"

# a package may import its own rank and lower; peers of one rank must not form a cycle
RANKS = {
    "errors": 0,
    "files": 1,
    "devices": 1,
    "core": 2,
    "image_io": 2,
    "samples": 3,
    "quality": 4,
    "fast": 4,
    "segmentation": 4,
    "video": 4,
    "api": 5,
    "client": 6,
    "cli": 6,
    "widgets": 6,
    "batch": 6,
    "server": 6,
    "export": 6,
}
GUI = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "superqt", "magicgui")
# the only places that may talk to napari or Qt
# (the segmentation training reads GCompris's Qt resource bundles with PyQt)
GUI_ALLOWED = ("widgets", "samples.napari_samples", "video.napari_io", "segmentation.training")


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(p for p in parts if p != "__init__")
        found[name] = path
    return found


def imports_of(name: str, path: Path) -> set[str]:
    """Absolute names (inside the package, without its prefix) and third-party tops."""
    tree = ast.parse(path.read_text())
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
                names.add("napari_styletransfer." + target if target else "napari_styletransfer")
            elif node.module:
                names.add(node.module)
    return names


def top(name: str) -> str:
    return name.removeprefix("napari_styletransfer.").split(".")[0]


def package_edges() -> set[tuple[str, str]]:
    edges = set()
    for name, path in modules().items():
        if name == "":  # the top-level __init__ re-exports lazily
            continue
        for target in imports_of(name, path):
            if target.startswith("napari_styletransfer.") and top(target) != top(name):
                edges.add((top(name), top(target)))
    return edges


def test_every_package_has_a_rank():
    assert {top(name) for name in modules() if name} <= set(RANKS)


def test_no_import_from_a_lower_layer_to_a_higher_one():
    upward = [(a, b) for a, b in package_edges() if RANKS[b] > RANKS[a]]
    assert upward == []


def test_no_import_cycle_between_packages():
    edges = package_edges()
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(a for a in graph if reaches(a, a, {a}))
    assert cycles == []


@pytest.mark.parametrize("layer", ["core", "quality", "fast", "segmentation", "api"])
def test_engines_and_the_facade_never_touch_napari_or_qt(layer):
    for name, path in modules().items():
        if top(name) != layer or name.startswith(GUI_ALLOWED):
            continue
        gui = {n for n in imports_of(name, path) if n.split(".")[0] in GUI}
        assert not gui, (name, gui)


def test_core_imports_no_engine():
    engines = {"quality", "fast", "segmentation", "api", "video"}
    assert not [b for a, b in package_edges() if a == "core" and b in engines]


def test_the_plugin_never_imports_segmentation_training():
    offenders = [
        name
        for name, path in modules().items()
        if not name.startswith("segmentation.training")
        and any("segmentation.training" in n for n in imports_of(name, path))
    ]
    assert offenders == []
