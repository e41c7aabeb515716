"""The recording format: reading long and wide CSV files, writing the long one."""

from __future__ import annotations

import datetime as dt
import io
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.aliases import canonical_param
from devices.csv_format import (
    RecordingError,
    format_time_ms,
    format_value,
    read_recording,
    write_long_csv,
)
from devices.table import ReadingTable
from devices.vocabulary import Reading, Status
from tests.conftest import DEVICE_DATA

HEADER = "time,param,value,unit,status,source\n"
TEMPERATURES = ("36.2", "36.4", "36.5", "36.7", "36.8", "37", "36.9", "36.6", "36.3", "36.1")
START = dt.datetime(2026, 11, 26, 14, 3, 5, tzinfo=dt.UTC)


def iso(seconds: float) -> str:
    """A time `seconds` after START, spelled the way DESIGN.md's example spells it."""
    return (START + dt.timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def exported(table: ReadingTable) -> bytes:
    out = io.StringIO(newline="")
    write_long_csv(table, out)
    return out.getvalue().encode("utf-8")


def column(table: ReadingTable, param: str) -> np.ndarray:
    return table.value[table.param.codes == table.param.names.index(param)]


def canonical_session(minutes: int = 10) -> str:
    """A realistic session in canonical form: 1 Hz vitals, NIBP every 5 minutes,
    a dropout (invalid, no value), a questionable reading, decimals, a
    parameter outside the vocabulary, and a parameter without a unit."""
    rows = []
    for s in range(minutes * 60):
        t = iso(s)
        hr = 72 + (s // 7) % 9
        rows.append(f"{t},hr,{hr},/min,valid,sim")
        if 200 <= s < 215:  # probe off: the oximeter says invalid, no value
            rows.append(f"{t},spo2,,%,invalid,masimo")
        else:
            rows.append(f"{t},spo2,{97 + s % 3},%,{'questionable' if s == 250 else 'valid'},masimo")
        rows.append(f"{t},perf_index,{[1.25, 2.5, 0.75][s % 3]},%,valid,masimo")
        if s % 300 == 0:
            rows.append(f"{t},nibp_sys,{128 + s // 300},mmHg,valid,sim")
            rows.append(f"{t},nibp_dia,81,mmHg,valid,sim")
            rows.append(f"{t},nibp_mean,96.5,mmHg,valid,sim")
        if s % 60 == 0:
            rows.append(f"{t},temp,{TEMPERATURES[s // 60 % 10]},°C,valid,sim")
            rows.append(f"{t},BIS,{60 - s // 60},,valid,bis-monitor")
    return HEADER + "".join(row + "\n" for row in rows)


# --- the long format: round trip -------------------------------------------

def test_the_design_example_round_trips_byte_for_byte(tmp_path: Path) -> None:
    text = (HEADER
            + "2026-11-26T14:03:05.000+00:00,hr,72,/min,valid,sim\n"
            + "2026-11-26T14:03:05.000+00:00,spo2,98,%,valid,sim\n"
            + "2026-11-26T14:10:00.000+00:00,nibp_sys,,mmHg,invalid,masimo\n")
    recording = read_recording(write(tmp_path / "design.csv", text))
    assert recording.layout == "long" and recording.problems == [] and recording.rows == 3
    table = recording.table
    assert table.param.decoded() == ["hr", "spo2", "nibp_sys"]
    assert math.isnan(table.value[2]) and Status.from_code(table.status[2]) is Status.INVALID
    assert table.time_ms[0] == int(START.timestamp() * 1000)
    assert table.line.tolist() == [2, 3, 4]
    assert exported(table) == text.encode()


def test_a_canonical_session_round_trips_byte_for_byte(tmp_path: Path) -> None:
    path = write(tmp_path / "session.csv", canonical_session())
    recording = read_recording(path)
    assert recording.problems == []
    assert exported(recording.table) == path.read_bytes()
    table = recording.table
    assert len(table) == recording.rows
    assert column(table, "temp").tolist() == [float(t) for t in TEMPERATURES]
    assert np.isnan(column(table, "spo2")).sum() == 15
    assert "questionable" in {Status.from_code(s).value for s in table.status.tolist()}
    # Kept under its own name, with one note, never dropped.
    assert column(table, "BIS").tolist()[:2] == [60, 59]
    assert [n for n in recording.notes if "BIS" in n] == [
        "param 'BIS' has no canonical id; kept as 'BIS'"]


def test_other_spellings_are_normalised_on_the_way_through(tmp_path: Path) -> None:
    path = write(tmp_path / "other.csv", (
        "time,param,value,unit,status,source\r\n"
        "2026-11-26T15:03:05+01:00,hr,72.0,/min,Valid,sim\r\n"
        "2026-11-26 14:03:05.5Z,spo2,9.75e1,%,valid, sim \r\n"))
    assert exported(read_recording(path).table).decode() == (
        HEADER
        + "2026-11-26T14:03:05.000+00:00,hr,72,/min,valid,sim\n"
        + "2026-11-26T14:03:05.500+00:00,spo2,97.5,%,valid,sim\n")


def test_missing_unit_status_and_source_columns_take_defaults(tmp_path: Path) -> None:
    path = write(tmp_path / "short.csv", f"time,param,value\n{iso(0)},hr,72\n{iso(0)},temp,36.6\n")
    table = read_recording(path, source="bedside-3").table
    assert table.unit.decoded() == ["/min", "°C"]
    assert table.source.decoded() == ["bedside-3", "bedside-3"]
    assert set(table.status.tolist()) == {Status.VALID.code}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(
    st.integers(0, 5_000),                                       # ms after the previous row
    st.sampled_from(["hr", "spo2", "temp", "Skin, temp", 'say "hi"', "BIS"]),
    st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)),
    st.sampled_from(["/min", "%", "°C", ""]),
    st.sampled_from(["sim", "masimo"])), min_size=1, max_size=30))
