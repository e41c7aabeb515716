"""The session report: ONE self-contained HTML file that prints well to PDF.

Inline CSS and inline SVG only: no script, no external file, font or link,
so it opens offline, in any browser, years later, and Chromium's "Save as
PDF" gives a paper record (light theme, A4, page breaks between sections,
table headers repeated on every page).

Contents: the header (chair, session, local dates with their UTC offset,
source with a SIMULATED / IMPORTED label, profile, the "secondary display"
statement), the summary (:mod:`monitor.review.summary`), the charts
(:mod:`monitor.review.charts`), the flowsheet (:mod:`monitor.review.flowsheet`),
the alarm, event and audit tables (:mod:`monitor.review.tables`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import tzinfo
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devices.table import ReadingTable
from devices.vocabulary import PARAMETERS, SourceKind
from monitor import __version__
from monitor.review.charts import PANELS, STYLES, alarm_timeline_svg, esc, panel_svg
from monitor.review.flowsheet import Flowsheet, FlowsheetSettings, build_flowsheet
from monitor.review.report_style import CSS
from monitor.review.summary import (
    SessionSummary,
    compact,
    record_end,
    session_profile,
    summarize_session,
)
from monitor.review.tables import (
    DASH,
    Times,
    alarm_table,
    audit_table,
    duration,
    event_table,
    flowsheet_table,
    offset,
    short,
    table,
    unit,
    value_text,
)
from monitor.rules.profile import Profile
from monitor.store import AuditRecord, EventRecord, SessionRecord, Store
from monitor.store.alarm_log import StoredAlarm, session_alarms

STATEMENT = ("Secondary display and session record. The bedside monitor is the primary alarm "
             "device. Not a diagnostic device.")
SOURCE_LABELS = {SourceKind.SIMULATED: "SIMULATED DATA — not a patient",
                 SourceKind.IMPORT: "IMPORTED RECORDING", SourceKind.REPLAY: "REPLAY"}
# Rows of the vital-signs table, in clinical order.
_VITALS = ("nibp_sys", "nibp_dia", "nibp_mean", "hr", "pulse_rate", "spo2", "resp_rate",
           "etco2", "temp")


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, gathered once (see :func:`gather`)."""

    session: SessionRecord
    table: ReadingTable
    events: list[EventRecord]
    audit: list[AuditRecord]
    alarms: list[StoredAlarm]
    profile: Profile
    profile_note: str
    summary: SessionSummary
    flowsheet: Flowsheet


def gather(store: Store, session_id: int | str,
           flowsheet_settings: FlowsheetSettings | None = None) -> ReportData:
    """Read a session from the store and compute its summary and flowsheet."""
    session = store.session(session_id)
    table_ = compact(store.readings_table(session.id))
    events = store.events(session.id)
    alarms = session_alarms(store, session.id)
    profile, note = session_profile(store, session.id)
    end = record_end(session, table_, events)
    summary = summarize_session(table_, events, alarms, profile, session.baseline,
                                start=session.started_at, end=end, weight_kg=session.weight_kg)
    sheet = build_flowsheet(
        table_, start=session.started_at, end=end, infusion_start=summary.infusion.start,
        infusion_stop=summary.infusion.stop,
        settings=flowsheet_settings or FlowsheetSettings.from_profile(profile))
    return ReportData(session, table_, events, store.audit(session.id), alarms, profile, note,
                      summary, sheet)


def resolve_zone(tz: str | tzinfo | None) -> tzinfo | None:
    """A zone from an IANA name (ValueError if unknown), a tzinfo, or None (this computer's)."""
    if tz is None or isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}; give an IANA name such as "
                         "Europe/Berlin or UTC") from None


def html_report(store: Store, session_id: int | str, *, tz: str | tzinfo | None = None,
                generated_at: float | None = None,
                flowsheet_settings: FlowsheetSettings | None = None) -> str:
    """The report of a stored session as one self-contained HTML document.

    Parameters
    ----------
    store : Store
    session_id : int or str
        A session id, or ``"latest"``.
    tz : str or tzinfo, optional
        The clinic's time zone (IANA name); default this computer's zone.
    generated_at : float, optional
        The "generated" time shown (s since epoch); default now.
    flowsheet_settings : FlowsheetSettings, optional
        Default: the intervals of the session's profile.

    Raises
    ------
    monitor.store.StoreError
        No such session.
    ValueError
        Unknown time zone.
    """
    zone = resolve_zone(tz)
    return render_report(gather(store, session_id, flowsheet_settings), tz=zone,
                         generated_at=generated_at)


