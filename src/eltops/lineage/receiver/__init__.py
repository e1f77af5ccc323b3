"""``eltops emulate openlineage``: a lineage collector on loopback that accepts events as Marquez does and checks them.

See :class:`LineageReceiver`.
"""

from eltops.lineage.receiver._app import LINEAGE_PATH, LineageReceiver, last_run, lineage_graph

__all__ = ["LINEAGE_PATH", "LineageReceiver", "last_run", "lineage_graph"]
