"""Session review: the summary, the protocol flowsheet and the printable HTML report.

Everything here reads a finished (or running) session and computes from it;
nothing writes to the store. :mod:`monitor.review.summary` and
:mod:`monitor.review.flowsheet` are pure functions of plain inputs (a reading
table, events, alarms, the profile, the baseline) with a ``store`` convenience
each; :mod:`monitor.review.report` renders them as one self-contained HTML file.
"""

from monitor.review.flowsheet import (
    Cell,
    Flowsheet,
    FlowsheetRow,
    FlowsheetSettings,
    build_flowsheet,
    session_flowsheet,
)
from monitor.review.report import export_html, gather, html_report, render_report
from monitor.review.summary import (
    Discharge,
    Dose,
    Extreme,
    Infusion,
    LimitExposure,
    SessionSummary,
    session_profile,
    summarize,
    summarize_session,
)

__all__ = [
    "Cell",
    "Discharge",
    "Dose",
    "Extreme",
    "Flowsheet",
    "FlowsheetRow",
    "FlowsheetSettings",
    "Infusion",
    "LimitExposure",
    "SessionSummary",
    "build_flowsheet",
    "export_html",
    "gather",
    "html_report",
    "render_report",
    "session_flowsheet",
    "session_profile",
    "summarize",
    "summarize_session",
]