def test_any_table_survives_write_read_write(rows: list[tuple]) -> None:
    t, readings = 1_795_000_000_000, []
    for gap, param, value, unit, source in rows:
        t += gap
        status = Status.INVALID if value is None else Status.VALID
        readings.append(Reading(t / 1000, param, value, unit, status, source))
    table = ReadingTable.from_readings(readings)
    first = exported(table)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "roundtrip.csv"
        path.write_bytes(first)
        again = read_recording(path)
    assert again.problems == []
    assert again.table.param.decoded() == table.param.decoded()
    np.testing.assert_array_equal(again.table.value, table.value)
    assert exported(again.table) == first


def test_value_and_time_spelling() -> None:
    assert [format_value(v) for v in (72.0, 97.5, 0.1, -0.0, None, math.nan, 1e-5)] == [
        "72", "97.5", "0.1", "0", "", "", "0.00001"]
    assert format_time_ms(1_795_701_785_000) == "2026-11-26T14:03:05.000+00:00"
    assert format_time_ms(-1) == "1969-12-31T23:59:59.999+00:00"


# --- the wide format ---------------------------------------------------------

WIDE = ("Time,HR,SpO2,NIBP_Systolic,NBPSys,RESP,BIS,Temp [°F]\n"
        "2026-11-26T14:03:05Z,72,98,-,-,14,61,98.6\n"
        "2026-11-26T14:03:10Z,74,97,128,131,--,,98.7\n"
        "2026-11-26T14:03:15Z,75,nan,,,15,59,\n")


def test_wide_columns_map_through_the_alias_table(tmp_path: Path) -> None:
    recording = read_recording(write(tmp_path / "wide.csv", WIDE))
    assert recording.layout == "wide" and recording.problems == []
    table = recording.table
    assert column(table, "hr").tolist() == [72, 74, 75]
    assert column(table, "spo2").tolist() == [98, 97]          # nan is no reading
    assert column(table, "nibp_sys").tolist() == [128]         # '-' is no reading
    assert column(table, "resp_rate").tolist() == [14, 15]
    assert column(table, "NBPSys").tolist() == [131]           # nibp_sys was taken
    assert column(table, "BIS").tolist() == [61, 59]
    assert column(table, "temp").tolist() == [98.6, 98.7]
    units = dict(zip(table.param.decoded(), table.unit.decoded(), strict=True))
    assert units["hr"] == "/min" and units["temp"] == "°F" and units["BIS"] == ""
    # File order: row by row, then column by column; each reading knows its line.
    assert table.param.decoded()[:3] == ["hr", "spo2", "resp_rate"]
    assert table.line.tolist()[:6] == [2] * 5 + [3]
    assert "column 'NBPSys' also maps to 'nibp_sys', already taken by 'NIBP_Systolic'; " \
           "kept as 'NBPSys'" in recording.notes
    assert "column 'BIS' has no canonical id; kept as 'BIS'" in recording.notes
    assert any("'°F', not the canonical '°C'" in note for note in recording.notes)


