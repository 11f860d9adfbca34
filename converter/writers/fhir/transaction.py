"""Conditional update for transaction Bundles.

A transaction Bundle's entries are built as conditional creates (``POST`` + ``ifNoneExist`` on the
resource's identifier), which leave a stored study untouched when it is re-imported. In ``update``
mode each such entry becomes a conditional update, ``PUT <type>?<same query>``: the server updates
the one resource the identifier finds, or creates it when none matches (FHIR RESTful API,
"Conditional update"), so re-importing a changed study updates it.
"""

from __future__ import annotations

from typing import Any


def conditional_update(bundle: dict[str, Any]) -> dict[str, Any]:
    """The Bundle with every conditional create turned into a conditional update (in place, returned)."""
    for entry in bundle.get("entry", []):
        request = entry.get("request")
        if not request or request.get("method") != "POST" or "ifNoneExist" not in request:
            continue
        query = request.pop("ifNoneExist")
        request["method"] = "PUT"
        request["url"] = f"{request['url']}?{query}"
    return bundle
