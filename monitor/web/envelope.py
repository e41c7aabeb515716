"""Refusing malformed dashboard requests with a 4xx before Dash dispatches them.

Dash trusts the shape of a callback request ("output", "inputs", "state")
and answers anything else with a 500 and a traceback in the log. A request
that does not name a server callback, or does not carry as many inputs and
states as that callback declares, each an ``{id, property}`` object matching
the declared one (a list of them for ALL patterns), or names as a trigger
something it did not send, gets a 400 saying what is wrong. The values
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
    problem = _outputs_problem(body.get("outputs"), declared.get("output"))
    if problem is not None:
        return problem
    triggers: set[str] = set()
    for part in ("inputs", "state"):
        sent = body.get(part, [])
        want = declared.get(part, [])
        if not isinstance(sent, list) or len(sent) != len(want):
            return f"'{part}' must be a list of {len(want)}"
        for item, spec in zip(sent, want, strict=True):
            if not _matches(item, spec):
                return f"'{part}' must match the callback's {spec['id']}.{spec['property']}"
            if part == "inputs":
                triggers.update(_prop_id(i) for i in (item if isinstance(item, list) else [item]))
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "'changedPropIds' must be a list of text"
    if not set(changed) <= triggers:
        return "'changedPropIds' must name inputs of the request"
    return None


def _outputs_problem(sent: Any, declared: Any) -> str | None:
    """Dash zips the outputs sent with the values returned: their count must match."""
    if isinstance(declared, list | tuple):
        if not isinstance(sent, list) or len(sent) != len(declared):
            return f"'outputs' must be a list of {len(declared)} {{id, property}} objects"
        items = sent
    else:
        items = [sent]
    for item in items:
        if not (_is_dependency(item) or (isinstance(item, list)
                                         and all(_is_dependency(i) for i in item))):
            return "'outputs' must be {id, property} objects"
    return None


def _matches(item: Any, spec: dict[str, str]) -> bool:
    """Whether `item` is what Dash sends for the declared input or state `spec`.

    A plain id is one object with that id; a pattern id (declared as JSON)
    is one object for MATCH and a list for ALL or ALLSMALLER, each with the
    pattern's keys and its fixed values.
    """
    declared_id = spec["id"]
    if not declared_id.startswith("{"):
        return (_is_dependency(item) and item["id"] == declared_id
                and item["property"] == spec["property"])
    pattern = json.loads(declared_id)
    many = any(v in (["ALL"], ["ALLSMALLER"]) for v in pattern.values())
    if not many:
        return _fits(item, pattern, spec["property"])
    return isinstance(item, list) and all(_fits(i, pattern, spec["property"]) for i in item)


def _fits(item: Any, pattern: dict[str, Any], prop: str) -> bool:
    if not (_is_dependency(item) and item["property"] == prop and isinstance(item["id"], dict)):
        return False
    component_id = item["id"]
    if set(component_id) != set(pattern):
        return False
    for key, want in pattern.items():
        value = component_id[key]
        if isinstance(want, list):  # a wildcard: any JSON scalar
            if not isinstance(value, str | int | float | bool):
                return False
        elif value != want:
            return False
    return True


def _prop_id(item: dict[str, Any]) -> str:
    """An input as ``changedPropIds`` names it (dash-renderer's stringifyId)."""
    component_id = item["id"]
    if isinstance(component_id, dict):
        component_id = json.dumps(component_id, sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=False)
    return f"{component_id}.{item['property']}"


def _is_dependency(item: Any) -> bool:
    return (isinstance(item, dict) and isinstance(item.get("property"), str)
            and isinstance(item.get("id"), str | dict))


def _bad_request(problem: str) -> Response:
    return Response(json.dumps({"error": f"bad dashboard request: {problem}"}), 400,
                    mimetype="application/json")
