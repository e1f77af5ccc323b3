"""eltops: run ELT operations from CI pipelines and keep their run history in the warehouse."""

__version__ = "0.1.0"

__all__ = ["__version__"]
