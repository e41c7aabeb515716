"""The Dash application: an overview of all chairs and a live page per chair.

The app only reads the store; it owns no device connections, so it can run in
several worker processes, restart, or run on another machine (DESIGN.md).
Callbacks stay thin: they call :mod:`monitor.web.live` and place the result.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update

from monitor.resources import ASSETS_DIR
from monitor.store import Store
from monitor.web import live, views

# Points kept per trace in the browser; older ones scroll out.
MAX_POINTS_PER_TRACE = 20000


class StoreReader:
    """One read connection per server thread (SQLite connections are not shared)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def get(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = Store(self.path)
            self._local.store = store
        return store


def create_app(db_path: str | Path, *, poll_interval_s: float = 1.0) -> Dash:
    """Build the dashboard over the store at `db_path` (which must exist)."""
    reader = StoreReader(Path(db_path))
    reader.get()  # fail now, with the store's message, not on the first request
    app = Dash(
        __name__,
        assets_folder=str(ASSETS_DIR),
        title="Infusion Monitor",
        suppress_callback_exceptions=True,  # pages add their own components
        update_title=None,                  # no "Updating..." flicker each tick
    )
    interval_ms = int(poll_interval_s * 1000)
    app.layout = html.Div([
        dcc.Location(id="url"),
        views.banner(),
        html.Div(id="page"),
    ])

    @app.callback(Output("page", "children"), Input("url", "pathname"))
    def route(pathname: str | None) -> Any:
        store = reader.get()
        parts = [p for p in (pathname or "/").split("/") if p]
        if len(parts) == 2 and parts[0] in ("chair", "session"):
            session = (live.session_for(store, chair=parts[1]) if parts[0] == "chair"
                       else live.session_for(store, session_id=_int(parts[1])))
            if session is None:
                return html.Div(f"No session for {'/'.join(parts)}.", className="empty")
            return chair_page(store, session, interval_ms)
        return overview_page(store, interval_ms)

    @app.callback(Output("overview", "children"), Input("overview-tick", "n_intervals"))
    def refresh_overview(_: int) -> Any:
        return overview_children(reader.get())

    @app.callback(
        Output("trend", "extendData"),
        Output("trend-cursor", "data"),
        Output("chair-tile", "children"),
        Input("chair-tick", "n_intervals"),
        State("trend-cursor", "data"),
        State("chair-session", "data"),
    )
    def tick_chair(_: int, cursor_data: dict[str, Any], session_id: int) -> Any:
        # Only what arrived since the browser's cursor is sent. If a response
        # is lost, the cursor in the browser did not move, so the next tick
        # asks again from the same place: late, never a gap.
        store = reader.get()
        points, cursor = live.trend_increment(store, session_id,
                                              live.TrendCursor.from_json(cursor_data))
        tile = views.chair_tile(live.chair_view(store, store.session(session_id)), link=False,
                                detail=True)
        if not points:
            return no_update, cursor.to_json(), tile
        indices = sorted(points)
        extend = {"x": [points[i][0] for i in indices], "y": [points[i][1] for i in indices]}
        return [extend, indices, MAX_POINTS_PER_TRACE], cursor.to_json(), tile

    return app


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def overview_children(store: Store) -> Any:
    chairs = live.overview(store)
    if not chairs:
        return html.Div(
            "No chair is recording yet. Start one with 'infusion-monitor record' "
            "or try 'infusion-monitor demo'.", className="empty")
    return [views.chair_tile(v) for v in chairs]


def overview_page(store: Store, interval_ms: int) -> Any:
    return html.Div([
        dcc.Interval(id="overview-tick", interval=interval_ms),
        html.Div(overview_children(store), id="overview", className="overview"),
    ])


def chair_page(store: Store, session: Any, interval_ms: int) -> Any:
    # The whole session so far once, then only increments.
    points, cursor = live.trend_increment(store, session.id, live.TrendCursor(),
                                          limit=MAX_POINTS_PER_TRACE * len(live.TRACE_PARAMS))
    return html.Div([
        dcc.Interval(id="chair-tick", interval=interval_ms),
        dcc.Store(id="chair-session", data=session.id),
        dcc.Store(id="trend-cursor", data=cursor.to_json()),
        html.Div(views.chair_tile(live.chair_view(store, session), link=False, detail=True),
                 id="chair-tile"),
        html.Div(dcc.Graph(id="trend", figure=views.trend_figure(points),
                           config={"displaylogo": False}), **{"data-testid": "trend"}),
    ], className="chair-page")