@pytest.mark.parametrize(("header", "param"), [
    ("HR", "hr"), ("ECG_HR", "hr"), ("Heart Rate", "hr"), ("NOM_ECG_CARD_BEAT_RATE", "hr"),
    ("PR", "pulse_rate"), ("SpO2_PR", "pulse_rate"), ("NOM_PLETH_PULS_RATE", "pulse_rate"),
    ("SPO2", "spo2"), ("NOM_PULS_OXIM_SAT_O2", "spo2"),
    ("NIBP_Systolic", "nibp_sys"), ("NBPSys", "nibp_sys"), ("nbp-s", "nibp_sys"),
    ("NOM_PRESS_BLD_NONINV_SYS", "nibp_sys"), ("NIBP_Diastolic", "nibp_dia"),
    ("NIBP_Mean", "nibp_mean"), ("RESP", "resp_rate"), ("CO2_RR", "resp_rate"),
    ("NOM_AWAY_RESP_RATE", "resp_rate"), ("ET_CO2", "etco2"), ("T1_Temp", "temp"),
    ("Temp [°C]", "temp"), ("HR (/min)", "hr"), ("Perf_Index", "perf_index"),
    ("P1_HR", None), ("BIS", None), ("Time", None),
])
def test_alias_table(header: str, param: str | None) -> None:
    assert canonical_param(header) == param


def test_a_bad_wide_cell_is_reported_and_the_rest_of_its_row_kept(tmp_path: Path) -> None:
    path = write(tmp_path / "w.csv", "time,HR,SpO2\n"
                                     "2026-11-26T14:03:05Z,72,98\n"
                                     "2026-11-26T14:03:06Z,??,97\n"
                                     "not a time,73,96\n")
    recording = read_recording(path)
    assert [str(p) for p in recording.problems] == [
        f"{path}:3: value '??' in column 'HR' is not a number; the row's other values were kept",
        f"{path}:4: unreadable time 'not a time'; expected ISO 8601, "
        "e.g. 2026-11-26T14:03:05.000+00:00"]
    assert column(recording.table, "spo2").tolist() == [98, 97]
    assert column(recording.table, "hr").tolist() == [72]


def test_vscapture_export_reads_month_first_with_its_text_column_reported() -> None:
    recording = read_recording(DEVICE_DATA / "vscapture-as3-export.csv")
    assert recording.layout == "wide" and recording.rows == 124 and recording.problems == []
    table = recording.table
    days = {dt.datetime.fromtimestamp(t / 1000, dt.UTC).date() for t in table.time_ms.tolist()}
    assert days == {dt.date(2016, 8, 5)}
    assert np.all(np.diff(table.time_ms) >= 0)
    spo2 = column(table, "spo2")
    assert len(spo2) > 100 and 96 <= np.median(spo2) <= 100
    assert column(table, "temp").min() > 35      # T1_Temp; T2_Temp kept as itself
    assert any(n.startswith("dates could be month-first or day-first; read month-first")
               for n in recording.notes)
    assert "column 'Agent_AA' holds text, not numbers (e.g. 'ISO' at line 2); not imported" \
        in recording.notes
    assert "Agent_AA" not in table.param.names


# --- rows that cannot be read -------------------------------------------------

