"""eltops: run ELT operations from CI pipelines and keep their run history in the warehouse."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("eltops")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
