"""The list of sessions for review, filtered by date, chair and patient reference."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dash import Dash, Input, Output, dcc, html

from monitor.store import SessionRecord, Store
from monitor.web import views
from monitor.web.inputs import iso_date, text
from monitor.web.live import SOURCE_LABELS, format_age


@dataclass(frozen=True)
class SessionRow:
    session: SessionRecord
    duration_s: float
    peak_sbp: float | None
    min_spo2: float | None
    alarms: dict[str, int]   # priority -> count


_STATS_CACHE: dict[tuple[str, int], tuple[float | None, float | None, dict[str, int]]] = {}


def _stats(store: Store, session: SessionRecord) -> tuple[float | None, float | None,
                                                           dict[str, int]]:
    key = (str(store.path), session.id)
    if not session.is_open and key in _STATS_CACHE:
        return _STATS_CACHE[key]
    peak, low = store._execute(
        "SELECT (SELECT max(r.value) FROM readings r JOIN channels c ON c.id = r.channel_id "
        "        WHERE c.session_id = ?1 AND c.param = 'nibp_sys' AND r.status = 0), "
        "       (SELECT min(r.value) FROM readings r JOIN channels c ON c.id = r.channel_id "
        "        WHERE c.session_id = ?1 AND c.param = 'spo2' AND r.status = 0)",
        (session.id,)).fetchone()
    alarms = dict(store._execute("SELECT priority, count(*) FROM alarms WHERE session_id = ? "
                                 "AND kind = 'physiological' GROUP BY priority",
                                 (session.id,)).fetchall())
    stats = (peak, low, alarms)
    if not session.is_open:  # an ended session does not change any more
        _STATS_CACHE[key] = stats
    return stats


def session_rows(store: Store, *, start: date | None = None, end: date | None = None,
                 chair: str | None = None, patient: str | None = None) -> list[SessionRow]:
    """Sessions, newest first, that started within [start, end] (local dates)."""
    rows = []
    for session in reversed(store.sessions()):
        day = datetime.fromtimestamp(session.started_at).date()
        if (start and day < start) or (end and day > end):
            continue
        if chair and session.chair != chair:
            continue
        if patient and patient.strip().lower() not in (session.patient_ref or "").lower():
            continue
        finish = session.ended_at or session.clock_now()
        rows.append(SessionRow(session, finish - session.started_at, *_stats(store, session)))
    return rows


def layout(store: Store) -> html.Div:
    chairs = sorted({s.chair for s in store.sessions()})
    return html.Div([
        html.H2("Sessions"),
        html.Div([
            dcc.DatePickerRange(id="sessions-dates", clearable=True),
            dcc.Dropdown(id="sessions-chair", options=chairs, placeholder="any chair",
                         className="sessions-chair"),
            dcc.Input(id="sessions-patient", type="text", placeholder="patient reference",
                      debounce=True),
        ], className="sessions-filters"),
        html.Div(table(session_rows(store)), id="sessions-table"),
    ], className="sessions-page")


def table(rows: list[SessionRow]) -> Any:
    if not rows:
        return html.Div("No session matches.", className="empty")
    head = ["session", "chair", "source", "started", "duration", "patient", "peak SBP",
            "min SpO2", "alarms (high/medium/low)"]
    body = []
    for row in rows:
        s = row.session
        counts = "/".join(str(row.alarms.get(p, 0)) for p in ("high", "medium", "low"))
        body.append(html.Tr([
            html.Td(dcc.Link(str(s.id), href=f"/review/{s.id}")),
            html.Td(s.chair),
            html.Td(SOURCE_LABELS[s.source_kind] or "device"),
            html.Td(datetime.fromtimestamp(s.started_at).strftime("%Y-%m-%d %H:%M")),
            html.Td(format_age(row.duration_s) + ("" if not s.is_open else " (open)")),
            html.Td(s.patient_ref or ""),
            html.Td("" if row.peak_sbp is None else f"{row.peak_sbp:g}"),
            html.Td("" if row.min_spo2 is None else f"{row.min_spo2:g}"),
            html.Td(counts),
        ], **views.testid(f"session-row-{s.id}")))
    return html.Table([html.Tr([html.Th(h) for h in head]), *body], className="sessions")


def register(app: Dash, reader: Any) -> None:
    @app.callback(Output("sessions-table", "children"),
                  Input("sessions-dates", "start_date"), Input("sessions-dates", "end_date"),
                  Input("sessions-chair", "value"), Input("sessions-patient", "value"),
                  prevent_initial_call=True)
    def refilter(start: Any, end: Any, chair: Any, patient: Any) -> Any:
        # A date that is not one filters nothing (the picker only sends ISO dates).
        return table(session_rows(reader.get(), start=iso_date(start), end=iso_date(end),
                                  chair=text(chair), patient=text(patient)))
