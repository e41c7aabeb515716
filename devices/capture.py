"""Decoding a raw serial capture through the same code that reads the live device.

A capture is the bytes a port received, exactly (``record --raw-capture``, or
another tool's dump such as the GE capture in tests/data). Ours have a
``.times`` index beside them (byte offset, receipt time), so each chunk is
decoded with the time it arrived. A foreign capture has none: the protocol
then places readings by the device's own clock, or by its nominal cadence
from the capture's start (``start``; by default the file's modification
time, which a note points out).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devices.csv_cells import check_readable_file
from devices.csv_format import RecordingError
from devices.link import HostLink, LinkStats
from devices.registry import ADAPTERS
from devices.transport import times_path
from devices.vocabulary import DeviceEvent, Item, Reading

CHUNK = 4096  # bytes fed at a time when there is no receipt-time index


@dataclass
class CaptureResult:
    """What a capture decoded to."""

    readings: list[Reading]
    events: list[DeviceEvent]
    stats: LinkStats
    bytes_read: int
    notes: list[str] = field(default_factory=list)


def host_link(protocol: str, options: Mapping[str, str] | None = None) -> HostLink:
    """The HostLink class of a serial protocol, instantiated.

    Raises
    ------
    RecordingError
        Not a protocol with a decoder (e.g. ``sim``), or bad options.
    """
    target = ADAPTERS.get(protocol)
    cls = None
    if target is not None:
        module, _, name = target.partition(":")
        cls = getattr(getattr(importlib.import_module(module), name), "link_class", None)
    if cls is None:
        serial = sorted(p for p, t in ADAPTERS.items() if "protocols" in t)
        raise RecordingError(f"--protocol {protocol!r} does not decode captures; "
                             f"use one of {', '.join(serial)}")
    try:
        return cls(protocol, options or {})
    except ValueError as exc:
        raise RecordingError(f"--protocol {protocol}: {exc}") from None


def decode_capture(path: str | Path, protocol: str, *, options: Mapping[str, str] | None = None,
                   start: float | None = None) -> CaptureResult:
    """Decode the raw capture at `path` as `protocol`.

    Raises
    ------
    RecordingError
        Missing, a directory, unreadable or empty.
    """
    path = Path(path)
    check_readable_file(path, str(path), "capture file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such file; check the name and the directory") from None
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not data:
        raise RecordingError(f"{path}: file is empty; nothing was captured")
    link = host_link(protocol, options)
    notes: list[str] = []
    items: list[Item] = []
    chunks = _indexed_chunks(path, data, notes)
    if chunks is None:
        link.capture_start = path.stat().st_mtime if start is None else start
        if start is None and not notes:
            notes.append("no receipt-time index (.times) beside the capture: readings are "
                         "placed by the device's clock, or from the file's time if it has none")
        for offset in range(0, len(data), CHUNK):
            items += link.receive(data[offset:offset + CHUNK], None)
    else:
        for chunk, received in chunks:
            items += link.receive(chunk, received)
    readings = [i for i in items if isinstance(i, Reading)]
    events = [i for i in items if isinstance(i, DeviceEvent)]
    return CaptureResult(readings, events, link.stats, len(data), notes)


def _indexed_chunks(path: Path, data: bytes,
                    notes: list[str]) -> list[tuple[bytes, float]] | None:
    """The capture cut at its recorded chunk boundaries, with receipt times.

    None when there is no index, or when it is damaged (noted): offsets must
    start at 0 and rise within the file, times be real dates (years 1970-9999).
    """
    index = times_path(path)
    if not index.exists():
        return None
    marks: list[tuple[int, float]] = []
    try:
        lines = index.read_text(encoding="ascii", errors="replace").splitlines()
    except OSError as exc:
        notes.append(f"{index.name}: cannot be read ({exc.strerror or exc}); the index is "
                     "ignored")
        return None
    for number, line in enumerate(lines, start=1):
        try:
            offset_text, received_text = line.split()
            offset, received = int(offset_text), float(received_text)
        except ValueError:
            offset, received = -1, math.nan
        previous = marks[-1][0] if marks else -1
        if not (previous <= offset <= len(data) and math.isfinite(received)
                and 0 <= received < _LATEST_RECEIPT_S):
            notes.append(f"{index.name}: line {number} is damaged ({line[:40]!r}); the index "
                         "is ignored and readings are placed as if it were missing")
            return None
        marks.append((offset, received))
    if not marks or marks[0][0] != 0:
        notes.append(f"{index.name}: does not start at offset 0; the index is ignored")
        return None
    bounds = [m[0] for m in marks[1:]] + [len(data)]
    return [(data[o:end], t) for (o, t), end in zip(marks, bounds, strict=True) if end > o]


#: Receipt times at or after this (year 10000, in Unix seconds) cannot be dates.
_LATEST_RECEIPT_S = 253_402_300_800.0
