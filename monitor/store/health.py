"""Whether the recorder can write its store, told to every screen.

When the disk is full or read-only the store cannot say so itself; the
recorder writes a small status file in the machine's temporary folder (keyed
by the store's path), which any dashboard process reads each tick.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# A failing recorder rewrites its status every 5 s; one older than this is
# from a recorder that has gone (its chairs show NO DATA, the cue that counts).
STALE_AFTER_S = 30.0


@dataclass
class StoreHealth:
    """The writer's view of its store."""

    failing_since: float | None = None   # wall clock, s since epoch
    error: str = ""
    held: int = 0                        # readings waiting in memory
    dropped: int = 0                     # readings given up (beyond the bound)
    next_report: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failing_since is None


def health_path(db_path: str | Path) -> Path:
    digest = hashlib.sha1(str(Path(db_path).resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "infusion-monitor" / f"store-{digest}.json"


def write_health(db_path: str | Path, health: StoreHealth) -> None:
    """Publish the status; never raises (a status that cannot be written is skipped)."""
    path = health_path(db_path)
    data = {**asdict(health), "ok": health.ok, "updated": time.time(), "db": str(db_path)}
    data.pop("next_report")
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)


def read_health(db_path: str | Path, now: float | None = None) -> dict[str, Any] | None:
    """The last status a recorder published for this store, if any and current."""
    try:
        data = json.loads(health_path(db_path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    now = time.time() if now is None else now
    if not data.get("ok", True) and now - float(data.get("updated", 0)) > STALE_AFTER_S:
        return None
    return data
