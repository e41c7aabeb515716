"""Importing a recording file as a new, ended session.

The rules engine runs over what was imported, with the profile given (the
shipped ketamine-adult by default), so an imported session is reviewed with
the alarms the same rules raise live; the session records which profile.

:func:`read_file` picks the reader by the path: a WFDB record (a ``.hea``
file, or a record name or ``.dat`` with a ``.hea`` beside it) goes to
:mod:`devices.wfdb_format`, anything else to the CSV reader (long or wide,
e.g. a VSCapture export). Both give the same result, so :func:`store_recording`
stores either, with every rejected row or sample and every note kept as
events of the session.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from devices.capture import CaptureResult
from devices.csv_format import CsvRecording, RowProblem, read_recording
from devices.timestamps import DateOrder
from devices.vocabulary import DeviceEventKind, Item, SourceKind
from devices.wfdb_format import SampleProblem, is_wfdb_path, read_wfdb
from monitor.rules import Profile, load_profile
from monitor.rules.replay import rerun
from monitor.store import Store
from monitor.store.alarm_log import record_outputs


@dataclass
class ImportResult:
    """What an import did: the new session (None if nothing could be kept)."""

    session_id: int | None
    kept: int
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def import_csv(store: Store, path: str | Path, *, chair: str = "import",
               tz: str | None = None, profile: Profile | None = None) -> ImportResult:
    """Read a CSV recording and store it as one session.

    Every rejected row is kept in the session as a ``bad_row`` event (file,
    line, reason), so the record says what was left out and why.

    Raises
    ------
    devices.csv_format.RecordingError
        The file as a whole cannot be read (the store is not touched).
    """
    return store_recording(store, path, read_recording(path, tz=tz), chair=chair,
                           profile=profile)


def read_file(path: str | Path, *, tz: str | None = None,
              date_order: DateOrder = "auto") -> CsvRecording:
    """Read a recording of any supported format, chosen by the path.

    Parameters
    ----------
    path : str or Path
        A CSV file (long or wide), or a WFDB record: its ``.hea``, its name
        without extension, or its ``.dat``, with the ``.hea`` beside it.
    tz : str, optional
        IANA zone of times written without an offset (CSV) or of a WFDB
        header's start time; default UTC, with a note.
    date_order : {"auto", "mdy", "dmy"}
        Day/month order of ``NN/NN/YYYY`` dates in a CSV; "auto" chooses per
        file, with a note when the file could be read either way.

    Raises
    ------
    devices.csv_format.RecordingError
        The file as a whole cannot be read.
    """
    if is_wfdb_path(path):
        return read_wfdb(path, tz=tz)
    return read_recording(path, tz=tz, date_order=date_order)


def import_file(store: Store, path: str | Path, *, tz: str | None = None,
                profile: Profile | None = None, chair: str = "import",
                date_order: DateOrder = "auto") -> ImportResult:
    """Read a CSV or WFDB recording (see :func:`read_file`) and store it as one session."""
    return store_recording(store, path, read_file(path, tz=tz, date_order=date_order),
                           chair=chair, profile=profile)


def import_wfdb(store: Store, path: str | Path, *, chair: str = "import",
                tz: str | None = None, profile: Profile | None = None) -> ImportResult:
    """Read a WFDB numerics record and store it as one session.

    Raises
    ------
    devices.csv_format.RecordingError
        The record cannot be read at all (the store is not touched).
    """
    return store_recording(store, path, read_wfdb(path, tz=tz), chair=chair, profile=profile)


def _problem_data(path: Path, problem: RowProblem) -> dict[str, object]:
    """A rejected row's ``bad_row`` event: file and line, or record, signal and sample."""
    if isinstance(problem, SampleProblem):
        return {"file": str(path), "signal": problem.signal, "sample": problem.sample,
                "reason": problem.reason}
    return {"file": str(path), "line": problem.line, "reason": problem.reason}


def _run_rules(store: Store, session_id: int, items: Iterable[Item], profile: Profile,
               start: float, end: float) -> None:
    _, outputs = rerun(items, profile, start=start, end=end)
    record_outputs(store, session_id, outputs)


def store_capture(store: Store, path: str | Path, result: CaptureResult, *, protocol: str,
                  chair: str = "import", profile: Profile | None = None) -> ImportResult:
    """Store a decoded raw capture as one ended session: readings and device events."""
    path = Path(path)
    if not result.readings:
        return ImportResult(None, 0, notes=result.notes)
    times = [r.time for r in result.readings]
    profile = profile or load_profile()
    with store.transaction():
        session_id = store.create_session(
            chair=chair, device=f"{protocol}:capture {os.path.basename(path)}",
            source_kind=SourceKind.IMPORT, started_at=min(times), profile=profile.name)
        kept = store.add_readings(session_id, result.readings)
        store.set_profile(session_id, profile.name, dict(profile.raw))
        for event in result.events:
            store.add_event(session_id, event.time, event.kind, event.source, event.data)
        store.add_event(session_id, min(times), "import_note", protocol,
                        {"bytes": result.bytes_read, **result.stats.as_dict(),
                         "notes": result.notes})
        items: list[Item] = [*result.readings, *result.events]
        items.sort(key=lambda i: i.time)  # stable: a capture's own order within a time
        _run_rules(store, session_id, items, profile, min(times), max(times))
        store.end_session(session_id, max(times))
    return ImportResult(session_id, kept, notes=result.notes)


def store_recording(store: Store, path: str | Path, recording: CsvRecording, *,
                    chair: str = "import", profile: Profile | None = None) -> ImportResult:
    """Store an already-read recording (CSV or WFDB) as one ended session."""
    path = Path(path)
    table = recording.table
    if not len(table):
        return ImportResult(None, 0, recording.problems, recording.notes)
    started, ended = int(table.time_ms.min()) / 1000, int(table.time_ms.max()) / 1000
    profile = profile or load_profile()
    kind = "wfdb" if recording.layout == "wfdb" else "csv"
    with store.transaction():
        session_id = store.create_session(
            chair=chair, device=f"{kind}:{os.path.basename(path)}",
            source_kind=SourceKind.IMPORT, started_at=started, profile=profile.name)
        kept = store.add_table(session_id, table)
        store.set_profile(session_id, profile.name, dict(profile.raw))
        for problem in recording.problems:
            store.add_event(session_id, started, DeviceEventKind.BAD_ROW, kind,
                            _problem_data(path, problem))
        for note in recording.notes:
            store.add_event(session_id, started, "import_note", kind, {"note": note})
        _run_rules(store, session_id, table.readings(), profile, started, ended)
        store.end_session(session_id, ended)
    return ImportResult(session_id, kept, recording.problems, recording.notes)
