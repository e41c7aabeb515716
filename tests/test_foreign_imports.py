"""Recordings from other tools through import: VSCapture's wide CSV and WFDB numerics.

The VSCapture file is a real export (tests/data, with its licence). The WFDB
records are written here with ``wfdb.wrsamp`` in the layout of MIMIC numerics
(signal names, units, once-a-minute sampling, dates shifted to 2150);
``tests/data/numerics-2150n`` is :func:`write_numerics` as shipped, and a test
checks that it still is.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from devices.csv_format import RecordingError, format_time_ms
from devices.foreign import VSCAPTURE_DATEX, canonical_unit, future_dates_note
from devices.table import ReadingTable
from devices.timestamps import format_times_ms
from devices.wfdb_format import SampleProblem, is_wfdb_path, read_wfdb
from monitor.export import iso_time, session_document
from monitor.importer import import_file, read_file
from monitor.store import Store
from monitor.web import chart, live, timeline
from tests.conftest import DEVICE_DATA, cli

with warnings.catch_warnings():  # wfdb's own pandas deprecations, not this project's
    warnings.simplefilter("ignore", DeprecationWarning)
    import wfdb

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:wfdb")

VSCAPTURE = DEVICE_DATA / "vscapture-as3-export.csv"
NUMERICS = DEVICE_DATA / "numerics-2150n.hea"
VSCAPTURE_FORMAT = "%m/%d/%Y %H:%M:%S"
START_2150 = dt.datetime(2150, 3, 4, 10, 20, 30)
MINUTES = 60


def values(table: ReadingTable, param: str) -> np.ndarray:
    if param not in table.param.names:
        return np.array([])
    return table.value[table.param.codes == table.param.names.index(param)]


def unit(table: ReadingTable, param: str) -> str:
    first = int(np.flatnonzero(table.param.codes == table.param.names.index(param))[0])
    return table.unit[first]


def iso(table: ReadingTable) -> list[str]:
    return format_times_ms(table.time_ms).to_pylist()


# --- VSCapture: the real export --------------------------------------------------

def zero_note(column: str, count: int, why: str) -> str:
    return (f"{column}: {count} zeros read as no value (VSCapture writes 0 when the "
            f"parameter is not measured; {why})")


def test_the_vscapture_export_imports_under_canonical_ids_with_its_zeros_counted() -> None:
    recording = read_file(VSCAPTURE)
    assert recording.layout == "wide" and recording.rows == 124 and recording.problems == []
    table, notes = recording.table, recording.notes
    times = iso(table)
    assert times[0] == "2016-08-05T11:07:10.000+00:00"
    assert times[-1] == "2016-08-05T13:57:44.000+00:00"
    assert {t[:10] for t in times} == {"2016-08-05"}
    spo2 = values(table, "spo2")
    assert len(spo2) == 121 and spo2.min() == 96 and spo2.max() == 100
    assert 97 <= np.median(spo2) <= 99
    # ECG_HR: 0 in 58 rows while SpO2 read 97-100 %, "-" in 6, 69-80 in the other 60.
    hr = values(table, "hr")
    assert len(hr) == 60 and hr.min() == 69 and hr.max() == 80
    assert unit(table, "hr") == "/min"
    assert values(table, "etco2").tolist()[:3] == [25, 25, 25] and len(values(table, "etco2")) == 63
    assert set(values(table, "resp_rate").tolist()) == {8, 9, 10}   # CO2_RR
    assert values(table, "temp").min() > 35.5 and len(values(table, "temp")) == 61
    asystole, apnoea = ("an asystole would also read 0 and cannot be told apart",
                        "an apnoea would also read 0 and cannot be told apart")
    for note in (zero_note("ECG_HR", 58, asystole), zero_note("P1_HR", 50, asystole),
                 zero_note("P2_HR", 56, asystole), zero_note("ET_CO2", 61, apnoea),
                 zero_note("CO2_RR", 61, apnoea)):
        assert note in notes
    assert any(n.startswith("columns recognised as a VSCapture export") for n in notes)
    # Where 0 is a reading it stays one: no agent yet, a zeroed line, a flat EEG.
    assert (values(table, "AA_ET") == 0).sum() == 61
    assert {-2.0, 0.0} <= set(values(table, "P2_Diastolic").tolist())
    assert values(table, "BIS").tolist() == [0.0] * 124
    # Text reported once; the rest kept under its own names, each with a note.
    assert "column 'Agent_AA' holds text, not numbers (e.g. 'ISO' at line 2); not imported" \
        in notes
    assert "Agent_AA" not in table.param.names
    assert {"O2_FI", "P1_Systolic", "P1_Disatolic", "ST_II", "N2O_ET"} <= set(table.param.names)
    assert "column 'P1_Systolic' has no canonical id; kept as 'P1_Systolic'" in notes
    assert any(n.startswith("no readings in column(s) 'NIBP_Systolic', 'NIBP_Diastolic'")
               for n in notes)
    assert any(n.startswith("dates could be month-first or day-first; read month-first")
               for n in notes)


def rewrite(tmp_path: Path, name: str, spell: Callable[[dt.datetime], str]) -> Path:
    """The VSCapture export with its times respelled, as another locale writes them."""
    lines = VSCAPTURE.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    out = [lines[0]]
    for line in lines[1:]:
        stamp, rest = line.split(",", 1)
        out.append(f"{spell(dt.datetime.strptime(stamp, VSCAPTURE_FORMAT))},{rest}")
    path = tmp_path / name
    path.write_text("".join(out), encoding="utf-8")
    return path


def twelve_hour(space: str) -> Callable[[dt.datetime], str]:
    # Windows en-US: M/d/yyyy h:mm:ss tt; newer .NET puts U+202F before the AM/PM.
    return lambda t: (f"{t.month}/{t.day}/{t.year} {(t.hour % 12) or 12}:{t:%M:%S}"
                      f"{space}{'AM' if t.hour < 12 else 'PM'}")


@pytest.mark.parametrize(("name", "spell", "order_note"), [
    ("dashes", lambda t: t.strftime("%d-%m-%Y %H:%M:%S"), "read day-first"),  # VSCapture's own
    ("dots", lambda t: t.strftime("%d.%m.%Y %H:%M:%S"), "read day-first"),
    ("year-first", lambda t: t.strftime("%Y-%m-%d %H:%M:%S"), None),
    ("slashes-year-first", lambda t: t.strftime("%Y/%m/%d %H:%M"), None),
    ("fractions", lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.000"), None),
    ("am-pm", twelve_hour(" "), "read month-first"),
    ("am-pm-narrow-space", twelve_hour("\u202f"), "read month-first"),
])
def test_the_export_in_other_locales_imports_to_the_same_times(
        tmp_path: Path, name: str, spell: Callable[[dt.datetime], str],
        order_note: str | None) -> None:
    original = read_file(VSCAPTURE).table
    recording = read_file(rewrite(tmp_path, f"{name}.csv", spell))
    assert recording.problems == []
    table = recording.table
    if name == "slashes-year-first":  # no seconds: compare to the minute
        np.testing.assert_array_equal(table.time_ms, original.time_ms // 60_000 * 60_000)
    else:
        np.testing.assert_array_equal(table.time_ms, original.time_ms)
    np.testing.assert_array_equal(table.value, original.value)
    ambiguous = [n for n in recording.notes if n.startswith("dates could be")]
    assert [order_note in n for n in ambiguous] == ([True] if order_note else [])


def test_a_day_first_export_is_ambiguous_says_so_and_takes_the_override(tmp_path: Path) -> None:
    path = rewrite(tmp_path, "en-gb.csv", lambda t: t.strftime("%d/%m/%Y %H:%M:%S"))
    guessed = read_file(path)
    # 05/08/2016 reads either way; month-first is the default, and the note says how to
    # read it the other way.
    assert iso(guessed.table)[0] == "2016-05-08T11:07:10.000+00:00"
    assert ("dates could be month-first or day-first; read month-first (the first such date "
            "is 2016-05-08); if that is wrong, import again with date_order=dmy "
            "(import --date-order dmy)") in guessed.notes
    told = read_file(path, date_order="dmy")
    np.testing.assert_array_equal(told.table.time_ms, read_file(VSCAPTURE).table.time_ms)
    assert not [n for n in told.notes if n.startswith("dates could be")]


def test_the_recording_machines_time_zone_is_honoured() -> None:
    utc = read_file(VSCAPTURE).table.time_ms
    london = read_file(VSCAPTURE, tz="Europe/London")   # BST in August: UTC+1
    np.testing.assert_array_equal(london.table.time_ms, utc - 3_600_000)
    assert "times without a UTC offset were read in Europe/London" in london.notes


def test_zero_rules_belong_to_their_source_only(tmp_path: Path) -> None:
    # The same column names in a spreadsheet that is not VSCapture's: 0 is kept.
    path = tmp_path / "sheet.csv"
    path.write_text("Time,ECG_HR,SpO2\n2026-11-26 14:03:05,0,98\n2026-11-26 14:03:10,72,0\n")
    recording = read_file(path)
    assert values(recording.table, "hr").tolist() == [0, 72]
    assert values(recording.table, "spo2").tolist() == [98, 0]
    assert not [n for n in recording.notes if "read as no value" in n]
    rule = VSCAPTURE_DATEX.zero_rule("ecg-hr")              # spelling does not matter
    assert rule is not None and VSCAPTURE_DATEX.zero_rule("P2_Systolic") is None


# --- WFDB numerics ---------------------------------------------------------------

def numerics_signals() -> dict[str, tuple[str, np.ndarray]]:
    """An hour of MIMIC-style numerics, once a minute: name -> (unit, values)."""
    minute = np.arange(MINUTES, dtype=np.float64)
    hr = 72 + minute % 9
    hr[5] = np.nan                                   # WFDB's invalid sample
    probe_on = np.where(minute < 3, 0, 1)            # oximeter on from minute 3
    nbp = np.full((3, MINUTES), np.nan)              # a cuff every 15 minutes
    nbp[:, 10::15] = [[128], [81], [96]]
    resp = 14 + minute % 3
    resp[30] = 0                                     # an apnoea is a reading
    abp = 120 + minute % 5
    abp[20] = 0                                      # a zeroed transducer, too
    return {
        "HR": ("bpm", hr), "PULSE": ("bpm", (hr + 1) * probe_on),
        "%SpO2": ("%", (97 + minute % 3) * probe_on),
        "NBP Sys": ("mmHg", nbp[0]), "NBP Dias": ("mmHg", nbp[1]), "NBP Mean": ("mmHg", nbp[2]),
        "RESP": ("pm", resp), "ABP Sys": ("mmHg", abp), "ST II": ("mm", 0.1 + minute % 2 / 10),
        "etCO2": ("kPa", np.full(MINUTES, 5.0)),
    }


def write_numerics(folder: Path, name: str = "numerics-2150n",
                   start: dt.datetime | None = START_2150) -> Path:
    """Write the record of :func:`numerics_signals` with wrsamp; returns its .hea."""
    signals = numerics_signals()
    wfdb.wrsamp(name, fs=1 / 60, units=[u for u, _ in signals.values()],
                sig_name=list(signals), p_signal=np.stack([v for _, v in signals.values()], 1),
                fmt=["16"] * len(signals), adc_gain=[100.0] * len(signals),
                baseline=[0] * len(signals), base_datetime=start, write_dir=str(folder))
    return folder / f"{name}.hea"


def test_the_shipped_record_is_the_one_written_here(tmp_path: Path) -> None:
    fresh = write_numerics(tmp_path)
    assert fresh.read_bytes() == NUMERICS.read_bytes()
    assert fresh.with_suffix(".dat").read_bytes() == NUMERICS.with_suffix(".dat").read_bytes()


def test_a_numerics_record_maps_its_signals_and_counts_every_oddity() -> None:
    recording = read_file(NUMERICS)
    assert recording.layout == "wfdb" and recording.rows == MINUTES and recording.problems == []
    table, notes = recording.table, recording.notes
    times = iso(table)
    assert times[0] == "2150-03-04T10:20:30.000+00:00"       # shifted, kept as written
    assert times[-1] == "2150-03-04T11:19:30.000+00:00"      # sample 59, a minute apart
    hr = values(table, "hr")
    assert len(hr) == MINUTES - 1 and hr.min() >= 72 and unit(table, "hr") == "/min"  # 1 NaN
    assert len(values(table, "pulse_rate")) == MINUTES - 3 - 1         # zeros and NaN
    spo2 = values(table, "spo2")
    assert len(spo2) == MINUTES - 3 and spo2.min() == 97 and unit(table, "spo2") == "%"
    assert values(table, "nibp_sys").tolist() == [128] * 4
    assert values(table, "nibp_dia").tolist() == [81] * 4
    assert values(table, "nibp_mean").tolist() == [96] * 4
    resp = values(table, "resp_rate")
    assert len(resp) == MINUTES and resp.min() == 0 and unit(table, "resp_rate") == "/min"
    # Invasive, so not NIBP: kept under its own name, its 0 (a zeroed line) a reading.
    assert len(values(table, "ABP Sys")) == MINUTES and values(table, "ABP Sys").min() == 0
    assert unit(table, "ABP Sys") == "mmHg"
    np.testing.assert_allclose(values(table, "etco2"), 5.0 * 760 / 101.325)
    assert unit(table, "etco2") == "mmHg"
    why = "numerics records hold 0 where the parameter is not measured"
    assert f"%SpO2: 3 zeros read as no value ({why}; 0 is never a reading of it)" in notes
    assert any(n.startswith(f"PULSE: 3 zeros read as no value ({why}; an asystole") for n in notes)
    assert ("dates are de-identified: shifted into the future, to 2150-03-04; kept as written, "
            "never guessed back (PhysioNet/MIMIC shifts keep times of day and intervals real)"
            ) in notes
    assert "signal 'ABP Sys' has no canonical id; kept as 'ABP Sys'" in notes
    assert "signal 'etCO2' is in 'kPa': converted to 'mmHg'" in notes
    assert ("samples marked invalid in the record, read as no reading: 'HR' 1, 'PULSE' 1, "
            "'NBP Sys' 56, 'NBP Dias' 56, 'NBP Mean' 56") in notes
    assert any(n.startswith("the header's start time has no time zone: read as UTC")
               for n in notes)


@pytest.mark.parametrize("given", ["numerics-2150n.hea", "numerics-2150n", "numerics-2150n.dat"])
def test_a_record_is_recognised_by_its_header(given: str) -> None:
    assert is_wfdb_path(DEVICE_DATA / given)
    assert read_file(DEVICE_DATA / given).layout == "wfdb"
    assert not is_wfdb_path(VSCAPTURE)


def test_the_start_time_zone_and_a_missing_date(tmp_path: Path) -> None:
    header = write_numerics(tmp_path)
    # 10:20:30 in New York in early March 2150 is EST, UTC-5.
    assert iso(read_wfdb(header, tz="America/New_York").table)[0] == \
        "2150-03-04T15:20:30.000+00:00"
    # MIMIC-III numerics give a time of day and no date.
    lines = header.read_text().splitlines(keepends=True)
    header.write_text(lines[0].replace(" 04/03/2150", "") + "".join(lines[1:]))
    undated = read_wfdb(header)
    assert iso(undated.table)[0] == "2000-01-01T10:20:30.000+00:00"
    assert ("the header gives no date: times start on 2000-01-01, a placeholder, not the "
            "recording's date; intervals are real") in undated.notes
    assert not [n for n in undated.notes if n.startswith("dates are de-identified")]


def test_a_mimic_ii_style_header_with_its_counter_frequency_and_year_2896(tmp_path: Path) -> None:
    header = write_numerics(tmp_path, "mimic2n")
    lines = header.read_text().splitlines(keepends=True)
    # As MIMIC-II numerics headers write it: fs/counter frequency, m:ss.fff, dd/mm/yyyy.
    header.write_text(f"mimic2n 10 0.0166666666667/125 {MINUTES} 31:25.894 10/10/2896\n"
                      + "".join(lines[1:]))
    table = read_file(header).table
    assert iso(table)[0] == "2896-10-10T00:31:25.894+00:00"
    assert iso(table)[-1] == "2896-10-10T01:30:25.894+00:00"


def test_a_truncated_signal_file_keeps_what_it_holds_and_says_where_it_ends(
        tmp_path: Path) -> None:
    header = write_numerics(tmp_path)
    dat = header.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:30 * 10 * 2 + 7])     # 30 whole samples of 10 signals
    recording = read_file(header)
    assert recording.rows == 30 and len(values(recording.table, "resp_rate")) == 30
    (problem,) = recording.problems
    assert isinstance(problem, SampleProblem) and problem.sample == 30
    assert str(problem) == (f"{header}:*@30: the signal file ends after 30 of {MINUTES} "
                            f"samples (truncated); samples 30-{MINUTES - 1} are missing")


def test_a_damaged_signal_file_is_noted_by_its_checksums(tmp_path: Path) -> None:
    header = write_numerics(tmp_path)
    dat = header.with_suffix(".dat")
    data = bytearray(dat.read_bytes())
    data[0] ^= 0x01                                          # HR at sample 0, one bit
    dat.write_bytes(bytes(data))
    recording = read_file(header)
    assert [n for n in recording.notes if "checksum" in n] == [
        "signal 'HR': checksum 21417 does not match the header's 21416; the .dat may be "
        "damaged (values kept)"]
    assert values(recording.table, "hr")[0] == pytest.approx(72.01)


def bad_record(tmp_path: Path, kind: str) -> Path:
    header = write_numerics(tmp_path, "bad")
    dat = header.with_suffix(".dat")
    if kind == "missing .dat":
        dat.unlink()
    elif kind == "corrupt header":
        header.write_bytes(b"\x89PNG\r\n\x1a\n this is an image, not a header\n")
    elif kind == "empty header":
        header.write_text("")
    elif kind == "empty .dat":
        dat.write_bytes(b"")
    elif kind == "no signals":
        header.write_text("bad 0 1 10\n")
    elif kind == "signal lines missing":
        header.write_text("bad 2 1 10\n")  # declares two signals, describes none
    elif kind == "no samples":
        header.write_text(header.read_text().replace(f" {MINUTES} 10:20:30", " 0 10:20:30"))
    elif kind == "waveform":
        header.write_text(header.read_text().replace("bad 10 0.016666666666666666", "bad 10 125"))
    elif kind == "no such record":
        header.unlink()
    return header


@pytest.mark.parametrize(("kind", "expected"), [
    ("missing .dat", "signal file 'bad.dat' is missing; keep the record's .dat beside its .hea"),
    ("corrupt header", "not a readable WFDB header ("),
    ("empty header", "the WFDB header is empty"),
    ("empty .dat", "signal file 'bad.dat' holds no samples"),
    ("no signals", "the record has no signals"),
    ("signal lines missing", "the header's signal lines are incomplete"),
    ("no samples", "the record has no samples"),
    ("waveform", "sampled at 125 Hz, a waveform record, not numerics"),
    ("no such record", "no such WFDB header (bad.hea)"),
])
def test_unreadable_records_fail_with_one_line(tmp_path: Path, kind: str, expected: str) -> None:
    header = bad_record(tmp_path, kind)
    with pytest.raises(RecordingError) as failure:
        read_file(header)
    message = str(failure.value)
    assert message.startswith(str(header)) and expected in message and "\n" not in message


def test_a_failed_import_leaves_the_store_untouched(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        with pytest.raises(RecordingError):
            import_file(store, bad_record(tmp_path, "missing .dat"))
        assert store.sessions() == []


# --- stored, exported, shown -------------------------------------------------------

def test_an_imported_record_is_stored_with_its_notes_and_problems(tmp_path: Path) -> None:
    header = write_numerics(tmp_path)
    dat = header.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:40 * 10 * 2])
    with Store(tmp_path / "m.db") as store:
        result = import_file(store, header)
        assert result.kept == len(read_file(header).table) and len(result.problems) == 1
        doc = session_document(store, result.session_id)
    assert doc["session"]["device"] == "wfdb:numerics-2150n.hea"
    assert doc["session"]["started_at"] == "2150-03-04T10:20:30.000+00:00"
    assert doc["readings"][0]["time"] == "2150-03-04T10:20:30.000+00:00"
    (bad,) = [e["data"] for e in doc["events"] if e["kind"] == "bad_row"]
    assert bad == {"file": str(header), "signal": "*", "sample": 40,
                   "reason": bad["reason"]} and "truncated" in bad["reason"]
    notes = [e["data"]["note"] for e in doc["events"] if e["kind"] == "import_note"]
    assert notes == result.notes and any(n.startswith("dates are de-identified") for n in notes)


@pytest.mark.parametrize("year", [2150, 2200, 2896])
def test_far_future_times_format_everywhere(year: int) -> None:
    t = dt.datetime(year, 3, 4, 10, 20, 30, 500_000, tzinfo=dt.UTC).timestamp()
    ms = round(t * 1000)
    assert format_time_ms(ms) == f"{year}-03-04T10:20:30.500+00:00"
    assert iso_time(t) == f"{year}-03-04T10:20:30.500+00:00"
    for shown in (chart.axis_time(t), live.display_time(t), timeline.axis_time(ms)):
        assert re.match(rf"{year}-03-0[345] \d\d:\d\d:\d\d", shown), shown
    times = ms + np.arange(0, 50_000, 1_000, dtype=np.int64)
    offset = timeline.local_offset_ms(ms)
    xs, ys = timeline.trace(times, np.full(50, 97.0), np.ones(50, bool), episodic=False,
                            offset_ms=offset)
    shown_first = dt.datetime.fromtimestamp((xs[0] - offset) / 1000, dt.UTC)
    assert shown_first.year == year and ys[0] == 97
    assert timeline.from_axis(timeline.axis_time(ms), offset) is not None


def test_future_dates_and_units() -> None:
    now = round(dt.datetime(2026, 11, 26, tzinfo=dt.UTC).timestamp() * 1000)
    day = 86_400_000
    assert future_dates_note(np.array([now - day, now]), now_ms=now) is None
    assert future_dates_note(np.array([now + 30 * day]), now_ms=now).startswith(
        "dates lie in the future (from 2026-12-26): the recording machine's clock")
    temp = canonical_unit("Tcore", "temp", "degF")
    assert temp.unit == "°C" and 98.6 * temp.scale + temp.offset == pytest.approx(37.0)
    assert canonical_unit("SpO2", "spo2", "NU").note == \
        "signal 'SpO2' gives no unit; read as the canonical '%'"
    assert canonical_unit("ST II", "ST II", "mm").unit == "mm"


# --- end to end ----------------------------------------------------------------------

def test_the_vscapture_export_through_the_command_line(db_path: Path) -> None:
    imported = cli("import", str(VSCAPTURE), "--db", str(db_path))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "session 1: 2999 readings kept, 0 rows rejected"
    assert "note: ECG_HR: 58 zeros read as no value" in imported.stderr
    exported = cli("export", "1", "--db", str(db_path), "--format", "json")
    assert exported.returncode == 0, exported.stderr
    readings = json.loads(exported.stdout)["readings"]
    hr = [r for r in readings if r["param"] == "hr"]
    assert len(hr) == 60 and min(r["value"] for r in hr) == 69
    assert hr[0] == {"time": "2016-08-05T13:47:44.000+00:00", "param": "hr", "value": 79,
                     "unit": "/min", "status": "valid", "source": "csv"}
    assert {r["param"] for r in readings} >= {"spo2", "etco2", "resp_rate", "temp", "P1_HR"}


# The import command reads WFDB once it calls monitor.importer.read_file (cli.py is not
# this module's to change; see the report of the foreign-recordings issue).
def test_a_wfdb_record_through_the_command_line(db_path: Path, tmp_path: Path) -> None:
    imported = cli("import", str(NUMERICS), "--db", str(db_path))
    assert imported.returncode == 0, imported.stderr
    kept = len(read_file(NUMERICS).table)
    assert imported.stdout.strip() == f"session 1: {kept} readings kept, 0 rows rejected"
    assert "note: dates are de-identified: shifted into the future, to 2150-03-04" \
        in imported.stderr
    doc = json.loads(cli("export", "latest", "--db", str(db_path), "--format", "json").stdout)
    spo2 = [r for r in doc["readings"] if r["param"] == "spo2"]
    assert spo2[0] == {"time": "2150-03-04T10:23:30.000+00:00", "param": "spo2", "value": 97,
                       "unit": "%", "status": "valid", "source": "wfdb"}
    assert {"ABP Sys", "ST II"} <= {r["param"] for r in doc["readings"]}
    missing = bad_record(tmp_path, "missing .dat")
    failed = cli("import", str(missing), "--db", str(tmp_path / "other.db"))
    assert failed.returncode == 2 and len(failed.stderr.strip().splitlines()) == 1
    assert "signal file 'bad.dat' is missing" in failed.stderr
    assert not (tmp_path / "other.db").exists()
