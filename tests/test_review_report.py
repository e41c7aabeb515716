"""The HTML session report: one self-contained file, escaped, complete, printable, small."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from devices.table import Coded, ReadingTable
from devices.vocabulary import SourceKind
from monitor.importer import import_csv
from monitor.review import html_report, summarize
from monitor.review.charts import PLOT_W, decimate
from monitor.rules import AlarmChange, AlarmKind, AlarmState, AuditEntry, Priority, load_profile
from monitor.store import Store
from monitor.store.alarm_log import record_outputs, session_alarms
from tests.conftest import SAMPLE_DATA
from tests.test_review_summary import INFUSION, T0, record

HOSTILE = "<script>alert('x')</script> & \"quoted\""
ZONE = "Europe/Berlin"      # UTC+01:00 in November: the sessions' 08:00 UTC is 09:00


class Tables(HTMLParser):
    """Text of every cell of every table with an id: {id: [[cell, ...], ...]}."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = self.tables.setdefault(dict(attrs).get("id") or "", [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            self._table[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The recorded hypertensive session, with an acknowledgement and a hostile note."""
    db = tmp_path_factory.mktemp("report") / "hypertensive.db"
    session_id = record(db)
    with Store(db) as store:
        first = session_alarms(store, session_id)[0]
        ack_at = INFUSION + 32 * 60
        record_outputs(store, session_id, [
            AlarmChange(first.number, first.rule, first.param, AlarmKind.PHYSIOLOGICAL,
                        Priority.HIGH, AlarmState.ENDED, "acknowledged", ack_at, first.value,
                        first.limit, first.message, "nurse.kim", first.onset),
            AuditEntry(ack_at, "nurse.kim", "acknowledge", {"alarm": first.number})])
        store.add_event(session_id, INFUSION + 15 * 60, "observation", "nurse",
                        {"cadss": 12, "rass": 0, "note": HOSTILE, "user": "nurse.kim"})
    return db, session_id


@pytest.fixture(scope="module")
def report(session: tuple[Path, int]) -> str:
    db, session_id = session
    with Store(db) as store:
        return html_report(store, session_id, tz=ZONE, generated_at=T0 + 9000)


def test_one_self_contained_file(report: str) -> None:
    assert report.startswith("<!DOCTYPE html>") and report.count("<html") == 1
    lowered = report.lower()
    for external in ("<script", "src=", "<link", "@import", "url(", "http:", "https:",
                     "<iframe", "<object", "<img"):
        assert external not in lowered, external
    assert lowered.count("<style>") == 1 and lowered.count("<svg") == 5   # 4 panels + alarms
    assert "@media print" in report and "break-before: page" in report


def test_the_header_says_what_this_is(report: str) -> None:
    assert "SIMULATED DATA" in report
    assert "Secondary display and session record." in report and "Not a diagnostic device" in report
    # Local clinic time with its offset.
    assert "2026-11-26 09:00:00 UTC+01:00" in report
    assert "ketamine-adult" in report and "Europe/Berlin" in report


def test_a_hostile_note_is_text(report: str) -> None:
    assert HOSTILE not in report
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;" in report
    events = Tables(report).tables["events"]
    assert any(HOSTILE in cell for row in events for cell in row)   # what a reader sees


def test_an_open_session_with_nothing_yet_reports_and_escapes_its_header(
        tmp_path: Path) -> None:
    with Store(tmp_path / "open.db") as store:
        session_id = store.create_session(
            chair='<img src=x onerror="alert(1)">', device="masimo:/dev/ttyUSB0",
            source_kind=SourceKind.DEVICE, started_at=T0, patient_ref="K-0042 <b>")
        html = html_report(store, session_id, tz=ZONE)
    assert "<img" not in html and "<b>" not in html        # no charts: no <b> of ours
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "K-0042 &lt;b&gt;" in html
    assert "still open" in html and "no readings" in html
    assert 'id="source-label"' not in html          # a real device needs no label
    assert "shipped default used" in html           # no profile was stored


def test_the_summary_figures(session: tuple[Path, int], report: str) -> None:
    db, session_id = session
    with Store(db) as store:
        summary = summarize(store, session_id)
    vitals = {row[0].split()[0]: row[1:] for row in Tables(report).tables["vitals"][1:]}
    assert vitals["SYS"] == ["124", "peak 199", "09:40:35 (+30:35 from start of infusion)",
                             "+75 (+60%)"]
    assert vitals["DIA"][1:3] == ["peak 113", "09:50:35 (+40:35 from start of infusion)"]
    assert vitals["HR"][1] == "peak 86" and vitals["SpO2"][1] == "lowest 95"
    text = re.sub(r"<[^>]+>", " ", report)
    assert "40 min (start to stop minus pauses)" in text
    assert "52.7 mg" in text and "dose_mg recorded with the infusion start" in text
    assert "Criteria all met at 10:20:35, 30 min 35 s after the infusion ended" in text
    assert re.search(r"6 alarms:\s+high\s+2 · \s*medium\s+4 · \s*low\s+0", text)
    by_rule = dict(Tables(report).tables["alarms-by-rule"][1:])
    assert by_rule == {rule: str(n) for rule, n in summary.alarms_by_rule.items()}
    exposures = Tables(report).tables["exposures"]
    assert ["SYS", "> 180 mmHg", "high", "2 of 12 measurements", "—"] in exposures


