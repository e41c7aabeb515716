"""Time stamps of recordings: text -> integer milliseconds since the epoch, UTC.

The recording format (DESIGN.md) writes ISO 8601 with an offset,
``2026-11-26T14:03:05.000+00:00``; that is the fast path (one Arrow cast).
Files from other tools may have no offset, microseconds, or the recording
machine's locale (VSCapture writes whatever the PC's locale gives):
``08/05/2016 11:07:10`` (month first: .NET's invariant culture), ``05/08/2016``
(day first: en-GB), ``05-08-2016`` (VSCapture's own ``dd-MM-yyyy``; en-IN, nl),
``05.08.2016`` (de), ``2016/08/05`` and ``2016-08-05 11:07:10`` (year first),
with or without seconds and fractions (``.123`` or ``,123``), and 12-hour
clocks with AM/PM (Windows en-US: ``8/5/2016 1:57:44 PM``, where newer .NET
puts a narrow no-break space, U+202F, before the PM). Those go through a
vectorised parser of the date and time fields.

One day/month order is chosen per file, never per row: the order that reads
the most rows and keeps the times non-decreasing wins. When both fit equally
(a session within the first twelve days of a month), slashes are read
month-first, dashes and dots day-first, and a note says so and names the
override (``date_order``; ``import --date-order`` on the command line),
because a silently swapped day and month would misdate a whole session.

Times without an offset are wall-clock times in the zone given (an IANA name,
default UTC with a note). Across a daylight-saving fall-back the repeated hour
is told apart by order: from the time the clock steps back within it, times
are its second pass.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DateOrder = Literal["auto", "mdy", "dmy"]

ISO_EXAMPLE = "2026-11-26T14:03:05.000+00:00"
UTC_MS = pa.timestamp("ms", tz="UTC")
_MS_PER_MINUTE = 60_000
_MS_PER_DAY = 86_400_000
_NEVER = np.iinfo(np.int64).min
_NO_OFFSET = np.iinfo(np.int32).min  # a time written without a UTC offset

# Arrow's regex engine (RE2) has no back-references, so the two date
# separators are captured separately and compared afterwards.
_FIELDS = (
    r"^(?P<a>\d{1,4})(?P<s1>[-/.])(?P<b>\d{1,2})(?P<s2>[-/.])(?P<c>\d{1,4})"
    r"(?:(?:T|[\s\x{00A0}]+)(?P<hh>\d{1,2}):(?P<mi>\d{2})"
    r"(?::(?P<ss>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?)?"
    # .NET 5+ (ICU) writes en-US times as "1:57:44\u202fPM": RE2's \s is ASCII only.
    r"[\s\x{00A0}\x{202F}]*(?P<ampm>[AaPp]\.?[Mm]\.?)?"
    r"\s*(?P<zone>[Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$"
)

_FORMAT_LABELS = {
    "ymd": f"ISO 8601, e.g. {ISO_EXAMPLE}",
    "mdy": "MM/DD/YYYY hh:mm:ss like the other rows",
    "dmy": "DD/MM/YYYY hh:mm:ss like the other rows",
}


class TimeZoneError(ValueError):
    """A time zone name that zoneinfo does not know."""


@dataclass
class ParsedTimes:
    """Times of one column, row by row.

    Attributes
    ----------
    ms : ndarray of int64
        Milliseconds since the epoch, UTC; meaningless where `ok` is False.
    ok : ndarray of bool
        True where the text was a readable time.
    expected : str
        What a good time looks like in this file, for error messages.
    notes : list of str
        One line each: assumptions the reader made (zone, day/month order).
    """

    ms: np.ndarray
    ok: np.ndarray
    expected: str = _FORMAT_LABELS["ymd"]
    notes: list[str] = field(default_factory=list)


def check_time_zone(name: str) -> ZoneInfo:
    """The zone called `name` (IANA, e.g. ``Europe/Berlin``); TimeZoneError if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeZoneError(
            f"unknown time zone {name!r}; give an IANA name such as Europe/Berlin or UTC"
        ) from None


