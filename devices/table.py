"""Readings as columns: the bulk form that import, export and charts pass around.

A 24-hour recording is about 700,000 readings; as Python objects that is slow
and large, as numpy columns it is neither. Text columns (param, unit, source)
repeat a handful of values, so they are stored coded: an int32 index per row
into a short tuple of names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from devices.vocabulary import Reading, Status


@dataclass(frozen=True)
class Coded:
    """A text column as codes into a tuple of names."""

    codes: np.ndarray
    names: tuple[str, ...]

    @classmethod
    def encode(cls, values: Sequence[str]) -> Coded:
        index: dict[str, int] = {}
        codes = np.fromiter((index.setdefault(v, len(index)) for v in values),
                            dtype=np.int32, count=len(values))
        return cls(codes, tuple(index))

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i: int) -> str:
        return self.names[self.codes[i]]

    def decoded(self) -> list[str]:
        names = self.names
        return [names[c] for c in self.codes.tolist()]

    def take(self, index: np.ndarray) -> Coded:
        return Coded(self.codes[index], self.names)


@dataclass(frozen=True)
class ReadingTable:
    """Readings in columns; row i of every column is one reading.

    Attributes
    ----------
    time_ms : ndarray of int64
        Milliseconds since the epoch, UTC.
    param, unit, source : Coded
    value : ndarray of float64
        NaN where the reading has no value (None in a :class:`Reading`).
    status : ndarray of int8
        :attr:`Status.code` of each reading.
    received_ms : ndarray of int64 or None
        Receipt time where known, else None (same as `time_ms`).
    line : ndarray of int64 or None
        Line of the source file each row came from, when read from a file.
    """

    time_ms: np.ndarray
    param: Coded
    value: np.ndarray
    unit: Coded
    status: np.ndarray
    source: Coded
    received_ms: np.ndarray | None = None
    line: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.time_ms)

    @classmethod
    def empty(cls) -> ReadingTable:
        return cls.from_readings([])

    @classmethod
    def from_readings(cls, readings: Iterable[Reading]) -> ReadingTable:
        rows = list(readings)
        return cls(
            time_ms=np.array([round(r.time * 1000) for r in rows], dtype=np.int64),
            param=Coded.encode([r.param for r in rows]),
            value=np.array([np.nan if r.value is None else r.value for r in rows],
                           dtype=np.float64),
            unit=Coded.encode([r.unit for r in rows]),
            status=np.array([r.status.code for r in rows], dtype=np.int8),
            source=Coded.encode([r.source for r in rows]),
            received_ms=np.array(
                [round((r.time if r.received_at is None else r.received_at) * 1000)
                 for r in rows], dtype=np.int64),
        )

    def take(self, index: np.ndarray) -> ReadingTable:
        """Rows at `index` (an integer array or a boolean mask), in that order."""
        return ReadingTable(
            time_ms=self.time_ms[index],
            param=self.param.take(index),
            value=self.value[index],
            unit=self.unit.take(index),
            status=self.status[index],
            source=self.source.take(index),
            received_ms=None if self.received_ms is None else self.received_ms[index],
            line=None if self.line is None else self.line[index],
        )

    def readings(self) -> Iterator[Reading]:
        """The rows as :class:`Reading` objects (slow; for streaming, not bulk work)."""
        received = self.received_ms if self.received_ms is not None else self.time_ms
        statuses = [Status.from_code(code) for code in range(3)]
        for t, p, v, u, s, src, rx in zip(
                self.time_ms.tolist(), self.param.decoded(), self.value.tolist(),
                self.unit.decoded(), self.status.tolist(), self.source.decoded(),
                received.tolist(), strict=True):
            yield Reading(t / 1000, p, None if v != v else v,  # NaN is the table's None
                          u, statuses[s], src, rx / 1000)
