"""Refusing malformed dashboard requests with a 4xx before Dash dispatches them.

Dash trusts the shape of a callback request ("output", "inputs", "state")
and answers anything else with a 500 and a traceback in the log. A request
that does not name a server callback, or does not carry as many inputs and
states as that callback declares, each an ``{id, property}`` object (or a
list of them for ALL patterns), gets a 400 saying what is wrong. The values
inside are the callbacks' own business (see monitor/web/inputs.py).
"""

from __future__ import annotations

import json
from typing import Any

from dash import Dash
from dash.exceptions import DependencyException
from flask import Response, request

UPDATE_PATH = "/_dash-update-component"


def install(app: Dash) -> None:
    server = app.server

    @server.before_request
    def check_envelope() -> Response | None:
        if request.path != UPDATE_PATH or request.method != "POST":
            return None
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # JSON nested deeper than Python's stack
            body = None
        problem = envelope_problem(body, app.callback_map)
        return None if problem is None else _bad_request(problem)

    @server.errorhandler(DependencyException)
    def unknown_component_file(exc: DependencyException) -> Response:
        return Response("no such component file", 404, mimetype="text/plain")


def envelope_problem(body: Any, callbacks: dict[str, dict[str, Any]]) -> str | None:
    """What is wrong with a callback request's envelope (None: nothing)."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or "callback" not in callbacks.get(output, {}):
        return "no such callback"
    declared = callbacks[output]
    outputs = body.get("outputs")
    if not (_is_dependency(outputs) or (isinstance(outputs, list)
                                        and all(_is_dependency(o) for o in outputs))):
        return "'outputs' must be {id, property} objects"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "'changedPropIds' must be a list of text"
    for part in ("inputs", "state"):
        sent = body.get(part, [])
        want = declared.get(part, [])
        if not isinstance(sent, list) or len(sent) != len(want):
            return f"'{part}' must be a list of {len(want)}"
        for item in sent:
            if not (_is_dependency(item) or (isinstance(item, list)
                                             and all(_is_dependency(i) for i in item))):
                return f"each of '{part}' must be an {{id, property}} object"
    return None


def _is_dependency(item: Any) -> bool:
    return (isinstance(item, dict) and isinstance(item.get("property"), str)
            and isinstance(item.get("id"), str | dict))


def _bad_request(problem: str) -> Response:
    return Response(json.dumps({"error": f"bad dashboard request: {problem}"}), 400,
                    mimetype="application/json")
