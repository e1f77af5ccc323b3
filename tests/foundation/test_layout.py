"""The layout the README draws: no module reaches into another package's private module, and every package's
``__all__`` is exactly what it exports."""

from __future__ import annotations
import __future__

import ast
import importlib
import pkgutil
import types
from pathlib import Path

import pytest

import eltops

SRC = Path(eltops.__file__).parent

SHIPPED = {
    "eltops.snowflake_app._generate": {"eltops.orchestra._plan", "eltops.orchestra._records", "eltops._retry"},
    "eltops.snowflake_app.orchestra_app": {"eltops.orchestra._plan", "eltops.orchestra._records", "eltops._retry"},
}
"""The Native App ships these standard-library modules as files next to its handler: it names them as modules."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(module: str) -> str:
    """``eltops.orchestra`` for ``eltops.orchestra._client``; ``eltops`` for the foundation's ``eltops._http``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 and not parts[1].startswith("_") else "eltops"


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    """Every ``eltops`` module an import statement names (``from x import _y`` names the module ``x._y``)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names if a.name.startswith("_")]
    return [(line, name) for line, name in found if name.split(".")[0] == "eltops"]


def _private_reaches() -> list[str]:
    reaches = []
    for path in sorted(SRC.rglob("*.py")):
        module = _module_name(path)
        for line, name in _imported(ast.parse(path.read_text(), str(path))):
            parts = name.split(".")
            private = [i for i, part in enumerate(parts) if part.startswith("_") and i > 0]
            if not private:
                continue
            owner = ".".join(parts[: private[0]])  # the package whose private module this is
            if owner == "eltops":  # the foundation's private modules (eltops._http, ...) are shared by design
                continue
            if module == owner or module.startswith(owner + "."):
                continue
            if ".".join(parts[: private[0] + 1]) in SHIPPED.get(module, set()):
                continue
            reaches.append(f"{path.relative_to(SRC.parent)}:{line} imports {name}")
    return reaches


def test_no_module_imports_another_packages_private_module() -> None:
    """Outside a package, only its public names are imported (the Native App's shipped files excepted)."""
    assert _private_reaches() == []


def _names_imported_from(package: str, modules_under: str) -> dict[str, set[str]]:
    """For each module under ``modules_under``, the names it imports from ``package`` itself."""
    found: dict[str, set[str]] = {}
    for path in sorted((SRC.parent / modules_under.replace(".", "/")).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == package:
                found.setdefault(_module_name(path), set()).update(alias.name for alias in node.names)
    return found


def test_the_warehouse_takes_only_the_records_vocabulary_from_orchestra() -> None:
    """``eltops.warehouse`` imports resources, records, plans' state and pages (and their Arrow typing), no client."""
    from eltops.orchestra import _pages, _plan, _records

    vocabulary = {*_records.__all__, *_plan.__all__, *_pages.__all__, "arrow_schema", "page_to_arrow"}
    imported = _names_imported_from("eltops.orchestra", "eltops.warehouse")
    assert imported, "the warehouse names its columns and pages from eltops.orchestra"
    assert {module: names - vocabulary for module, names in imported.items() if names - vocabulary} == {}


def _packages() -> list[str]:
    names = ["eltops"]
    for info in pkgutil.walk_packages([str(SRC)], prefix="eltops."):
        if info.ispkg and not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return sorted(names)


def _public_names(module: types.ModuleType) -> set[str]:
    """What ``module`` offers: its public attributes, less modules (its own and imported ones) and ``__future__``
    features."""
    return {
        name
        for name in dir(module)
        if not name.startswith("_") and not isinstance(getattr(module, name), types.ModuleType | __future__._Feature)
    }


@pytest.mark.parametrize("package", _packages())
def test_all_is_exactly_what_the_package_exports(package: str) -> None:
    """Each package's ``__all__`` lists every public name it offers (lazy ones included), and each resolves."""
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{package} has no __all__"
    assert sorted(exported) == sorted(set(exported)), f"{package}.__all__ repeats a name"
    for name in exported:
        getattr(module, name)  # a lazy name imports its module here
    assert _public_names(module) == {name for name in exported if not name.startswith("_")}