def test_the_alarm_table_has_every_stored_alarm(session: tuple[Path, int], report: str) -> None:
    db, session_id = session
    with Store(db) as store:
        alarms = session_alarms(store, session_id)
    rows = Tables(report).tables["alarms"]
    assert rows[0][:6] == ["#", "Onset", "End", "Duration", "Priority", "Rule"]
    assert len(rows) - 1 == len(alarms) == 6
    for alarm, row in zip(alarms, rows[1:], strict=True):
        assert row[0] == str(alarm.number) and row[4] == alarm.priority and row[5] == alarm.rule
        assert row[9] == alarm.message
    assert rows[1][1:4] == ["09:30:35", "09:42:00", "11 min 25 s"]    # acknowledged: ended
    assert rows[1][6:9] == ["physiological", "199", "180"]
    assert rows[1][10] == "nurse.kim at 09:42:00"
    assert rows[5][2] == "— (latched)"                                # DIA > 110, not reset
    audit = Tables(report).tables["audit"]
    assert audit[1] == ["09:42:00", "nurse.kim", "acknowledge", "alarm: 1"]


def test_the_flowsheet_and_the_events(report: str) -> None:
    rows = Tables(report).tables["flowsheet"]
    assert rows[0] == ["Time point", "Clock", "HR /min", "PR /min", "SpO2 %", "RR /min",
                       "NIBP SYS/DIA (MAP) mmHg", "NIBP measured"]
    assert [r[0] for r in rows[1:]] == ["pre-infusion", "0 min · start", "10 min", "20 min",
                                        "30 min", "40 min · end", "55 min", "70 min", "85 min",
                                        "100 min", "115 min"]
    assert [r[6] for r in rows[1:5]] == ["124/81 (95)", "126/77 (93)", "133/80 (98)",
                                         "178/98 (125)"]
    assert rows[5][1:] == ["09:40:00", "81", "81", "96", "18", "199/109 (139)", "09:40:35"]
    events = {row[2]: row for row in Tables(report).tables["events"][1:]}
    assert events["Infusion start"][3:] == ["sim", "52.7 mg; 0.5 mg/kg; over 40 min; (simulated)"]
    assert events["Infusion stop"][:2] == ["09:50:00", "+40:00"]
    assert events["Observation"][4] == f"CADSS 12; note: {HOSTILE}; RASS 0; by nurse.kim"


@pytest.mark.browser
def test_it_prints_to_pdf(browser: Any, report: str) -> None:
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.set_content(report, wait_until="load")
    pdf = page.pdf(format="A4", print_background=True)
    page.close()
    assert pdf.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert 3 <= pages <= 8, pages        # header + summary, charts, flowsheet, alarms ...
    assert requests == []                # nothing fetched: it is all in the file


def test_an_imported_session_without_events_still_reports(tmp_path: Path) -> None:
    with Store(tmp_path / "imported.db") as store:
        result = import_csv(store, SAMPLE_DATA / "desaturation-session.csv")
        assert result.session_id is not None
        summary = summarize(store, result.session_id)
        html = html_report(store, result.session_id, tz="UTC")
    assert "IMPORTED RECORDING" in html and "SIMULATED DATA" not in html
    # A CSV has no infusion events: everything that needs them says unknown.
    assert summary.infusion.start is None and summary.dose.mg is None
    assert "Total dose</dt><dd>unknown" in html
    assert "Not met: the infusion has no recorded end" in html
    spo2 = next(e for e in summary.exposures if e.param == "spo2" and e.threshold == 90)
    assert summary.min_spo2 is not None and summary.min_spo2.value < 88
    assert 20 < spo2.seconds < 120
    with pytest.raises(ValueError, match="unknown time zone"), \
            Store(tmp_path / "imported.db") as store:
        html_report(store, result.session_id, tz="Mars/Olympus")


