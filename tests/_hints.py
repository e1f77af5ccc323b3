"""The commands eltops prints as hints: every one is written in backticks, and runs as printed."""

from __future__ import annotations

import re
import shlex

_HINT = re.compile(r"`((?:eltops|\S*/eltops) [^`]*)`")


def hinted_commands(text: str) -> list[list[str]]:
    """Each backticked ``eltops ...`` command in ``text``, split as a POSIX shell would."""
    return [shlex.split(command) for command in _HINT.findall(text)]