def parse_times(texts: pa.Array | pa.ChunkedArray, *, tz: str | None = None,
                date_order: DateOrder = "auto") -> ParsedTimes:
    """Read a column of time stamps.

    Parameters
    ----------
    texts : pyarrow.StringArray, DictionaryArray of strings, or TimestampArray
        One time per row; null for an empty cell. A timestamp column (already
        converted) is passed through.
    tz : str, optional
        IANA zone of times written without an offset; default UTC (with a note).
    date_order : {"auto", "mdy", "dmy"}
        Order of day and month in ``NN/NN/YYYY`` dates; "auto" chooses per file.

    Returns
    -------
    ParsedTimes
    """
    zone = check_time_zone(tz) if tz else None
    if pa.types.is_timestamp(texts.type):
        # Already converted while the file was split (every cell had an offset).
        stamps = texts.cast(UTC_MS)
        return ParsedTimes(_int64(stamps.cast(pa.int64()).fill_null(0)), _valid(stamps))
    if isinstance(texts, pa.ChunkedArray) and not pa.types.is_string(texts.type):
        texts = texts.unify_dictionaries().combine_chunks() \
            if pa.types.is_dictionary(texts.type) else texts.combine_chunks()
    if isinstance(texts, pa.DictionaryArray):
        values, indices = texts.dictionary, texts.indices
    else:
        values, indices = texts, None
        try:
            # The recording format itself: every row has an offset.
            cast = pc.cast(texts, UTC_MS)
        except pa.ArrowInvalid:
            pass
        else:
            return ParsedTimes(_int64(cast.cast(pa.int64()).fill_null(0)), _valid(cast))
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        encoded = pc.dictionary_encode(texts)
        values, indices = encoded.dictionary, encoded.indices
    # Per distinct text first (a long file repeats each time once per
    # parameter), then spread to rows; slot len(values) stands for "empty".
    rows = _int64(indices.fill_null(len(values))) if indices.null_count else _int64(indices)
    fields = _DateFields.extract(values)
    chosen, notes = _choose_order(fields, rows, date_order)
    local_ms, ok_u, offset_min = fields.local_ms(chosen)
    local_ms, ok_u, offset_min = (np.append(a, fill) for a, fill in
                                  ((local_ms, 0), (ok_u, False), (offset_min, _NO_OFFSET)))
    ms, ok, naive = local_ms[rows], ok_u[rows], offset_min[rows] == _NO_OFFSET
    aware = ok & ~naive
    ms[aware] -= offset_min[rows][aware] * _MS_PER_MINUTE
    naive &= ok
    if naive.any():
        if zone is None:
            notes.append("times without a UTC offset were read as UTC "
                         "(give the recording's time zone, e.g. tz=Europe/Berlin, "
                         "if they are local times)")
        else:
            ms[naive] = _wall_to_utc(ms[naive], zone)
            notes.append(f"times without a UTC offset were read in {zone.key}")
    return ParsedTimes(ms, ok, _FORMAT_LABELS["ymd" if chosen == "iso" else chosen], notes)