def test_every_kind_of_bad_row_is_reported_by_line_and_the_rest_kept(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv", (
        HEADER
        + f"{iso(0)},hr,72,/min,valid,sim\n"           # 2 good
        + f"{iso(1)},hr,72,/min,valid\n"               # 3 wrong number of fields
        + "\n"                                         # 4 empty line
        + "yesterday,hr,72,/min,valid,sim\n"           # 5 unreadable time
        + f"{iso(2)},hr,abc,/min,valid,sim\n"          # 6 not a number
        + f"{iso(3)},spo2,,%,valid,sim\n"              # 7 no value but valid
        + f"{iso(4)},hr,73,/min,ok,sim\n"              # 8 unknown status
        + f"{iso(5)},,73,/min,valid,sim\n"             # 9 no param
        + f"{iso(9)},hr,74,/min,valid,sim\n"           # 10 good
        + f"{iso(6)},hr,70,/min,valid,sim\n"           # 11 earlier than line 10
        + f"{iso(9)},spo2,,%,invalid,sim\n"))          # 12 good (equal times are fine)
    recording = read_recording(path)
    reasons = {p.line: p.reason for p in recording.problems}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 11]
    assert reasons[3] == "wrong number of fields: 5, the header has 6"
    assert reasons[4] == "empty line"
    assert reasons[5].startswith("unreadable time 'yesterday'; expected ISO 8601")
    assert reasons[6] == "value 'abc' is not a number"
    assert reasons[7].startswith("no value but status valid")
    assert reasons[8] == "unknown status 'ok'; write valid, questionable or invalid"
    assert reasons[9] == "no param"
    assert reasons[11] == (f"time '{iso(6)}' is earlier than '{iso(9)}' at line 10; "
                           "rows must be in time order")
    assert str(recording.problems[0]) == f"{path}:3: wrong number of fields: 5, the header has 6"
    assert recording.table.line.tolist() == [2, 10, 12]
    assert recording.rows == 11


def test_line_numbers_survive_quoted_line_breaks_and_crlf(tmp_path: Path) -> None:
    path = write(tmp_path / "quoted.csv", (
        "\ufefftime,param,value,unit,status,source\r\n"
        f'{iso(0)},"Skin\r\ntemp",33.5,°C,valid,sim\r\n'
        f"{iso(1)},hr,x,/min,valid,sim\r\n"
        f'{iso(2)},"Skin, temp",33.6,°C,valid,sim\r\n'))
    recording = read_recording(path)
    assert [(p.line, p.reason) for p in recording.problems] == [
        (4, "value 'x' is not a number")]
    assert recording.table.param.decoded() == ["Skin\r\ntemp", "Skin, temp"]
    assert recording.table.line.tolist() == [2, 5]


def test_an_unclosed_quote_is_reported_with_the_lines_it_swallowed(tmp_path: Path) -> None:
    path = write(tmp_path / "quote.csv", (
        HEADER
        + f"{iso(0)},hr,72,/min,valid,sim\n"
        + "   \n"                                        # 3: only spaces
        + f'{iso(1)},"hr,73,/min,valid,sim\n'            # 4: the quote is never closed
        + f"{iso(2)},hr,74,/min,valid,sim\n"))
    recording = read_recording(path, source="ignored")
    assert [(p.line, p.reason) for p in recording.problems] == [
        (3, "empty line"),
        (4, "a quote opened on this line is not closed until line 5; 2 fields, "
            "the header has 6")]
    assert recording.table.source.names == ("sim",)
    assert len(recording.table) == 1


def test_windows_1252_and_semicolon_exports(tmp_path: Path) -> None:
    path = write(tmp_path / "excel.csv", "Zeit;HR;Temp [°C]\n05.08.2016 11:07:10;72;36,6\n"
                                         "05.08.2016 11:07:20;73;36,7\n", encoding="cp1252")
    recording = read_recording(path, tz="Europe/Berlin")
    assert recording.problems == []
    assert column(recording.table, "temp").tolist() == [36.6, 36.7]
    assert recording.table.unit.decoded()[1] == "°C"
    assert recording.table.time_ms[0] == int(dt.datetime(2016, 8, 5, 9, 7, 10,
                                                         tzinfo=dt.UTC).timestamp() * 1000)
    assert "file is not UTF-8; read as Windows-1252" in recording.notes


# --- time stamps ------------------------------------------------------------

