"""The Dash application: the nurse's overview of all chairs, and a page per chair.

The app reads the store and writes operators' commands into it; it owns no
device connections, so it can run in several worker processes, restart, or
run on another machine (DESIGN.md): whatever a screen shows lives in the
store. Callbacks stay thin: they call plain functions (monitor.web.screen,
monitor.web.live, monitor.web.actions) and place the result.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate
from flask import g

from monitor.access import refusal
from monitor.resources import ASSETS_DIR
from monitor.store import Store
from monitor.web import (
    admin,
    auth,
    chair_page,
    envelope,
    exports,
    overview_page,
    review_page,
    sessions_page,
    views,
)
from monitor.web.inputs import text


class StoreReader:
    """One connection per server thread (SQLite connections are not shared)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def get(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = Store(self.path)
            self._local.store = store
        return store


def create_app(db_path: str | Path, *, poll_interval_s: float = 1.0,
               require_sign_in: bool = False, secure_cookies: bool = False) -> Dash:
    """Build the dashboard over the store at `db_path` (created if missing).

    Sign-in is needed when `require_sign_in` (a non-loopback address) or
    once the store has user accounts (see monitor/access.py).
    """
    reader = StoreReader(Path(db_path))
    reader.get()  # fail now, with the store's message, not on the first request
    app = Dash(
        __name__,
        assets_folder=str(ASSETS_DIR),
        title="Infusion Monitor",
        suppress_callback_exceptions=True,  # pages add their own components
        update_title=None,                  # no "Updating..." flicker each tick
        # All components load with the page, not after the first callback that
        # draws a chart (the review opens a second sooner).
        eager_loading=True,
    )
    interval_ms = int(poll_interval_s * 1000)
    auth.install(app.server, reader, required=require_sign_in, secure_cookies=secure_cookies)
    envelope.install(app)

    def layout() -> html.Div:
        # Per page load: the banner names who is signed in (when sign-in is on).
        actor = g.get("actor")
        signed_in = (actor.name, str(actor.role), auth.csrf_token()) if actor else None
        return html.Div([
            dcc.Location(id="url"),
            views.banner(signed_in),
            views.safety_banner(),
            html.Div(id="page"),
        ])

    app.layout = layout

    @app.callback(Output("page", "children"), Input("url", "pathname"), State("url", "search"))
    def route(pathname: Any, search: Any) -> Any:
        store = reader.get()
        parts = [p for p in (text(pathname) or "/").split("/") if p]
        if len(parts) == 2 and parts[0] in ("chair", "session"):
            return chair_page.layout(store, parts[0], parts[1], interval_ms)
        if parts and parts[0] in ("sessions", "review"):
            actor = g.get("actor")
            why = refusal(actor, "review") if actor is not None else None
            if why is not None:
                return html.Div(f"Not allowed: {why}.", className="empty",
                                **views.testid("not-allowed"))
        if parts == ["sessions"]:
            return sessions_page.layout(store)
        if len(parts) == 2 and parts[0] == "review":
            speed = parse_qs((text(search) or "").lstrip("?")).get("speed", ["10"])[0]
            return review_page.layout(store, _int(parts[1]), speed=_int(speed) or 10)
        return overview_page.layout(store, interval_ms)

    # Who is acting: typed once, kept in this browser, sent with every command.
    @app.callback(Output("user", "data"), Input("user-name", "value"),
                  prevent_initial_call=True)
    def remember_user(name: Any) -> str:
        return (text(name) or "").strip()[:64]

    @app.callback(Output("user-name", "value"), Input("user", "modified_timestamp"),
                  State("user", "data"), State("user-name", "value"))
    def show_user(_: Any, name: Any, typed: Any) -> str:
        stored = text(name) or ""
        if not stored and (text(typed) or "").strip():
            # The page's first call answering after the nurse typed her name
            # would wipe it, and her next action would be refused as unsigned.
            raise PreventUpdate
        return stored

    app.clientside_callback(ClientsideFunction("sound", "toggle"),
                            Output("sound-toggle", "children"),
                            Input("sound-toggle", "n_clicks"))
    overview_page.register(app, reader)
    chair_page.register(app, reader)
    sessions_page.register(app, reader)
    review_page.register(app, reader)
    exports.register(app.server, reader)
    admin.register(app.server, reader)
    return app


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
