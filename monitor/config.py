"""The clinic's settings: one typed object, loaded from TOML and checked on load.

Example ``clinic.toml``::

    [store]
    path = "data/clinic.db"

    [server]
    host = "127.0.0.1"        # another address needs user accounts (`users add`)
    port = 8050
    secure_cookies = false    # true when a TLS proxy serves the dashboard over HTTPS

    [acquisition]
    silence_timeout = 10      # seconds without data before "no data"

    [rules]
    profile = "our-clinic.toml"   # merged over the shipped ketamine-adult profile

    [[chairs]]
    name = "1"
    device = "masimo:/dev/ttyUSB0"

    [[chairs]]
    name = "2"
    device = "sim:?scenario=typical&seed=2"

Every error names the file and the key at fault, in one line.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from devices.registry import ADAPTERS
from devices.spec import SpecError, parse_spec
from monitor.rules.profile import shown_key


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the key."""


@dataclass(frozen=True)
class ChairSettings:
    name: str
    device: str
    profile: str | None = None


@dataclass(frozen=True)
class StoreSettings:
    path: Path = Path("data/monitor.db")
    commit_interval: float = 0.5  # seconds; the most a kill -9 can lose


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8050
    poll_interval: float = 1.0  # seconds between screen updates
    secure_cookies: bool = False  # true when reached over HTTPS (a TLS proxy in front)


@dataclass(frozen=True)
class AcquisitionSettings:
    silence_timeout: float = 10.0  # source-clock seconds before "no data"
    reconnect_first: float = 1.0   # first reconnect delay, seconds
    reconnect_cap: float = 30.0    # longest reconnect delay, seconds


@dataclass(frozen=True)
class RulesSettings:
    profile: str | None = None     # a clinic profile file (default: ketamine-adult)


@dataclass(frozen=True)
class Settings:
    """Everything the program can be told, with working defaults."""

    store: StoreSettings = field(default_factory=StoreSettings)
    rules: RulesSettings = field(default_factory=RulesSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    acquisition: AcquisitionSettings = field(default_factory=AcquisitionSettings)
    chairs: tuple[ChairSettings, ...] = ()


_SECTIONS = {"store": StoreSettings, "server": ServerSettings,
             "acquisition": AcquisitionSettings, "rules": RulesSettings}


def load_settings(path: str | Path) -> Settings:
    """Read and check a clinic TOML file.

    Raises
    ------
    ConfigError
        Missing or unreadable file, bad TOML, an unknown key, a value of the
        wrong type, a bad device spec or a repeated chair name.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a TOML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except ValueError as exc:  # TOMLDecodeError, or an integer literal too long to convert
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return settings_from_dict(raw, origin=str(path))


def settings_from_dict(raw: dict[str, Any], origin: str = "settings") -> Settings:
    unknown = set(raw) - set(_SECTIONS) - {"chairs"}
    if unknown:
        raise ConfigError(f"{origin}: unknown section(s) "
                          f"{', '.join(map(shown_key, sorted(unknown)))}; "
                          f"known: {', '.join(sorted([*_SECTIONS, 'chairs']))}")
    sections = {name: _section(raw.get(name, {}), cls, f"{origin}: [{name}]")
                for name, cls in _SECTIONS.items()}
    chairs = raw.get("chairs", [])
    if not isinstance(chairs, list):
        raise ConfigError(f"{origin}: chairs must be a list of [[chairs]] tables")
    parsed = tuple(_section(c, ChairSettings, f"{origin}: chairs[{i}]")
                   for i, c in enumerate(chairs))
    seen: set[str] = set()
    for i, chair in enumerate(parsed):
        if chair.name in seen:
            raise ConfigError(f"{origin}: chairs[{i}].name {chair.name!r} is used twice")
        seen.add(chair.name)
        try:
            protocol = parse_spec(chair.device).protocol
        except SpecError as exc:
            raise ConfigError(f"{origin}: chairs[{i}].device: {exc}") from None
        if protocol not in ADAPTERS:
            raise ConfigError(f"{origin}: chairs[{i}].device: unknown protocol {protocol!r}; "
                              f"known: {', '.join(sorted(ADAPTERS))}")
    return Settings(chairs=parsed, **sections)


def _section(raw: Any, cls: type, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    known = {f.name: f for f in fields(cls)}
    unknown = set(raw) - set(known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(shown_key, sorted(unknown)))}; "
                          f"known: {', '.join(known)}")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        kind = known[name].type
        values[name] = _convert(value, str(kind), f"{where}.{name}")
    try:
        return cls(**values)
    except TypeError as exc:  # a required key is missing
        missing = [n for n, f in known.items() if n not in raw and _required(f)]
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing) or exc}") from None


def _required(f: Any) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


def _convert(value: Any, kind: str, where: str) -> Any:
    """Check one value against its field's annotation (kept as text by `from __future__`)."""
    if kind.startswith("str"):
        if isinstance(value, str):
            return value
        if value is None and "None" in kind:
            return None
        raise ConfigError(f"{where} must be text, not {value!r}")
    if kind == "float":
        if (isinstance(value, int | float) and not isinstance(value, bool)
                and math.isfinite(value) and value >= 0):
            return float(value)
        raise ConfigError(f"{where} must be a finite number >= 0, not {value!r}")
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535:
            return value
        raise ConfigError(f"{where} must be a whole number from 0 to 65535, not {value!r}")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be true or false, not {value!r}")
    if kind == "Path":
        if isinstance(value, str) and value and "\x00" not in value:
            return Path(value)
        raise ConfigError(f"{where} must be a file path, not {value!r}")
    raise ConfigError(f"{where}: cannot check a setting of type {kind}")
