"""Plays a device's side of its protocol, with the simulator's values, on a real port.

``infusion-monitor emulate --protocol masimo --pty`` opens a pseudo-terminal,
prints its path and talks like a Masimo Radical-7 on it; ``record --device
masimo:/dev/pts/N`` then reads it exactly as it would read the real monitor.
Tests use :class:`Emulator` directly to break the link on purpose: garbage
between frames (:meth:`Emulator.inject`), a cable pulled and plugged back
(:meth:`Emulator.pull_cable`).
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import logging
import os
import select
import threading
import time
import tty
from pathlib import Path

from devices.adapter import DeviceError, RecordingFinished
from devices.link import DeviceLink
from devices.registry import open_adapter
from devices.spec import SpecError
from devices.transport import PortSettings, SerialTransport

log = logging.getLogger(__name__)

# protocol -> "module:DeviceLink class"
DEVICE_LINKS: dict[str, str] = {
    "masimo": "devices.protocols.masimo:MasimoDevice",
    "nonin": "devices.protocols.nonin:NoninDevice",
    "intellivue": "devices.protocols.intellivue:IntelliVueDevice",
    "datex": "devices.protocols.datex:DatexDevice",
}


def device_link(protocol: str, options: dict[str, str] | None = None) -> DeviceLink:
    """The emulator side of `protocol`; SpecError for an unknown one."""
    target = DEVICE_LINKS.get(protocol)
    if target is None:
        raise SpecError(f"no emulator for protocol {protocol!r}; "
                        f"known: {', '.join(sorted(DEVICE_LINKS))}")
    module, _, name = target.partition(":")
    cls = getattr(importlib.import_module(module), name)
    try:
        return cls(options)
    except ValueError as exc:
        raise SpecError(f"{protocol} emulator: {exc}") from None


class _Pty:
    """A pseudo-terminal pair kept open on both ends, so the host can open,
    close and reopen the slave without the pair hanging up."""

    def __init__(self, link: Path | None) -> None:
        self.link = link
        self.master, self.slave = os.openpty()
        # Raw from the start: no echo, no line editing, before any host opens it.
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        if link is not None:
            tmp = link.with_name(link.name + ".new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self.path)
            tmp.replace(link)

    def read(self, wait: float) -> bytes:
        """What the host sent within `wait` seconds (b"" if nothing or hung up)."""
        try:
            ready, _, _ = select.select([self.master], [], [], wait)
            return os.read(self.master, 65536) if ready else b""
        except OSError:
            return b""

    def write(self, data: bytes) -> int:
        try:
            return os.write(self.master, data)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EIO, errno.EBADF):
                raise
            return 0  # nobody reading: a real device's bytes would be lost too

    def close(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class _SerialPort:
    """The device side on a real port (a USB-serial adapter, a device server)."""

    def __init__(self, url: str, settings: PortSettings) -> None:
        self.path = url
        self.transport = SerialTransport(url, settings)
        self.transport.open()

    def read(self, wait: float) -> bytes:
        try:
            return self.transport.read(wait)
        except DeviceError:
            time.sleep(wait)
            return b""

    def write(self, data: bytes) -> int:
        try:
            self.transport.write(data)
        except DeviceError:
            return 0
        return len(data)

    def close(self) -> None:
        self.transport.release()


class Emulator:
    """A device on a pseudo-terminal, driven by the simulator.

    Parameters
    ----------
    protocol : str
        "masimo", "nonin", "intellivue" or "datex".
    scenario, seed, speed :
        The simulated session (see ``sim:`` options).
    options : dict
        Protocol options for the device side (e.g. Nonin ``format``).
    link : path, optional
        Keep a symlink here pointing at the current pseudo-terminal; a pulled
        cable makes a new one, and the link follows it (like socat's ``link=``).
    """

    def __init__(self, protocol: str, *, scenario: str = "typical", seed: int = 1,
                 speed: float = 1.0, options: dict[str, str] | None = None,
                 link: str | Path | None = None, elapsed_min: float = 0.0,
                 port: str | None = None) -> None:
        self.device = device_link(protocol, options)
        self.protocol = protocol
        self.source = open_adapter(f"sim:?scenario={scenario}&seed={seed}&speed={speed:g}"
                                   f"&elapsed={elapsed_min:g}")
        self.source.open()
        self.link_path = Path(link) if link else None
        self._url = port
        self._end: _Pty | _SerialPort = self._new_end()
        self._lock = threading.Lock()
        self._pending_garbage = b""
        self._unplugged_until = 0.0
        self._unplug_for: float | None = None
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.bytes_out = 0
        self.bytes_in = 0

    def _new_end(self) -> _Pty | _SerialPort:
        if self._url is not None:
            return _SerialPort(self._url, self.device.port)
        return _Pty(self.link_path)

    @property
    def port(self) -> str:
        """What a host opens: the symlink if there is one, else the pty path."""
        return str(self.link_path) if self.link_path else self._end.path

    # -- faults, for tests and demonstrations -------------------------------------

    def inject(self, data: bytes) -> None:
        """Send `data` (garbage) before the next frame."""
        with self._lock:
            self._pending_garbage += data

    def pull_cable(self, seconds: float) -> None:
        """Hang the line up for `seconds` (wall): the host's port fails at once;
        a new pseudo-terminal appears afterwards (at the same link path)."""
        # Only the emulator's own thread touches the descriptors (a closed fd
        # number can be reused at once by the host's port in the same process).
        with self._lock:
            self._unplug_for = seconds

    # -- running ----------------------------------------------------------------------

    def start(self) -> Emulator:
        self.thread = threading.Thread(target=self.run, name=f"emulate-{self.protocol}",
                                       daemon=True)
        self.thread.start()
        return self

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        self._end.close()

    def run(self) -> None:
        """Talk until :meth:`stop` (or the simulated session ends)."""
        tick = getattr(self.device, "tick_s", 1.0)
        next_tick = time.monotonic()
        while not self._stop.is_set():
            if self._plugged_back():
                continue
            if self._unplugged_until:
                self._stop.wait(0.05)
                continue
            now_wall = time.monotonic()
            self._answer_host(min(0.05, max(0.0, next_tick - now_wall)))
            if time.monotonic() >= next_tick:
                next_tick += tick
                try:
                    items = self.source.read(0)
                except RecordingFinished:
                    log.info("emulator: the simulated session is over")
                    return
                with self._lock:
                    out, self._pending_garbage = self._pending_garbage, b""
                self._send(out + self.device.emit(items, self.source.now()))

    def _plugged_back(self) -> bool:
        with self._lock:
            if self._unplug_for is not None:
                self._end.close()
                self._unplugged_until = time.monotonic() + self._unplug_for
                self._unplug_for = None
                return False
            if not self._unplugged_until or time.monotonic() < self._unplugged_until:
                return False
            self._unplugged_until = 0.0
            self._end = self._new_end()
            # A replugged device starts its conversation afresh.
            self.device = type(self.device)(self.device.options)
        log.info("emulator: cable back in, %s", self._end.path)
        return True

    def _answer_host(self, wait: float) -> None:
        data = self._end.read(wait)
        if data:
            self.bytes_in += len(data)
            self._send(self.device.receive(data, self.source.now()))

    def _send(self, data: bytes) -> None:
        if data:
            self.bytes_out += self._end.write(data)