@pytest.mark.parametrize(("times", "first", "note"), [
    (["08/05/2016 11:07:10", "08/05/2016 11:07:26"], "2016-08-05T11:07:10", "month-first"),
    (["13/05/2016 11:07:10", "14/05/2016 11:07:26"], "2016-05-13T11:07:10", None),
    (["12/01/2016 10:00", "01/02/2016 10:00"], "2016-01-12T10:00:00", None),  # order decides
    (["2016/08/05 11:07", "2016/08/05 11:08"], "2016-08-05T11:07:00", None),
    (["8/5/2016 11:07:10 PM", "8/5/2016 11:08:10 PM"], "2016-08-05T23:07:10", "month-first"),
    (["2016-08-05T11:07:10.123456", "2016-08-05T11:07:11"], "2016-08-05T11:07:10.123", None),
])
def test_foreign_time_formats(tmp_path: Path, times: list[str], first: str,
                              note: str | None) -> None:
    text = "Time,HR\n" + "".join(f"{t},70\n" for t in times)
    recording = read_recording(write(tmp_path / "t.csv", text))
    assert recording.problems == []
    assert format_time_ms(int(recording.table.time_ms[0])).startswith(first)
    ambiguous = [n for n in recording.notes if n.startswith("dates could be")]
    assert bool(ambiguous) == bool(note)
    assert any("read as UTC" in n for n in recording.notes)


def test_local_times_cross_the_autumn_clock_change_in_order(tmp_path: Path) -> None:
    # 02:30 local happens twice on 2026-10-25 in Berlin: first CEST, then CET.
    text = "time,HR\n" + "".join(f"2026-10-25T{t},70\n" for t in
                                 ("01:30:00", "02:30:00", "02:10:00", "02:40:00", "03:00:00"))
    table = read_recording(write(tmp_path / "dst.csv", text), tz="Europe/Berlin").table
    utc = [format_time_ms(int(t))[11:16] for t in table.time_ms.tolist()]
    assert utc == ["23:30", "00:30", "01:10", "01:40", "02:00"]


# --- files that cannot be read ---------------------------------------------

@pytest.mark.parametrize(("name", "content", "expected"), [
    ("missing.csv", None, "missing.csv: no such file"),
    ("empty.csv", b"", "empty.csv: file is empty; export the recording again"),
    ("blank.csv", b"\xef\xbb\xbf \n\n", "blank.csv: file is empty"),
    ("header.csv", HEADER.encode(), "header.csv: header only, no data rows"),
    ("binary.csv", b"\x00\x01\x02\x03time", "binary.csv: not a text file"),
    ("book.csv", b"PK\x03\x04rest", "looks like an Excel workbook"),
    ("notime.csv", b"HR,SpO2\n72,98\n", "notime.csv: no time column (looked for time"),
    ("extra.csv", (HEADER.strip() + ",foo\n").encode(),
     "extra.csv: unknown column(s) 'foo' in a long-format file; "
     "expected time,param,value,unit,status,source"),
    ("times.csv", b"time,HR\nmonday,72\ntuesday,73\n",
     "times.csv: no time in column 'time' could be read (e.g. 'monday' at line 2)"),
])
def test_unreadable_files_fail_with_one_line(tmp_path: Path, name: str, content: bytes | None,
                                             expected: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RecordingError) as failure:
        read_recording(path)
    message = str(failure.value)
    assert "\n" not in message and expected in message
    assert message.startswith(str(path))


def test_a_directory_or_an_unknown_zone_fail_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match=r"is a directory, not a CSV file"):
        read_recording(tmp_path)
    path = write(tmp_path / "ok.csv", f"time,HR\n{iso(0)},72\n")
    with pytest.raises(RecordingError, match=r"unknown time zone 'Mars/Olympus'"):
        read_recording(path, tz="Mars/Olympus")


def test_a_ragged_row_that_is_not_utf8_is_reported_quietly(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # Found by bench/fuzz_decoders.py: Arrow cannot hand such a row to the
    # invalid-row handler and printed a traceback through sys.unraisablehook.
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"time,param,value,unit,status,source\n"
                     b"2026-11-26T14:03:05.000+00:00,hr,72,/min,valid,sim\n"
                     b"\xff\xfe,bad\n"
                     b"2026-11-26T14:03:06.000+00:00,hr,73,/min,valid,sim\n")
    recording = read_recording(path)
    assert len(recording.table) == 2
    assert [(p.line, p.kind) for p in recording.problems] == [(3, "wrong number of fields")]
    assert "Traceback" not in capfd.readouterr().err
