"""Writing a stored session out: the long CSV and the JSON document of DESIGN.md."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any, TextIO

from devices.csv_format import write_long_csv
from devices.vocabulary import Status
from monitor.store import Store
from monitor.store.alarm_log import session_alarms

JSON_FORMAT = "infusion-monitor-session/1"


def iso_time(t: float | None) -> str | None:
    """Seconds since the epoch -> ISO 8601 in UTC with offset and milliseconds."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def export_csv(store: Store, session_id: int, out: TextIO) -> int:
    """Write a session's readings as the long CSV; returns the rows written."""
    return write_long_csv(store.readings_table(session_id), out)


def session_document(store: Store, session_id: int) -> dict[str, Any]:
    """The whole session as one JSON-ready document (DESIGN.md, ``export --format json``)."""
    session = store.session(session_id)
    table = store.readings_table(session_id)
    readings = [
        {"time": iso_time(t / 1000), "param": p, "value": None if math.isnan(v) else v,
         "unit": u, "status": str(Status.from_code(s)), "source": src}
        for t, p, v, u, s, src in zip(
            table.time_ms.tolist(), table.param.decoded(), table.value.tolist(),
            table.unit.decoded(), table.status.tolist(), table.source.decoded(), strict=True)
    ]
    alarms = [a.as_json() for a in session_alarms(store, session_id)]
    for alarm in alarms:
        alarm["onset"] = iso_time(alarm["onset"])
        alarm["end"] = iso_time(alarm["end"])
        for ack in alarm["acknowledgements"]:
            ack["time"] = iso_time(ack["time"])
    return {
        "format": JSON_FORMAT,
        "session": {
            "id": session.id, "chair": session.chair, "device": session.device,
            "source_kind": str(session.source_kind),
            "started_at": iso_time(session.started_at), "ended_at": iso_time(session.ended_at),
            "profile": session.profile, "baseline": session.baseline,
        },
        "readings": readings,
        "alarms": alarms,
        "events": [{"time": iso_time(e.time), "kind": e.kind, "source": e.source, "data": e.data}
                   for e in store.events(session_id)],
        "audit": [{"time": iso_time(a.time), "user": a.user, "action": a.action, "data": a.data}
                  for a in store.audit(session_id)],
    }


def export_json(store: Store, session_id: int, out: TextIO) -> None:
    json.dump(session_document(store, session_id), out, indent=1, allow_nan=False)
    out.write("\n")