@dataclass
class _DateFields:
    """The date and time fields of each distinct text, as integer arrays."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    year_first: np.ndarray   # YYYY-MM-DD / YYYY/MM/DD
    year_last: np.ndarray    # NN/NN/YYYY, day/month order to be decided
    day_first: np.ndarray    # NN.NN.YYYY or NN-NN-YYYY, conventionally day first
    clock_ms: np.ndarray     # time of day, ms; -1 when a field is out of range
    offset_min: np.ndarray   # UTC offset in minutes, _NO_OFFSET when absent

    @classmethod
    def extract(cls, values: pa.Array) -> _DateFields:
        parts = pc.extract_regex(pc.utf8_trim_whitespace(values), _FIELDS)
        matched = _valid(parts)

        def text(name: str) -> pa.Array:
            return pc.struct_field(parts, name)

        def number(name: str) -> np.ndarray:
            column = text(name)
            empty = pc.or_kleene(pc.equal(column, ""), pc.is_null(column))
            return _int64(pc.cast(pc.if_else(empty, None, column), pa.int64()).fill_null(-1))

        a, b, c = number("a"), number("b"), number("c")
        a_len = _int64(pc.utf8_length(text("a")).fill_null(0))
        c_len = _int64(pc.utf8_length(text("c")).fill_null(0))
        same_sep = _bool(pc.equal(text("s1"), text("s2")).fill_null(False))
        # Dots (de, ru) and dashes (VSCapture's dd-MM-yyyy, en-IN, nl) put the day
        # first; slashes are month first in the invariant culture and en-US.
        day_first = _bool(pc.is_in(text("s1"), pa.array([".", "-"])).fill_null(False))
        year_first = matched & same_sep & (a_len == 4) & (c_len <= 2)
        year_last = matched & same_sep & (c_len == 4) & (a_len <= 2)

        hh, mi, ss = number("hh"), number("mi"), number("ss")
        has_clock = hh >= 0
        hh, mi, ss = np.where(has_clock, hh, 0), np.where(has_clock, mi, 0), np.maximum(ss, 0)
        frac = text("frac")
        # Keep milliseconds, drop finer digits (truncation, as the store's ms do).
        millis = _int64(pc.cast(pc.utf8_rpad(pc.utf8_slice_codeunits(
            pc.if_else(pc.equal(frac, ""), "0", frac), 0, 3), 3, "0"), pa.int64()).fill_null(0))
        meridiem = pc.utf8_lower(pc.utf8_slice_codeunits(text("ampm"), 0, 1)).fill_null("")
        is_am = _bool(pc.equal(meridiem, "a"))
        is_pm = _bool(pc.equal(meridiem, "p"))
        twelve_hour = is_am | is_pm
        clock_ok = ((~twelve_hour & (hh <= 23)) | (twelve_hour & (hh >= 1) & (hh <= 12))) \
            & (mi <= 59) & (ss <= 59)
        hh = np.where(twelve_hour, hh % 12 + np.where(is_pm, 12, 0), hh)
        clock_ms = np.where(clock_ok, ((hh * 60 + mi) * 60 + ss) * 1000 + millis, -1)
        return cls(a, b, c, year_first, year_last, day_first, clock_ms,
                   _offset_minutes(text("zone")))

    def local_ms(self, order: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ms as if UTC, readable?, offset) of each distinct text under a day/month order."""
        year = np.where(self.year_first, self.a, self.c)
        if order == "dmy":
            month_ll, day_ll = self.b, self.a
        else:
            month_ll, day_ll = self.a, self.b
        month = np.where(self.year_first, self.b, month_ll)
        day = np.where(self.year_first, self.c, day_ll)
        shape_ok = self.year_first | (self.year_last if order != "iso" else False)
        month_ok = (month >= 1) & (month <= 12)
        safe_month = np.where(month_ok, month, 1)
        ok = shape_ok & month_ok & (day >= 1) & (day <= _days_in_month(year, safe_month)) \
            & (self.clock_ms >= 0) & (year >= 1)
        ms = _days_from_civil(year, safe_month, np.where(ok, day, 1)) * _MS_PER_DAY \
            + np.maximum(self.clock_ms, 0)
        offset = np.where(ok, self.offset_min, _NO_OFFSET)
        return np.where(ok, ms, 0), ok, offset


def _choose_order(fields: _DateFields, rows: np.ndarray,
                  date_order: DateOrder) -> tuple[str, list[str]]:
    """The day/month order for the file: "iso" when it has no NN/NN/YYYY dates."""
    if not fields.year_last.any():
        return "iso", []
    if date_order != "auto":
        return date_order, []
    day_first = bool(fields.day_first[fields.year_last].all())
    preferred, other = ("dmy", "mdy") if day_first else ("mdy", "dmy")
    scores = {}
    row_ms = {}
    for order in (preferred, other):
        ms, ok, _ = fields.local_ms(order)
        ms, ok = np.append(ms, 0)[rows], np.append(ok, False)[rows]
        scores[order] = (int(ok.sum()), -_count_steps_back(ms, ok))
        row_ms[order] = (ms, ok)
    chosen = preferred if scores[preferred] >= scores[other] else other
    notes = []
    if scores[preferred] == scores[other]:
        both_ok = row_ms[preferred][1] & row_ms[other][1]
        differ = both_ok & (row_ms[preferred][0] != row_ms[other][0])
        if differ.any():
            i = int(np.flatnonzero(differ)[0])
            example = dt.datetime.fromtimestamp(row_ms[chosen][0][i] / 1000, dt.UTC)
            word = "day" if chosen == "dmy" else "month"
            notes.append(
                f"dates could be month-first or day-first; read {word}-first "
                f"(the first such date is {example:%Y-%m-%d}); if that is wrong, "
                f"import again with date_order={other} (import --date-order {other})")
    return chosen, notes


def _count_steps_back(ms: np.ndarray, ok: np.ndarray) -> int:
    """How many readable times are earlier than a readable time before them."""
    if not ok.any():
        return 0
    times = np.where(ok, ms, _NEVER)
    before = np.maximum.accumulate(times)[:-1]
    return int((ok[1:] & (times[1:] < before)).sum())


