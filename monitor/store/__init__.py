"""The session store: SQLite in WAL mode (see schema.py for the tables)."""

from monitor.store.records import AuditRecord, EventRecord, LatestValue, SessionRecord, to_ms
from monitor.store.schema import SCHEMA_VERSION, StoreError
from monitor.store.store import Store
from monitor.store.writer import StoreWriter

__all__ = [
    "SCHEMA_VERSION",
    "AuditRecord",
    "EventRecord",
    "LatestValue",
    "SessionRecord",
    "Store",
    "StoreError",
    "StoreWriter",
    "to_ms",
]
