"""The report's tables (flowsheet, alarms, events, audit) and the formatting they share.

Every value that came from a device, a file or a person is HTML-escaped here
(:func:`esc`); numbers are formatted with the parameter's decimals.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from devices.vocabulary import PARAMETERS
from monitor.review.charts import esc, local_time
from monitor.review.flowsheet import Cell, Flowsheet
from monitor.review.infusion import EventLike
from monitor.store import AuditRecord
from monitor.store.alarm_log import StoredAlarm

DASH = "—"
#: Event kinds always listed in full; any other kind is listed up to MAX_PER_KIND times.
CLINICAL_KINDS = frozenset({
    "infusion_start", "infusion_stop", "infusion_pause", "infusion_resume", "infusion_rate",
    "observation", "note", "baseline_captured", "discharge_criteria_met", "gate_blocked",
    "device_connected", "device_disconnected", "sensor_off", "sensor_on", "no_signal",
    "nibp_failed"})
MAX_PER_KIND = 100
EVENT_LABELS = {
    "infusion_start": "Infusion start", "infusion_stop": "Infusion stop",
    "infusion_pause": "Infusion paused", "infusion_resume": "Infusion resumed",
    "infusion_rate": "Rate change", "observation": "Observation", "note": "Note",
    "baseline_captured": "Baseline captured", "gate_blocked": "Pre-treatment gate",
    "discharge_criteria_met": "Discharge criteria met (logged live)",
}
# Known event data keys: (prefix, suffix) around the value.
_KEYS = {"dose_mg_per_kg": ("", " mg/kg"), "dose_mg": ("", " mg"),
         "rate_mg_per_h": ("", " mg/h"), "duration_min": ("over ", " min"),
         "cadss": ("CADSS ", ""), "rass": ("RASS ", ""), "nausea": ("nausea: ", ""),
         "note": ("note: ", ""), "user": ("by ", "")}
_MAX_TEXT = 400


class Times:
    """Times as the clinic reads them: local clock time, the UTC offset when it matters.

    Parameters
    ----------
    tz : tzinfo or None
        The clinic's zone; None: this computer's.
    start : float
        The record's start (s): its date and offset are the reference, so a
        time on another day shows its date, one at another offset its offset.
    """

    def __init__(self, tz: tzinfo | None, start: float) -> None:
        self.tz = tz
        first = local_time(start, tz)
        self.day, self.offset0 = first.date(), first.utcoffset()

    def local(self, t: float) -> datetime:
        return local_time(t, self.tz)

    @staticmethod
    def offset_text(moment: datetime) -> str:
        seconds = int(moment.utcoffset().total_seconds()) if moment.utcoffset() else 0
        sign = "+" if seconds >= 0 else "-"
        hours, rest = divmod(abs(seconds) // 60, 60)
        return f"UTC{sign}{hours:02d}:{rest:02d}"

    def full(self, t: float | None) -> str:
        """'2026-11-26 09:10:00 UTC+01:00'."""
        if t is None:
            return DASH
        moment = self.local(t)
        return f"{moment:%Y-%m-%d %H:%M:%S} {self.offset_text(moment)}"

    def clock(self, t: float | None) -> str:
        """'09:10:00', with the date on another day and the offset if it changed."""
        if t is None:
            return DASH
        moment = self.local(t)
        text = f"{moment:%H:%M:%S}"
        if moment.date() != self.day:
            text = f"{moment:%Y-%m-%d} {text}"
        if moment.utcoffset() != self.offset0:
            text += f" {self.offset_text(moment)}"
        return text


def duration(seconds: float | None) -> str:
    """'35 s', '40 min', '12 min 30 s', '2 h 05 min'."""
    if seconds is None or not math.isfinite(seconds):
        return "unknown"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        minutes, rest = divmod(s, 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    hours, rest = divmod(s, 3600)
    return f"{hours} h {rest // 60:02d} min"


def offset(seconds: float | None) -> str:
    """Signed time from a reference: '+30:35', '-1:25' (min:s), '+11:15:35' (h:min:s)."""
    if seconds is None:
        return DASH
    sign = "-" if seconds < 0 else "+"
    minutes, rest = divmod(round(abs(seconds)), 60)
    if minutes < 60:
        return f"{sign}{minutes}:{rest:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours}:{minutes:02d}:{rest:02d}"


def value_text(param: str | None, value: float | None) -> str:
    """A value with the parameter's decimals (`:g` for unknown parameters)."""
    if value is None or not math.isfinite(value):
        return DASH
    spec = PARAMETERS.get(param or "")
    return f"{value:.{spec.decimals}f}" if spec else f"{value:g}"


def short(param: str | None) -> str:
    spec = PARAMETERS.get(param or "")
    return spec.short if spec else (param or "")


def unit(param: str | None) -> str:
    spec = PARAMETERS.get(param or "")
    return spec.unit if spec else ""


def table(headers: Sequence[str], rows: Sequence[str], table_id: str, cls: str = "") -> str:
    """A ``<table>`` from escaped-ready headers and already-built ``<tr>`` rows."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(rows) or f'<tr><td colspan="{len(headers)}" class="none">none</td></tr>'
    return (f'<table id="{table_id}" class="{cls}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def _plain(value: object) -> str:
    """A data value as text: numbers without a needless '.0', nested data compact."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _data_text(data: Mapping[str, Any]) -> str:
    """Event or audit data as one readable line (escaped by the caller)."""
    parts = []
    for key, value in data.items():
        if value is None or value == "":
            continue
        if key == "simulated":
            parts.append("(simulated)" if value is True else f"simulated: {_plain(value)}")
        elif key in _KEYS and not isinstance(value, dict | list):
            before, after = _KEYS[key]
            parts.append(f"{before}{_plain(value)}{after}")
        elif isinstance(value, dict):
            inner = ", ".join(f"{short(str(k)) or k} {_plain(v)}" for k, v in value.items())
            parts.append(f"{key}: {inner}")
        else:
            parts.append(f"{key}: {_plain(value)}")
    text = "; ".join(parts)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"