def export_html(store: Store, session_id: int | str, out: TextIO, *,
                tz: str | tzinfo | None = None) -> None:
    """Write the report to `out`: the same shape as ``monitor.export.export_json``."""
    out.write(html_report(store, session_id, tz=tz))


def render_report(data: ReportData, *, tz: tzinfo | None = None,
                  generated_at: float | None = None) -> str:
    """The HTML document for gathered `data` (pure: no store)."""
    s = data.session
    times = Times(tz, s.started_at)
    title = f"Session {s.id} · chair {s.chair} · {times.full(s.started_at)[:10]}"
    generated = times.full(time.time() if generated_at is None else generated_at)
    body = "".join([
        _header(data, times),
        _summary(data, times),
        _charts(data, tz),
        '<section class="flowsheet-section"><h2>Vitals flowsheet</h2>',
        flowsheet_table(data.flowsheet, times), _flowsheet_note(data.flowsheet), "</section>",
        '<section class="alarm-section"><h2>Alarms</h2>', alarm_table(data.alarms, times),
        "</section>",
        '<section class="event-section"><h2>Events</h2>',
        event_table(data.events, times, data.summary.infusion.start), "</section>",
        '<section class="audit-section"><h2>Audit log</h2>', audit_table(data.audit, times),
        "</section>",
        f'<footer><p>{esc(STATEMENT)}</p><p>Generated {esc(generated)} by Infusion Monitor '
        f"{esc(__version__)}.</p></footer>",
    ])
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>"
            f"<body>{body}</body></html>\n")


def _facts(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in pairs)


def _header(data: ReportData, times: Times) -> str:
    s, summary = data.session, data.summary
    label = SOURCE_LABELS.get(s.source_kind)
    zone = times.tz.key if isinstance(times.tz, ZoneInfo) else (
        str(times.tz) if times.tz is not None else "this computer's time zone")
    ended = times.full(s.ended_at) if s.ended_at is not None else (
        f"still open; record to {times.full(summary.end)}")
    profile = data.profile.name + (f" — {data.profile.description}"
                                   if data.profile.description else "")
    pairs = [("Chair", s.chair), ("Session", str(s.id)), ("Started", times.full(s.started_at)),
             ("Ended", ended), ("Length", duration(summary.end - summary.start)),
             ("Source", f"{s.source_kind}: {s.device}"),
             ("Profile", profile + (f" ({data.profile_note})" if data.profile_note else ""))]
    if s.patient_ref:
        pairs.append(("Patient reference", s.patient_ref))
    pairs.append(("Weight", f"{s.weight_kg:g} kg" if s.weight_kg else "not recorded"))
    start_offset = times.offset_text(times.local(s.started_at))
    pairs.append(("Times shown in", f"local time, {zone} ({start_offset} at the start)"))
    banner = f'<p class="source-label" id="source-label">{esc(label)}</p>' if label else ""
    return (f'<header><h1>Infusion session report</h1>{banner}'
            f'<p class="statement" id="statement">{esc(STATEMENT)}</p>'
            f'<dl class="facts">{_facts(pairs)}</dl></header>')


