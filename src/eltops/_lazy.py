"""Packages whose exports are imported on first use, so importing a package for one light name stays light.

A package lists its exports by module and installs the returned hooks as its module-level ``__getattr__`` and
``__dir__`` (PEP 562); type checkers see the same names through ``if TYPE_CHECKING:`` imports::

    if TYPE_CHECKING:
        from eltops.fivetran._client import FivetranClient
    else:
        __getattr__, __dir__ = lazy_exports(__name__, {"eltops.fivetran._client": ["FivetranClient"]})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, Iterable[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: each name is imported from its module when first read."""
    home = {name: module for module, names in exports.items() for name in names}
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # the next read is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *home})

    return __getattr__, __dir__