def _cell(param: str, cell: Cell) -> str:
    if cell.missing:
        return f'<td class="missing" data-param="{esc(param)}">{DASH}</td>'
    return f'<td class="num" data-param="{esc(param)}">{value_text(param, cell.value)}</td>'


def flowsheet_table(sheet: Flowsheet, times: Times) -> str:
    streamed = [p for p in sheet.params if not p.startswith("nibp_")]
    nibp = [p for p in ("nibp_sys", "nibp_dia", "nibp_mean") if p in sheet.params]
    headers = ["Time point", "Clock"] + [f"{short(p)} {unit(p)}" for p in streamed]
    if nibp:
        headers += ["NIBP SYS/DIA (MAP) mmHg", "NIBP measured"]
    rows = []
    for row in sheet.rows:
        cells = "".join(_cell(p, row.cells[p]) for p in streamed)
        if nibp:
            parts = {p: value_text(p, row.cells[p].value) for p in nibp}
            if row.nibp_time is None:
                cells += f'<td class="missing" data-param="nibp">{DASH}</td>'
            else:
                text = f"{parts.get('nibp_sys', DASH)}/{parts.get('nibp_dia', DASH)}"
                if "nibp_mean" in parts:
                    text += f" ({parts['nibp_mean']})"
                cells += f'<td class="num" data-param="nibp">{esc(text)}</td>'
            cells += (f'<td class="num">{esc(times.clock(row.nibp_time))}</td>'
                      if row.nibp_time is not None else f'<td class="missing">{DASH}</td>')
        rows.append(f'<tr class="fs {esc(row.phase)}"><th scope="row">{esc(row.label)}</th>'
                    f'<td class="num">{esc(times.clock(row.time))}</td>{cells}</tr>')
    return table(headers, rows, "flowsheet", "flowsheet")


def alarm_table(alarms: Sequence[StoredAlarm], times: Times) -> str:
    rows = []
    for a in alarms:
        acks = "; ".join(f"{user} at {times.clock(t)}" for t, user in a.acknowledgements)
        end = times.clock(a.end) if a.end is not None else f"{DASH} ({a.state})"
        length = duration(a.end - a.onset) if a.end is not None else DASH
        limit = DASH if a.limit is None else (f"{a.limit:g}" if a.rule.endswith(".rate")
                                              else value_text(a.param, a.limit))
        rows.append(
            f'<tr class="alarm prio-{esc(a.priority)}"><td class="num">{a.number}</td>'
            f'<td class="num">{esc(times.clock(a.onset))}</td><td class="num">{esc(end)}</td>'
            f'<td class="num">{esc(length)}</td>'
            f'<td><span class="badge {esc(a.priority)}">{esc(a.priority)}</span></td>'
            f"<td>{esc(a.rule)}</td><td>{esc(a.kind)}</td>"
            f'<td class="num">{esc(value_text(a.param, a.value))}</td>'
            f'<td class="num">{esc(limit)}</td><td>{esc(a.message)}</td>'
            f"<td>{esc(acks) or DASH}</td></tr>")
    return table(["#", "Onset", "End", "Duration", "Priority", "Rule", "Kind", "Value", "Limit",
                  "Message", "Acknowledged"], rows, "alarms", "alarms")


def event_table(events: Sequence[EventLike], times: Times, start: float | None) -> str:
    """Every clinical event; other kinds up to MAX_PER_KIND each, the rest counted."""
    seen: Counter[str] = Counter()
    rows = []
    for e in events:
        seen[e.kind] += 1
        if e.kind not in CLINICAL_KINDS and seen[e.kind] > MAX_PER_KIND:
            continue
        label = EVENT_LABELS.get(e.kind, e.kind.replace("_", " ").capitalize())
        cls = "infusion" if e.kind.startswith("infusion_") else e.kind
        since = offset(e.time - start) if start is not None else DASH
        rows.append(f'<tr class="event {esc(cls)}"><td class="num">{esc(times.clock(e.time))}'
                    f'</td><td class="num">{esc(since)}</td><td>{esc(label)}</td>'
                    f"<td>{esc(getattr(e, 'source', ''))}</td>"
                    f"<td>{esc(_data_text(e.data))}</td></tr>")
    for kind, count in sorted(seen.items()):
        if kind not in CLINICAL_KINDS and count > MAX_PER_KIND:
            rows.append(f'<tr class="omitted"><td colspan="5">{count - MAX_PER_KIND} more '
                        f"“{esc(kind)}” events not listed (all are in the JSON export)</td></tr>")
    return table(["Time", "From infusion start", "Event", "Source", "Details"], rows, "events",
                 "events")


def audit_table(audit: Sequence[AuditRecord], times: Times) -> str:
    rows = [f'<tr class="audit"><td class="num">{esc(times.clock(a.time))}</td>'
            f"<td>{esc(a.user)}</td><td>{esc(a.action)}</td>"
            f"<td>{esc(_data_text(a.data))}</td></tr>" for a in audit]
    return table(["Time", "User", "Action", "Details"], rows, "audit", "audit")
