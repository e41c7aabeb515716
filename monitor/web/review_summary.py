"""The review screen's summary panel, from :func:`monitor.review.summarize`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import html

from devices.vocabulary import PARAMETERS
from monitor.review import SessionSummary
from monitor.web import views
from monitor.web.live import format_age


def _clock(t: float | None) -> str:
    return "" if t is None else datetime.fromtimestamp(t).strftime("%H:%M:%S")


def _short(param: str) -> str:
    spec = PARAMETERS.get(param)
    return spec.short if spec else param


def summary_panel(summary: SessionSummary) -> list[Any]:
    """Baseline, peaks and their times, lowest SpO2, time beyond limits, alarms,
    infusion and dose, and when the discharge criteria were met."""
    baseline = ", ".join(f"{_short(p)} {v:g}" for p, v in summary.baseline.items()) or \
        "not captured"
    extremes = [f"{_short(p)} peak {e.value:g} at {_clock(e.time)}"
                for p, e in summary.peaks.items() if p in ("nibp_sys", "nibp_dia", "hr")]
    if summary.min_spo2 is not None:
        extremes.append(f"lowest SpO2 {summary.min_spo2.value:g} at "
                        f"{_clock(summary.min_spo2.time)}")
    beyond = []
    for exposure in summary.exposures:
        side = "above" if exposure.side == "high" else "below"
        if exposure.episodic:
            if exposure.beyond:
                beyond.append(f"{_short(exposure.param)} {side} {exposure.threshold:g}: "
                              f"{exposure.beyond} of {exposure.readings} measurements")
        elif exposure.seconds:
            beyond.append(f"{_short(exposure.param)} {side} {exposure.threshold:g}: "
                          f"{format_age(exposure.seconds)}")
    infusion = summary.infusion
    dose = summary.dose
    infusion_text = ("no infusion recorded" if infusion.start is None else
                     f"{_clock(infusion.start)} to {_clock(infusion.stop)}, "
                     + (format_age(infusion.duration_s) if infusion.duration_s is not None
                        else "still running"))
    dose_text = f"{dose.mg:g} mg" if dose.mg is not None else "unknown"
    alarms = ", ".join(f"{n} {p}" for p, n in summary.alarms_by_priority.items() if n) or "none"
    rules = ", ".join(f"{rule} {n}" for rule, n in sorted(summary.alarms_by_rule.items()))
    discharge = summary.discharge
    discharge_text = (f"criteria met at {_clock(discharge.met_at)}" if discharge.met_at
                      else discharge.note or "not met in this record")
    rows = [("Baseline", baseline), ("Extremes", "; ".join(extremes) or "no valid readings"),
            ("Time beyond limits", "; ".join(beyond) or "none"),
            ("Alarms", f"{alarms}" + (f" ({rules})" if rules else "")),
            ("Infusion", infusion_text), ("Dose", f"{dose_text} ({dose.method})"),
            ("Discharge", discharge_text)]
    return [html.H3("Summary"), html.Table([
        html.Tr([html.Th(label), html.Td(text, **views.testid(f"summary-{label.lower()}"))])
        for label, text in rows], className="summary-table")]
