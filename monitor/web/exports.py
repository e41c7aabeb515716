"""Download routes on the dashboard's server: a session as CSV, JSON or an HTML report."""

from __future__ import annotations

import io
import time
from typing import Any

from flask import Flask, Response, abort, g, request

from monitor.export import export_csv, export_json
from monitor.store import StoreError
from monitor.web.inputs import MAX_ID

MEDIA = {"csv": "text/csv", "json": "application/json", "html": "text/html"}


def register(server: Flask, reader: Any) -> None:
    @server.route("/export/<int:session_id>.<fmt>")
    def download(session_id: int, fmt: str) -> Response:
        if fmt not in MEDIA:
            abort(404)
        store = reader.get()
        if session_id > MAX_ID:
            abort(404)
        try:
            store.session(session_id)
        except StoreError:
            abort(404)
        out = io.StringIO()
        if fmt == "csv":
            export_csv(store, session_id, out)
        elif fmt == "json":
            export_json(store, session_id, out)
        else:
            from monitor.review.report import html_report

            out.write(html_report(store, session_id))
        # Who took the record out, in the session's own audit.
        actor = g.get("actor")
        store.add_audit(session_id, time.time(), actor.name if actor else "local", "export",
                        {"format": fmt, "remote": request.remote_addr or ""})
        disposition = "inline" if fmt == "html" else "attachment"
        return Response(out.getvalue(), mimetype=MEDIA[fmt], headers={
            "Content-Disposition": f'{disposition}; filename="session-{session_id}.{fmt}"'})