def test_gaps_stay_gaps_and_peaks_survive_reduction() -> None:
    times = np.concatenate([np.arange(0, 3000.0), np.arange(3600, 7200.0)])
    values = np.full(len(times), 70.0)
    values[1234] = 140.0                       # one beat-to-beat spike
    runs = decimate(times, values, 0.0, 7200.0, 500, gap_s=10.0)
    assert len(runs) == 2                      # the 10-minute hole is not bridged
    assert runs[0][0][-1] == 2999.0 and runs[1][0][0] == 3600.0
    assert 140.0 in runs[0][1]                 # the spike is kept
    assert sum(len(t) for t, _ in runs) <= 2 * 500


def _day_long(store: Store) -> int:
    """A 24-hour session: four 1 Hz parameters, NIBP every 15 min, a 4-hour infusion,
    300 alarms and 500 artefact events."""
    rng = np.random.default_rng(7)
    start = T0
    seconds = np.arange(24 * 3600, dtype=np.float64)
    seconds = seconds[(seconds < 30_000) | (seconds >= 30_600)]    # probe off for 10 min
    n = len(seconds)
    streams = {
        "hr": 72 + 8 * np.sin(seconds / 5000) + rng.normal(0, 3, n),
        "pulse_rate": 72 + 8 * np.sin(seconds / 5000) + rng.normal(0, 3, n),
        "spo2": np.clip(97 + rng.normal(0, 1.2, n), 80, 100),
        "resp_rate": 16 + rng.normal(0, 2, n),
    }
    cuffs = np.arange(35, 24 * 3600, 900, dtype=np.float64)
    nibp = {"nibp_sys": 125 + rng.normal(0, 12, len(cuffs)),
            "nibp_dia": 80 + rng.normal(0, 8, len(cuffs)),
            "nibp_mean": 95 + rng.normal(0, 8, len(cuffs))}
    times = np.concatenate([seconds] * 4 + [cuffs] * 3)
    params = [p for p in streams for _ in range(n)] + [p for p in nibp for _ in cuffs]
    values = np.round(np.concatenate([*streams.values(), *nibp.values()]))
    order = np.argsort(times, kind="stable")
    table = ReadingTable(
        time_ms=np.round((start + times[order]) * 1000).astype(np.int64),
        param=Coded.encode([params[i] for i in order.tolist()]), value=values[order],
        unit=Coded.encode(["-"] * len(order)), status=np.zeros(len(order), dtype=np.int8),
        source=Coded.encode(["day"] * len(order)))
    session_id = store.create_session(chair="7", device="csv:day.csv", started_at=start,
                                      source_kind=SourceKind.IMPORT, weight_kg=80.0)
    profile = load_profile()
    store.set_profile(session_id, profile.name, dict(profile.raw))
    store.add_table(session_id, table)
    store.set_baseline(session_id, {"hr": 72.0, "nibp_sys": 125.0, "nibp_dia": 80.0})
    store.add_events(session_id, [
        (start + 3600, "infusion_start", "nurse", {"dose_mg_per_kg": 1.4, "rate_mg_per_h": 28}),
        (start + 5 * 3600, "infusion_stop", "nurse", {}),
        *[(start + 60 * k, "artefact_rejected", "rules", {"param": "hr", "value": 400})
          for k in range(500)]])
    changes = []
    for k in range(300):
        onset = start + 250 * k + 7
        for transition, state, t in (("onset", AlarmState.ACTIVE, onset),
                                     ("ended", AlarmState.ENDED, onset + 40)):
            changes.append(AlarmChange(k + 1, "spo2.low", "spo2", AlarmKind.PHYSIOLOGICAL,
                                       Priority.MEDIUM, state, transition, t, 89.0, 90.0,
                                       "SpO2 89 below 90", None, onset))
    record_outputs(store, session_id, changes)
    store.end_session(session_id, start + 24 * 3600 - 1)
    return session_id


def test_a_24_hour_report_stays_small(tmp_path: Path) -> None:
    with Store(tmp_path / "day.db") as store:
        session_id = _day_long(store)
        began = time.perf_counter()
        html = html_report(store, session_id, tz="UTC")
        took = time.perf_counter() - began
    size = len(html.encode("utf-8"))
    assert size < 2_000_000, size
    assert took < 20, took
    # Each trace is at most two points per pixel column, and the probe-off hour is a gap.
    for param in ("hr", "pulse_rate", "spo2", "resp_rate"):
        polylines = re.findall(rf'data-param="{param}" points="([^"]*)"', html)
        assert len(polylines) == 2, param
        assert sum(p.count(",") for p in polylines) <= 2 * PLOT_W
    tables = Tables(html).tables
    assert len(tables["alarms"]) == 301
    # Header, pre-infusion, 0..230 min every 10, then 240..1365 min every 15 (the
    # record ends 1379.98 min after the infusion start).
    assert len(tables["flowsheet"]) == 1 + 1 + 24 + 76
    assert "400 more “artefact_rejected” events not listed" in html
    assert "1.4 mg/kg (infusion start) × 80 kg" in html and "112 mg" in html
