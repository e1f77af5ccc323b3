"""What an API's error answer says: standard library only.

Both HTTP layers read error bodies with :func:`parse_error_body`: eltops' own (:mod:`eltops._http`) and the
Snowflake Native App's, which ships this module, byte for byte, as the top-level module ``_api_errors`` next to its
handlers; so it imports nothing outside the standard library, not even the rest of eltops.
"""

from __future__ import annotations

import json

__all__ = ["parse_error_body"]


def parse_error_body(body: bytes, *, fallback: str, text_chars: int = 0) -> tuple[str | None, str]:
    """(api code, message) from the two error bodies these APIs use, else ``(None, fallback)``.

    The two bodies: ``{"code": ..., "message": ...}`` (Fivetran; the code may be absent) and FastAPI's
    ``{"detail": ...}`` (Orchestra), a string or a list of ``{"loc": [...], "msg": ...}`` (``loc.path: msg``,
    joined by ``; ``). With ``text_chars``, a body that is not JSON is its own message, cut to that many
    characters (unless it is blank).
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON (UnicodeDecodeError is a ValueError), or absurdly nested
        text = body.decode("utf-8", "replace").strip() if text_chars else ""
        return None, text[:text_chars] if text else fallback
    if isinstance(data, dict):
        if isinstance(data.get("message"), str):
            code = data.get("code")
            return (code if isinstance(code, str) else None), data["message"]
        detail = data.get("detail")
        if isinstance(detail, str):
            return None, detail
        if isinstance(detail, list):
            parts = []
            for item in detail:
                if isinstance(item, dict):
                    loc = ".".join(str(p) for p in item.get("loc", []))
                    parts.append(f"{loc}: {item.get('msg', '')}".strip(": "))
            if parts:
                return None, "; ".join(parts)
    return None, fallback
