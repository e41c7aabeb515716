"""Alarm rules: profiles (TOML), conditions, the alarm lifecycle, session logic.

Pure: no I/O and no clock; see engine.py.
"""

from monitor.rules.alarms import (
    Alarm,
    AlarmChange,
    AlarmKind,
    AlarmState,
    AuditEntry,
    IllegalTransition,
    LogEntry,
    Output,
)
from monitor.rules.engine import RulesEngine
from monitor.rules.profile import Priority, Profile, ProfileError, load_profile

__all__ = [
    "Alarm",
    "AlarmChange",
    "AlarmKind",
    "AlarmState",
    "AuditEntry",
    "IllegalTransition",
    "LogEntry",
    "Output",
    "Priority",
    "Profile",
    "ProfileError",
    "RulesEngine",
    "load_profile",
]