def _wall_to_utc(wall_ms: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    """Wall-clock times in `zone` (ms, read as if UTC) -> UTC ms, in row order."""
    minutes = wall_ms // _MS_PER_MINUTE
    distinct, where = np.unique(minutes, return_inverse=True)
    offsets = np.empty((2, len(distinct)), dtype=np.int64)
    epoch = dt.datetime(1970, 1, 1)
    for j, m in enumerate(distinct.tolist()):
        wall = epoch + dt.timedelta(minutes=m)
        for fold in (0, 1):
            offset = wall.replace(tzinfo=zone, fold=fold).utcoffset() or dt.timedelta(0)
            offsets[fold, j] = offset // dt.timedelta(milliseconds=1)
    # In a repeated hour the clock steps back once: from the first step back
    # until the repeated hour is left, times are its second pass.
    rows = np.arange(len(wall_ms))
    repeated = offsets[0, where] != offsets[1, where]
    seen_before = np.concatenate(([_NEVER], np.maximum.accumulate(wall_ms)[:-1]))
    stepped_back = np.maximum.accumulate(np.where(repeated & (wall_ms < seen_before), rows, -1))
    left_repeated = np.maximum.accumulate(np.where(~repeated, rows, -1))
    fold = (repeated & (stepped_back > left_repeated)).astype(np.intp)
    return wall_ms - offsets[fold, where]


def wall_to_utc_ms(wall_ms: int, tz: str) -> int:
    """One wall-clock time in zone `tz` (ms since the epoch, read as if UTC) -> UTC ms.

    In a repeated hour (daylight-saving fall-back) the first pass is taken.
    Raises TimeZoneError for an unknown zone name.
    """
    return int(_wall_to_utc(np.array([wall_ms], dtype=np.int64), check_time_zone(tz))[0])


def _offset_minutes(zone: pa.Array) -> np.ndarray:
    """"+01:00", "-0530", "+02", "Z" -> minutes east of UTC; _NO_OFFSET when absent."""
    text = pc.replace_substring(zone.fill_null(""), ":", "")
    letters = pc.match_substring_regex(text, r"^(?i:z|utc|gmt)$")
    numeric = pc.match_substring_regex(text, r"^[+-]\d{2}(\d{2})?$")
    sign = np.where(_bool(pc.starts_with(text, "-")), -1, 1)
    hours = pc.cast(pc.if_else(numeric, pc.utf8_slice_codeunits(text, 1, 3), "0"), pa.int64())
    mins = pc.utf8_slice_codeunits(text, 3, 5)
    mins = pc.cast(pc.if_else(pc.and_(numeric, pc.not_equal(mins, "")), mins, "0"), pa.int64())
    minutes = sign * (_int64(hours) * 60 + _int64(mins))
    return np.where(_bool(numeric), minutes,
                    np.where(_bool(letters), 0, _NO_OFFSET)).astype(np.int64)


def _days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    lengths = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    return lengths[month] + ((month == 2) & leap)


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = year - (month <= 2)
    era = y // 400
    year_of_era = y - era * 400
    day_of_year = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def _int64(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.int64)


def _bool(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)


def _valid(array: pa.Array) -> np.ndarray:
    return _bool(pc.is_valid(array))


def format_times_ms(ms: np.ndarray) -> pa.Array:
    """Times (int64 ms since the epoch) as ``2026-11-26T14:03:05.000+00:00`` strings."""
    ms = np.asarray(ms, dtype=np.int64)
    if len(ms) == 0:
        return pa.array([], pa.string())
    # A recording repeats each time once per parameter: format each run once.
    starts_run = np.empty(len(ms), dtype=bool)
    starts_run[0] = True
    np.not_equal(ms[1:], ms[:-1], out=starts_run[1:])
    # Arrow's cast of a zone-less timestamp is fast and prints "2026-11-26 14:03:05.000";
    # its strftime and zone-aware casts are twenty times slower.
    text = pc.cast(pa.array(ms[starts_run], pa.timestamp("ms")), pa.string())
    text = pc.binary_join_element_wise(pc.utf8_replace_slice(text, 10, 11, "T"), "+00:00", "")
    if starts_run.all():
        return text
    return pc.take(text, pa.array(np.cumsum(starts_run, dtype=np.int32) - 1))


def format_time_ms(ms: int) -> str:
    """One time (int ms since the epoch, UTC) in the recording format's spelling.

    Examples
    --------
    >>> format_time_ms(1_795_701_785_000)
    '2026-11-26T14:03:05.000+00:00'
    """
    return format_times_ms(np.array([ms]))[0].as_py()
