"""Device spec strings: ``PROTOCOL:PORT[?key=value&...]`` (DESIGN.md).

Examples::

    sim:?scenario=hypertensive-response&seed=3&speed=1
    csv:sample_data/typical-session.csv?speed=10
    masimo:/dev/ttyUSB0
    intellivue:socket://10.1.2.3:4001

The part after the protocol is split at the *last* ``?`` that is followed by
``key=value`` pairs, so a port URL may carry its own query string.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from urllib.parse import unquote


class SpecError(ValueError):
    """A device spec string that cannot be understood; the message says why."""


_PROTOCOL = re.compile(r"^([a-z][a-z0-9_-]*):(.*)$", re.DOTALL)


@dataclass(frozen=True)
class DeviceSpec:
    """A parsed device spec.

    Attributes
    ----------
    protocol : str
        Lower-case protocol name, e.g. "sim", "csv", "masimo".
    port : str
        Serial device, URL or file path; may be "" (the simulator needs none).
    options : dict of str to str
        The ``key=value`` options, as text; each adapter converts its own.
    text : str
        The spec as given, for display and the session record.
    """

    protocol: str
    port: str
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def option(self, key: str, default: str | None = None) -> str | None:
        return self.options.get(key, default)

    def float_option(self, key: str, default: float) -> float:
        raw = self.options.get(key)
        if raw is None:
            return default
        try:
            return float(raw)
        except ValueError:
            raise SpecError(f"{self.text}: option {key}={raw!r} is not a number") from None

    def int_option(self, key: str, default: int) -> int:
        raw = self.options.get(key)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise SpecError(f"{self.text}: option {key}={raw!r} is not a whole number") from None

    def speed_option(self) -> float:
        """The ``speed`` option: source seconds per wall second (default 1);
        ``max`` gives infinity, meaning step through without sleeping."""
        raw = self.options.get("speed")
        if raw is not None and raw.strip().lower() == "max":
            return math.inf
        speed = self.float_option("speed", 1.0)
        if not (math.isfinite(speed) and speed > 0):
            raise SpecError(f"{self.text}: option speed={raw!r} must be a number > 0, or max")
        return speed

    def check_known(self, known: set[str]) -> None:
        """Refuse options the adapter does not understand (a typo is not silently ignored)."""
        unknown = sorted(set(self.options) - known)
        if unknown:
            raise SpecError(
                f"{self.text}: unknown option(s) {', '.join(unknown)} for {self.protocol}; "
                f"known: {', '.join(sorted(known))}"
            )


def parse_spec(text: str) -> DeviceSpec:
    """Parse a device spec string.

    Raises
    ------
    SpecError
        When there is no ``protocol:`` prefix or an option is not ``key=value``.
    """
    match = _PROTOCOL.match(text.strip())
    if not match:
        raise SpecError(
            f"device spec {text!r} has no protocol; write PROTOCOL:PORT, e.g. "
            "sim:?scenario=typical or csv:path/to/file.csv"
        )
    protocol, rest = match.group(1), match.group(2)
    port, options = rest, {}
    if "?" in rest:
        head, _, query = rest.rpartition("?")
        pairs = [p for p in query.split("&") if p]
        if all("=" in p for p in pairs):
            port = head
            # unquote, not unquote_plus: a '+' is kept, so an option such as
            # start=2026-11-26T14:00:00+01:00 arrives as written.
            options = {unquote(k): unquote(v) for k, _, v in (p.partition("=") for p in pairs)}
        elif query:
            bad = next(p for p in pairs if "=" not in p)
            raise SpecError(f"device spec {text!r}: option {bad!r} is not key=value")
    return DeviceSpec(protocol=protocol, port=port, options=options, text=text.strip())
