"""The overview: every chair's tile, kept current by one small request a second."""

from __future__ import annotations

from typing import Any

from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html, no_update

from monitor.store import Store
from monitor.web import views
from monitor.web.screen import Cursor, overview_delta


def layout(store: Store, interval_ms: int) -> html.Div:
    delta, cursor, _ = overview_delta(store, Cursor())
    delta["full"] = True
    return html.Div([
        dcc.Interval(id="overview-tick", interval=interval_ms),
        dcc.Store(id="screen-cursor", data=cursor.to_json()),
        dcc.Store(id="screen-delta", data=delta),
        dcc.Store(id="screen-applied"),
        html.Div(views.overview_tiles(_full_chairs(delta)), id="overview",
                 className="overview"),
    ])


def _full_chairs(delta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return delta["chairs"]


def register(app: Dash, reader: Any) -> None:
    @app.callback(
        Output("overview", "children"),
        Output("screen-delta", "data"),
        Output("screen-cursor", "data"),
        Input("overview-tick", "n_intervals"),
        State("screen-cursor", "data"),
        prevent_initial_call=True,
    )
    def tick(_: int, cursor: dict[str, Any] | None) -> Any:
        # Only what changed since the browser's cursor. If this response is
        # lost the cursor in the browser did not move: the next tick asks
        # again from the same place, so nothing is skipped.
        delta, new_cursor, redraw = overview_delta(reader.get(), Cursor.from_json(cursor))
        delta["full"] = redraw
        tiles = views.overview_tiles(delta["chairs"]) if redraw else no_update
        return tiles, delta, new_cursor.to_json()

    app.clientside_callback(ClientsideFunction("screen", "apply"),
                            Output("screen-applied", "data"),
                            Input("screen-delta", "data"))