def _vitals(data: ReportData, times: Times) -> str:
    summary, rows = data.summary, []
    ref = summary.infusion.start
    for param in _VITALS:
        base = summary.baseline.get(param)
        extreme = summary.peaks.get(param) or summary.minima.get(param)
        if base is None and extreme is None:
            continue
        what = when = change = DASH
        if extreme is not None:
            what = f"{'peak' if extreme.kind == 'max' else 'lowest'} " \
                   f"{value_text(param, extreme.value)}"
            when = times.clock(extreme.time) + (
                f" ({offset(extreme.time - ref)} from start of infusion)" if ref else "")
            if base:
                change = f"{extreme.value - base:+g} ({(extreme.value - base) / base * 100:+.0f}%)"
        rows.append(f'<tr data-param="{param}"><th scope="row">{esc(short(param))} '
                    f'<span class="unit">{esc(unit(param))}</span></th>'
                    f'<td class="num">{esc(value_text(param, base))}</td>'
                    f'<td class="num">{esc(what)}</td><td>{esc(when)}</td>'
                    f'<td class="num">{esc(change)}</td></tr>')
    return ("<h3>Vital signs</h3>"
            + table(["", "Baseline", "Peak / lowest", "At", "Change"], rows, "vitals"))


def _infusion(data: ReportData, times: Times) -> str:
    inf, dose = data.summary.infusion, data.summary.dose
    paused = sum(b - a for a, b in inf.pauses)
    per_kg = f"{dose.mg_per_kg:.3g} mg/kg" if dose.mg_per_kg is not None else "unknown"
    pairs = [("Started", times.clock(inf.start)), ("Stopped", times.clock(inf.stop)),
             ("Pauses", f"{len(inf.pauses)} ({duration(paused)})" if inf.pauses else "none"),
             ("Duration", duration(inf.duration_s) + (" (start to stop minus pauses)"
                                                      if inf.duration_s is not None else "")),
             ("Total dose", f"{dose.mg:g} mg" if dose.mg is not None else "unknown"),
             ("Dose per kg", per_kg), ("Dose from", dose.method)]
    notes = "".join(f"<li>{esc(n)}</li>" for n in (*inf.notes, *dose.notes))
    return (f'<h3>Infusion</h3><dl class="facts" id="infusion">{_facts(pairs)}</dl>'
            + (f'<ul class="notes">{notes}</ul>' if notes else ""))


def _discharge(data: ReportData, times: Times) -> str:
    d, inf = data.summary.discharge, data.summary.infusion
    if d.met_at is not None:
        head = (f"Criteria all met at {times.clock(d.met_at)}"
                + (f", {duration(d.met_at - inf.stop)} after the infusion ended"
                   if inf.stop is not None else ""))
    else:
        head = f"Not met: {d.note}"
    items = "".join(
        f'<li class="{"met" if i.met else "unmet" if i.met is False else "unknown"}">'
        f'{esc("met" if i.met else "not met" if i.met is False else "unknown")}: '
        f"{esc(i.label)} ({esc(i.detail)})</li>" for i in d.checklist)
    cross = ""
    if d.logged_at is not None and (d.met_at is None or abs(d.logged_at - d.met_at) > 5):
        cross = (f"<p class=\"note\">The live rules logged the criteria met at "
                 f"{esc(times.clock(d.logged_at))}.</p>")
    return (f'<h3>Discharge criteria</h3><p id="discharge">{esc(head)}</p>'
            f'<ul class="checklist">{items}</ul>{cross}'
            '<p class="note">A checklist for the clinician, never an automatic discharge.</p>')


def _alarm_counts(data: ReportData) -> str:
    summary = data.summary
    by_priority = " · ".join(f'<span class="badge {esc(p)}">{esc(p)}</span> {n}'
                             for p, n in summary.alarms_by_priority.items())
    rows = [f'<tr><td>{esc(rule)}</td><td class="num">{n}</td></tr>'
            for rule, n in summary.alarms_by_rule.items()]
    return (f'<h3>Alarms</h3><p id="alarm-counts">{summary.alarm_count} alarms: {by_priority}'
            f"</p>{table(['Rule', 'Alarms'], rows, 'alarms-by-rule')}")


