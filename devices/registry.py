"""From a device spec string to an adapter, the way ``serial_for_url`` goes from a URL to a port."""

from __future__ import annotations

import importlib

from devices.adapter import Adapter
from devices.spec import DeviceSpec, SpecError, parse_spec

# protocol -> "module:class"; imported only when used, so a missing optional
# dependency of one protocol cannot break the others.
ADAPTERS: dict[str, str] = {
    "sim": "devices.simulator:SimulatorAdapter",
    "csv": "devices.csv_replay:CsvReplayAdapter",
    "masimo": "devices.protocols.masimo:MasimoAdapter",
    "nonin": "devices.protocols.nonin:NoninAdapter",
    "intellivue": "devices.protocols.intellivue:IntelliVueAdapter",
    "datex": "devices.protocols.datex:DatexAdapter",
}


def open_adapter(spec: str | DeviceSpec, **kwargs: object) -> Adapter:
    """Build (not yet open) the adapter a spec names.

    Keyword arguments go to the adapter (e.g. ``raw_capture=`` for a serial
    device).

    Raises
    ------
    SpecError
        Unknown protocol or bad options; the message lists what is known.
    """
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    target = ADAPTERS.get(parsed.protocol)
    if target is None:
        raise SpecError(
            f"unknown device protocol {parsed.protocol!r} in {parsed.text!r}; "
            f"known: {', '.join(sorted(ADAPTERS))}"
        )
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(parsed, **kwargs)
