"""Trend charts for the printed report, drawn here as inline SVG (no script, no library).

Each panel shows its parameters over the whole record with the profile's
limits as shaded bands, the baseline as dashed lines, the infusion as a strip
with start/stop lines, and the alarms of its parameters as bars along the top.

Two rules keep a chart honest and small:

* Gaps stay gaps. A streamed trace is cut wherever two valid readings are
  further apart than `gap_s` (the longer of the stale-data time and 2.5 sample
  intervals); NIBP is drawn as separate measurements (systolic ∨, diastolic ∧,
  mean •), never joined.
* Long records are reduced per pixel column, keeping each column's minimum and
  maximum (in time order) within each gap-free run, so a 24-hour record is no
  more points than a 1-hour one and no peak or dip disappears.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

import numpy as np

from devices.table import ReadingTable
from devices.vocabulary import PARAMETERS
from monitor.review.infusion import Infusion
from monitor.review.summary import limit_bands, valid_series
from monitor.rules.profile import Profile
from monitor.store.alarm_log import StoredAlarm

WIDTH = 1000                       # viewBox units; the SVG scales to the page width
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 6, 18
PLOT_W = WIDTH - LEFT - RIGHT
PRIORITY_COLOURS = {"high": "#c62828", "medium": "#b7791f", "low": "#00838f"}
BAND_FILL = {"high": "#f9d9d9", "medium": "#fcf0c8", "low": "#d9f1f4"}
INFUSION_COLOUR = "#1f5fbf"
# (colour, dash) per parameter; dark enough for a black-and-white printer.
STYLES: dict[str, tuple[str, str]] = {
    "hr": ("#1b5e20", ""), "pulse_rate": ("#6a1b9a", "4 2"), "spo2": ("#0d47a1", ""),
    "nibp_sys": ("#b71c1c", ""), "nibp_dia": ("#b71c1c", ""), "nibp_mean": ("#424242", ""),
    "resp_rate": ("#e65100", ""), "etco2": ("#00695c", "4 2"),
}


@dataclass(frozen=True)
class Panel:
    """One chart: its parameters, whose limits it shades, its default y range."""

    title: str
    params: tuple[str, ...]
    band_param: str
    y_range: tuple[float, float]
    height: int
    fill_sides: tuple[str, ...] = ("low", "high")   # `band_param` sides drawn as bands
    line_params: tuple[str, ...] = ()               # limits drawn as labelled lines only


PANELS: tuple[Panel, ...] = (
    Panel("Heart rate / pulse rate", ("hr", "pulse_rate"), "hr", (40.0, 140.0), 170),
    Panel("SpO2", ("spo2",), "spo2", (84.0, 100.0), 130),
    # Shading SBP's low band would cover the diastolic values: only its high side is
    # shaded; its low limit and DBP's limits are lines.
    Panel("NIBP", ("nibp_sys", "nibp_dia", "nibp_mean"), "nibp_sys", (40.0, 200.0), 190,
          fill_sides=("high",), line_params=("nibp_dia",)),
    Panel("Respiratory rate / EtCO2", ("resp_rate", "etco2"), "resp_rate", (0.0, 40.0), 130),
)


def local_time(t: float, tz: tzinfo | None) -> datetime:
    """Seconds since epoch as an aware local time (`tz`, or this computer's zone)."""
    moment = datetime.fromtimestamp(t, UTC)
    return moment.astimezone(tz) if tz is not None else moment.astimezone()


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def decimate(times: np.ndarray, values: np.ndarray, t0: float, t1: float, columns: int,
             gap_s: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Gap-free runs of a series, each reduced to its min and max per pixel column.

    Parameters
    ----------
    times, values : ndarray
        Valid readings in time order (s since epoch, parameter unit).
    t0, t1 : float
        Time at the left and right edge of the plot (s).
    columns : int
        Pixel columns across the plot.
    gap_s : float
        Readings further apart than this (s) are not joined.

    Returns
    -------
    list of (times, values)
        One entry per run, at most two points per column, in time order.
    """
    if not len(times):
        return []
    run = np.concatenate([[0], np.cumsum(np.diff(times) > gap_s)])
    span = max(t1 - t0, 1e-9)
    column = np.clip(((times - t0) / span * columns).astype(np.int64), 0, columns - 1)
    group = run * (columns + 1) + column          # non-decreasing: times are sorted
    order = np.lexsort((values, group))           # by group, then by value
    first = np.flatnonzero(np.concatenate([[True], group[order][1:] != group[order][:-1]]))
    last = np.concatenate([first[1:], [len(order)]]) - 1
    low, high = order[first], order[last]
    picked = np.stack([np.minimum(low, high), np.maximum(low, high)], axis=1).ravel()
    picked = picked[np.concatenate([[True], picked[1:] != picked[:-1]])]
    cuts = np.flatnonzero(np.diff(run[picked])) + 1
    return [(times[i], values[i]) for i in np.split(picked, cuts)]


class _Frame:
    """Coordinates of one panel: time -> x, value -> y."""

    def __init__(self, t0: float, t1: float, y0: float, y1: float, height: int,
                 top: float = TOP) -> None:
        self.t0, self.t1, self.y0, self.y1 = t0, max(t1, t0 + 1.0), y0, y1
        self.height, self.top = height, top
        self.bottom = height - BOTTOM

    def x(self, t: float | np.ndarray) -> float | np.ndarray:
        return LEFT + (t - self.t0) / (self.t1 - self.t0) * PLOT_W

    def y(self, v: float | np.ndarray) -> float | np.ndarray:
        v = np.clip(v, self.y0, self.y1)
        return self.bottom - (v - self.y0) / (self.y1 - self.y0) * (self.bottom - self.top)


def _nice_step(span: float, most: int) -> float:
    for step in (1, 2, 5, 10, 20, 25, 50, 100):
        if span / step <= most:
            return float(step)
    return 200.0


def _y_range(panel: Panel, series: Mapping[str, tuple[np.ndarray, np.ndarray]],
             ) -> tuple[float, float]:
    low, high = panel.y_range
    values = [v for _, v in series.values() if len(v)]
    if values:
        data = np.concatenate(values)
        low, high = min(low, float(data.min())), max(high, float(data.max()))
    step = _nice_step(high - low, 6)
    return float(np.floor(low / step) * step), float(np.ceil(high / step) * step)


def time_ticks(t0: float, t1: float, tz: tzinfo | None) -> list[float]:
    """Tick times on whole local minutes, at most about a dozen across the record."""
    span_min = max(t1 - t0, 60.0) / 60
    step = next((s for s in (5, 10, 15, 30, 60, 120, 180, 240, 360, 720) if span_min / s <= 12),
                1440) * 60
    offset = local_time(t0, tz).utcoffset()
    shift = offset.total_seconds() if offset is not None else 0.0
    first = np.ceil((t0 + shift) / step) * step - shift
    return [float(t) for t in np.arange(first, t1 + 1e-6, step)]


def _polyline(frame: _Frame, times: np.ndarray, values: np.ndarray, colour: str,
              dash: str, param: str) -> str:
    xs, ys = frame.x(times), frame.y(values)
    if len(xs) == 1:
        return (f'<circle class="pt" data-param="{param}" cx="{xs[0]:.1f}" cy="{ys[0]:.1f}" '
                f'r="1.6" fill="{colour}"/>')
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs.tolist(), ys.tolist(), strict=True))
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<polyline class="trace" data-param="{param}" points="{points}" fill="none" '
            f'stroke="{colour}" stroke-width="1.1"{dashes}/>')


def _chevron(x: float, y: float, rise: float) -> str:
    """A ∨ (rise < 0) or ∧ (rise > 0) with its point at (x, y), as path data."""
    return f"M{x - 3:.1f} {y + rise:.1f}L{x:.1f} {y:.1f}L{x + 3:.1f} {y + rise:.1f}"


def _nibp(frame: _Frame, series: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> list[str]:
    """Each NIBP measurement as ∨ (systolic) over ∧ (diastolic), joined, with • (mean)."""
    paths = {"nibp_sys": [], "nibp_dia": [], "join": []}
    dots = []
    sys_t, sys_v = series.get("nibp_sys", (np.empty(0), np.empty(0)))
    dia = dict(zip(*series.get("nibp_dia", (np.empty(0), np.empty(0))), strict=True))
    for t, v in zip(sys_t.tolist(), sys_v.tolist(), strict=True):
        x, y = frame.x(t), frame.y(v)
        paths["nibp_sys"].append(_chevron(x, y, -4))
        if t in dia:
            paths["join"].append(f"M{x:.1f} {y:.1f}V{frame.y(dia[t]):.1f}")
    for t, v in dia.items():
        paths["nibp_dia"].append(_chevron(frame.x(t), frame.y(v), 4))
    for t, v in zip(*series.get("nibp_mean", (np.empty(0), np.empty(0))), strict=True):
        dots.append(f'<circle cx="{frame.x(t):.1f}" cy="{frame.y(v):.1f}" r="1.8" '
                    f'fill="{STYLES["nibp_mean"][0]}"/>')
    out = []
    for name, width in (("join", 0.6), ("nibp_sys", 1.4), ("nibp_dia", 1.4)):
        if paths[name]:
            out.append(f'<path class="nibp" data-param="{name}" d="{"".join(paths[name])}" '
                       f'fill="none" stroke="{STYLES["nibp_sys"][0]}" stroke-width="{width}"/>')
    return out + dots


def _lanes(alarms: Sequence[StoredAlarm], end: float, most: int) -> list[int]:
    """A lane per alarm so that overlapping alarms sit one above the other."""
    lane_ends: list[float] = []
    lanes = []
    for alarm in alarms:
        free = next((i for i, e in enumerate(lane_ends) if e <= alarm.onset), None)
        if free is None:
            free = min(len(lane_ends), most - 1)
            if free == len(lane_ends):
                lane_ends.append(0.0)
        lane_ends[free] = alarm.end if alarm.end is not None else end
        lanes.append(free)
    return lanes


def _alarm_bar(frame: _Frame, alarm: StoredAlarm, end: float, y: float, h: float) -> str:
    x0, x1 = frame.x(alarm.onset), frame.x(alarm.end if alarm.end is not None else end)
    colour = PRIORITY_COLOURS.get(alarm.priority, "#555")
    state = "" if alarm.end is not None else " (not ended)"
    return (f'<rect class="alarm-span" x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 1.5):.1f}" '
            f'height="{h:.1f}" fill="{colour}"><title>{esc(alarm.priority)} {esc(alarm.rule)}: '
            f'{esc(alarm.message)}{state}</title></rect>')


def _frame_parts(frame: _Frame, ticks: Sequence[float], tz: tzinfo | None,
                 infusion: Infusion, y_grid: bool = True) -> list[str]:
    """Grid, axis labels, the infusion strip and its start/stop lines."""
    parts = []
    top, bottom = frame.top, frame.bottom
    step = _nice_step(frame.y1 - frame.y0, 6)
    for v in np.arange(frame.y0, frame.y1 + 1e-6, step).tolist() if y_grid else ():
        y = frame.y(v)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'class="grid"/><text x="{LEFT - 4}" y="{y + 3:.1f}" class="yl">{v:g}</text>')
    for t in ticks:
        x = frame.x(t)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top:.1f}" y2="{bottom}" '
                     f'class="grid"/><text x="{x:.1f}" y="{frame.height - 5}" class="xl">'
                     f'{local_time(t, tz):%H:%M}</text>')
    for a, b in infusion.running:
        parts.append(f'<rect x="{frame.x(a):.1f}" y="{bottom - 4}" height="4" '
                     f'width="{frame.x(b) - frame.x(a):.1f}" fill="{INFUSION_COLOUR}" '
                     'opacity="0.55"/>')
    for t in (infusion.start, infusion.stop):
        if t is not None:
            x = frame.x(t)
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top:.1f}" y2="{bottom}" '
                         f'stroke="{INFUSION_COLOUR}" stroke-dasharray="3 2"/>')
    return parts


def _limits(panel: Panel, frame: _Frame, profile: Profile,
            baseline: Mapping[str, float]) -> tuple[list[str], list[str]]:
    """(bands, lines): shaded bands under the data, labelled limit lines over the grid."""
    bands, lines = [], []
    y0, y1 = frame.y0, frame.y1
    for param in (panel.band_param, *panel.line_params):
        limits = limit_bands(profile, param, baseline)
        # Least severe first, so the more severe band is painted over it.
        for side, threshold, priority, basis in sorted(limits, key=lambda b: b[2] == "high"):
            if not y0 < threshold < y1:
                continue
            colour = PRIORITY_COLOURS.get(priority, "#555")
            if param == panel.band_param and side in panel.fill_sides and basis == "absolute":
                top, bottom = (y1, threshold) if side == "high" else (threshold, y0)
                bands.append(f'<rect class="band" x="{LEFT}" width="{PLOT_W}" '
                             f'y="{frame.y(top):.1f}" '
                             f'height="{frame.y(bottom) - frame.y(top):.1f}" '
                             f'fill="{BAND_FILL.get(priority, "#eee")}"/>')
                continue
            y = frame.y(threshold)
            sign = ">" if side == "high" else "<"
            label = f"{PARAMETERS[param].short} {sign}{threshold:g}"
            if basis != "absolute":
                label += " (baseline)"
            lines.append(f'<line class="limit" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
                         f'y2="{y:.1f}" stroke="{colour}" stroke-width="0.8" '
                         f'stroke-dasharray="6 3"/><text x="{WIDTH - RIGHT - 3}" '
                         f'y="{y - 2:.1f}" class="ll" fill="{colour}">{esc(label)}</text>')
    return bands, lines


def panel_svg(panel: Panel, table: ReadingTable, *, start: float, end: float,
              profile: Profile, baseline: Mapping[str, float], infusion: Infusion,
              alarms: Sequence[StoredAlarm], tz: tzinfo | None) -> str | None:
    """One panel as an inline ``<svg>``; None when none of its parameters was recorded."""
    series = {p: valid_series(table, p) for p in panel.params}
    if not any(len(t) for t, _ in series.values()):
        return None
    mine = [a for a in alarms if a.param in panel.params]
    lanes = _lanes(mine, end, 4)
    # Alarm bars get their own strip above the plot, so they never hide a value.
    strip = (max(lanes) + 1) * 5 + 2 if lanes else 0
    y0, y1 = _y_range(panel, series)
    height = panel.height + strip
    frame = _Frame(start, end, y0, y1, height, top=TOP + strip)
    parts = [f'<rect x="{LEFT}" y="{frame.top}" width="{PLOT_W}" '
             f'height="{frame.bottom - frame.top}" fill="#fff"/>']
    bands, lines = _limits(panel, frame, profile, baseline)
    parts += bands + _frame_parts(frame, time_ticks(start, end, tz), tz, infusion) + lines
    for param in panel.params:
        if param in baseline and y0 < baseline[param] < y1:
            y = frame.y(baseline[param])
            parts.append(f'<line class="baseline" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
                         f'y1="{y:.1f}" y2="{y:.1f}" stroke="{STYLES.get(param, ("#555",))[0]}" '
                         'stroke-dasharray="2 3" stroke-width="0.8"/>')
    for param in panel.params:
        times, values = series[param]
        if param in ("nibp_sys", "nibp_dia", "nibp_mean") or not len(times):
            continue
        colour, dash = STYLES.get(param, ("#333", ""))
        interval = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
        gap = max(profile.technical.stale_after_s, 2.5 * interval)
        for run_t, run_v in decimate(times, values, start, frame.t1, PLOT_W, gap):
            parts.append(_polyline(frame, run_t, run_v, colour, dash, param))
    parts += _nibp(frame, series)
    for alarm, lane in zip(mine, lanes, strict=True):
        parts.append(_alarm_bar(frame, alarm, end, TOP + lane * 5, 4))
    return (f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
            f'aria-label="{esc(panel.title)}">{"".join(parts)}</svg>')


def alarm_timeline_svg(alarms: Sequence[StoredAlarm], *, start: float, end: float,
                       infusion: Infusion, tz: tzinfo | None) -> str | None:
    """All alarms, one lane per rule (first onset first), coloured by priority."""
    if not alarms:
        return None
    rules = list(dict.fromkeys(a.rule for a in alarms))
    lane_h = 18
    height = TOP + lane_h * len(rules) + BOTTOM + 4
    frame = _Frame(start, end, 0.0, 1.0, height)
    parts = [f'<rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{frame.bottom - TOP}" '
             'fill="#fff"/>']
    parts += _frame_parts(frame, time_ticks(start, end, tz), tz, infusion, y_grid=False)
    for i, rule in enumerate(rules):
        y = TOP + i * lane_h
        parts.append(f'<text x="{LEFT + 3}" y="{y + 9}" class="lane">{esc(rule)}</text>')
        parts += [_alarm_bar(frame, a, end, y + 11, 5) for a in alarms if a.rule == rule]
    return (f'<svg class="chart timeline" viewBox="0 0 {WIDTH} {height}" role="img" '
            f'aria-label="Alarm timeline">{"".join(parts)}</svg>')