def _exposures(data: ReportData) -> str:
    rows = []
    for e in data.summary.exposures:
        sign = ">" if e.side == "high" else "<"
        limit = f"{sign} {value_text(e.param, e.threshold)} {unit(e.param)}"
        if e.basis != "absolute":
            limit += f" ({e.basis})"
        if e.episodic:
            beyond, share = f"{e.beyond} of {e.readings} measurements", DASH
        else:
            beyond = duration(e.seconds)
            share = (f"{e.seconds / e.observed_s * 100:.1f}% of {duration(e.observed_s)}"
                     if e.observed_s else DASH)
        rows.append(f'<tr data-param="{esc(e.param)}"><td>{esc(short(e.param))}</td>'
                    f"<td>{esc(limit)}</td>"
                    f'<td><span class="badge {esc(e.priority)}">{esc(e.priority)}</span></td>'
                    f'<td class="num">{esc(beyond)}</td><td class="num">{esc(share)}</td></tr>')
    note = (f"Streamed parameters: time during which the last valid value was beyond the limit; "
            f"a value counts for at most {data.summary.hold_s:g} s. NIBP: measurements beyond "
            "the limit (a measurement has no duration). Valid, plausible readings only; no "
            "alarm delay or hysteresis.")
    return ("<h3>Time beyond limits</h3>"
            + table(["", "Limit", "Priority", "Beyond", "Share of monitored time"], rows,
                    "exposures") + f'<p class="note">{esc(note)}</p>')


def _summary(data: ReportData, times: Times) -> str:
    return ('<section class="summary"><h2>Summary</h2><div class="cols">'
            f"<div>{_vitals(data, times)}{_infusion(data, times)}</div>"
            f"<div>{_discharge(data, times)}{_alarm_counts(data)}</div></div>"
            f"{_exposures(data)}</section>")


def _legend(params: tuple[str, ...], present: set[str]) -> str:
    parts = []
    for p in params:
        if p not in present:
            continue
        colour, dash = STYLES.get(p, ("#333", ""))
        mark = {"nibp_sys": "∨", "nibp_dia": "∧", "nibp_mean": "•"}.get(
            p, "┅" if dash else "━")
        parts.append(f'<span style="color:{colour}">{mark} {esc(short(p))}</span>')
    return " ".join(parts)


def _charts(data: ReportData, tz: tzinfo | None) -> str:
    summary = data.summary
    present = set(data.table.param.names) if len(data.table) else set()
    figures = []
    for panel in PANELS:
        svg = panel_svg(panel, data.table, start=summary.start, end=summary.end,
                        profile=data.profile, baseline=summary.baseline,
                        infusion=summary.infusion, alarms=data.alarms, tz=tz)
        if svg is not None:
            units = " · ".join(dict.fromkeys(PARAMETERS[p].unit for p in panel.params
                                             if p in present))
            figures.append(f'<figure class="panel"><figcaption><b>{esc(panel.title)}</b> '
                           f'{esc(units)} {_legend(panel.params, present)}</figcaption>'
                           f"{svg}</figure>")
    timeline = alarm_timeline_svg(data.alarms, start=summary.start, end=summary.end,
                                  infusion=summary.infusion, tz=tz)
    if timeline is not None:
        figures.append('<figure class="panel"><figcaption><b>Alarms</b> by rule'
                       f"</figcaption>{timeline}</figure>")
    key = ("Shaded: alarm limit bands (yellow medium, red high). Dotted: baseline. Dashed: "
           "baseline-relative limit. Blue strip and dashed lines: infusion running, start and "
           "stop. Bars along the top: alarms (red high, amber medium, cyan low). Blank "
           "stretches are gaps with no valid reading; nothing is interpolated.")
    return (f'<section class="charts"><h2>Trends</h2>{"".join(figures) or "<p>no readings</p>"}'
            f'<p class="note">{esc(key)}</p></section>')


def _flowsheet_note(sheet: Flowsheet) -> str:
    st = sheet.settings
    before = (f"{st.nibp_before_s:g} s" if st.nibp_before_s is not None
              else "half the interval")
    text = (f"Pre-infusion (the last NIBP before the start), every {st.during_s / 60:g} min "
            f"during the infusion, every {st.after_s / 60:g} min after it. Streamed values: "
            f"median of the valid values within ±{st.window_s:g} s. NIBP: the measurement "
            f"nearest the time point, from {before} before to {st.nibp_late_s:g} s after "
            f"(the cuff's result time), with its own time. {DASH}: no valid value; nothing "
            "is interpolated.")
    notes = "".join(f" {n}." for n in sheet.notes)
    return f'<p class="note">{esc(text + notes)}</p>'
