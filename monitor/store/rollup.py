"""Ten-second summaries of every channel, kept as readings are written.

Reviewing a 24-hour session must not read 700,000 rows to draw 1,000 pixel
columns. For each channel and each 10-second bucket the store keeps the
lowest and highest valid value with their times, and how many readings were
valid or not. A long window is drawn from these (min/max preserved, so
peaks and dips survive), a short one from the readings themselves.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

import numpy as np

BUCKET_MS = 10_000

UPSERT = """
INSERT INTO rollup (channel_id, bucket, lo, lo_time, hi, hi_time, n_valid, n_other)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (channel_id, bucket) DO UPDATE SET
    lo_time = CASE WHEN excluded.lo IS NOT NULL AND (rollup.lo IS NULL OR excluded.lo < rollup.lo)
                   THEN excluded.lo_time ELSE rollup.lo_time END,
    lo = CASE WHEN excluded.lo IS NOT NULL AND (rollup.lo IS NULL OR excluded.lo < rollup.lo)
              THEN excluded.lo ELSE rollup.lo END,
    hi_time = CASE WHEN excluded.hi IS NOT NULL AND (rollup.hi IS NULL OR excluded.hi > rollup.hi)
                   THEN excluded.hi_time ELSE rollup.hi_time END,
    hi = CASE WHEN excluded.hi IS NOT NULL AND (rollup.hi IS NULL OR excluded.hi > rollup.hi)
              THEN excluded.hi ELSE rollup.hi END,
    n_valid = rollup.n_valid + excluded.n_valid,
    n_other = rollup.n_other + excluded.n_other
"""

_VALID = 0


def summarize(channels: np.ndarray, times: np.ndarray, values: np.ndarray,
              status: np.ndarray) -> list[tuple[object, ...]]:
    """Rows for :data:`UPSERT`: one per (channel, bucket) present in the batch.

    Parameters
    ----------
    channels, times : ndarray of int64
        Channel id and time (ms) of each reading.
    values : ndarray of float64
        NaN for no value.
    status : ndarray
        Status codes (0 valid).
    """
    if not len(times):
        return []
    buckets = times // BUCKET_MS
    valid = (status == _VALID) & ~np.isnan(values)
    keys, inverse = np.unique(np.stack([channels, buckets], axis=1), axis=0,
                              return_inverse=True)
    inverse = inverse.ravel()
    groups = len(keys)
    n_valid = np.bincount(inverse, weights=valid, minlength=groups).astype(np.int64)
    n_other = np.bincount(inverse, minlength=groups) - n_valid
    # Lowest and highest valid value of each group, and when: sort by (group, value).
    rows = []
    index = np.flatnonzero(valid)
    lo = np.full(groups, np.nan)
    hi = np.full(groups, np.nan)
    lo_t = np.zeros(groups, dtype=np.int64)
    hi_t = np.zeros(groups, dtype=np.int64)
    if len(index):
        order = index[np.lexsort((values[index], inverse[index]))]
        group_of = inverse[order]
        first = np.flatnonzero(np.r_[True, group_of[1:] != group_of[:-1]])
        last = np.r_[first[1:] - 1, len(order) - 1]
        lo[group_of[first]] = values[order[first]]
        lo_t[group_of[first]] = times[order[first]]
        hi[group_of[last]] = values[order[last]]
        hi_t[group_of[last]] = times[order[last]]
    for g in range(groups):
        has = not np.isnan(lo[g])
        rows.append((int(keys[g, 0]), int(keys[g, 1]), float(lo[g]) if has else None,
                     int(lo_t[g]) if has else None, float(hi[g]) if has else None,
                     int(hi_t[g]) if has else None, int(n_valid[g]), int(n_other[g])))
    return rows


def add(conn: sqlite3.Connection, channels: np.ndarray, times: np.ndarray,
        values: np.ndarray, status: np.ndarray) -> None:
    """Fold a batch of readings into the summaries (inside the caller's transaction)."""
    conn.executemany(UPSERT, summarize(channels, times, values, status))


def points(conn: sqlite3.Connection, channel_ids: Mapping[str, list[int]], lo_ms: int,
           hi_ms: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each parameter's summary points in [lo, hi]: the low and the high of every
    bucket at their own times, in time order; a bucket with no valid reading
    gives a NaN (a break in the line).

    Returns ``{param: (time_ms, value)}``.
    """
    out = {}
    for param, ids in channel_ids.items():
        rows = []
        for channel in ids:
            rows += conn.execute(
                "SELECT bucket, lo, lo_time, hi, hi_time FROM rollup WHERE channel_id = ? "
                "AND bucket BETWEEN ? AND ? ORDER BY bucket",
                (channel, lo_ms // BUCKET_MS, hi_ms // BUCKET_MS)).fetchall()
        times, values = [], []
        for bucket, lo, lo_time, hi, hi_time in sorted(rows):
            if lo is None:
                times.append(bucket * BUCKET_MS + BUCKET_MS // 2)
                values.append(float("nan"))
            elif lo_time <= hi_time:
                times += [lo_time, hi_time] if hi_time != lo_time else [lo_time]
                values += [lo, hi] if hi_time != lo_time else [lo]
            else:
                times += [hi_time, lo_time]
                values += [hi, lo]
        out[param] = (np.array(times, dtype=np.int64), np.array(values, dtype=np.float64))
    return out
