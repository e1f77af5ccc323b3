"""The one place where Orchestra meets the warehouse: ``eltops orchestra load``'s job.

- :class:`Loader` (``_loader``): plan each resource from the target's saved state, fetch its pages, write them in
  batches that commit with the cursor they cover;
- ``_fetch``: the fetch, in a process of its own (or a thread), streaming pages back to the loader;
- :func:`load_settings` (``_settings``): the command's settings, parsed once before any request;
- :class:`Every` (``_schedule``): ``--every``, on an injected clock and sleep.

It imports the Orchestra client lazily (httpx comes with the client its caller builds) and the warehouse drivers
only through the target it is given.
"""

from eltops.load._loader import (
    DEFAULT_BATCH_BYTES,
    DEFAULT_QUEUE_BYTES,
    Loader,
    LoadProgress,
    LoadResult,
    QuietProgress,
    ResourceResult,
)
from eltops.load._schedule import Every
from eltops.load._settings import MIN_INTERVAL_SECONDS, LoadSettings, load_settings, parse_interval

__all__ = [
    "DEFAULT_BATCH_BYTES",
    "DEFAULT_QUEUE_BYTES",
    "MIN_INTERVAL_SECONDS",
    "Every",
    "LoadProgress",
    "LoadResult",
    "LoadSettings",
    "Loader",
    "QuietProgress",
    "ResourceResult",
    "load_settings",
    "parse_interval",
]
