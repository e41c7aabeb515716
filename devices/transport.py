"""Bytes to and from a device, over any port pyserial's ``serial_for_url`` opens.

A device path (``/dev/ttyUSB0``, ``/dev/pts/3``), a serial device server
(``socket://10.1.2.3:4001``, ``rfc2217://10.1.2.4:4002``) or ``loop://``.
The transport knows nothing of protocols: each protocol names its
:class:`PortSettings` and its codec turns the bytes into readings.
"""

from __future__ import annotations

import contextlib
import os
import termios
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

import serial

from devices.adapter import DeviceError


@dataclass(frozen=True)
class PortSettings:
    """Line settings of a protocol (baud, data bits, parity, stop bits, flow control)."""

    baudrate: int
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    rtscts: bool = False
    xonxoff: bool = False

    def describe(self) -> str:
        flow = " RTS/CTS" if self.rtscts else ""
        return f"{self.baudrate} {self.bytesize}{self.parity}{self.stopbits:g}{flow}"

    def byte_time(self) -> float:
        """Seconds one byte takes on the wire (start + data + parity + stop bits)."""
        bits = 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits
        return bits / self.baudrate


def is_pseudo_terminal(url: str) -> bool:
    """True for a pseudo-terminal (an emulator's), directly or through a symlink."""
    try:
        return os.path.realpath(url).startswith("/dev/pts/")
    except (OSError, ValueError):
        return False


def times_path(capture: str | Path) -> Path:
    """The receipt-time index kept beside a raw capture."""
    return Path(f"{capture}.times")


class SerialTransport:
    """One port, opened with a protocol's settings; counts what passes.

    Parameters
    ----------
    url : str
        Anything ``serial.serial_for_url`` accepts.
    settings : PortSettings
    raw_capture : path, optional
        Every byte received is appended here, exactly as received; beside it,
        ``<raw_capture>.times`` gets one line ``<byte offset> <receipt time>``
        per chunk read, so an import can place each reading when it arrived.
    """

    def __init__(self, url: str, settings: PortSettings, *,
                 raw_capture: str | Path | None = None) -> None:
        self.url = url
        self.settings = settings
        self.raw_capture = Path(raw_capture) if raw_capture else None
        self.bytes_in = 0
        self.bytes_out = 0
        self._port: serial.SerialBase | None = None
        self._capture: BinaryIO | None = None
        self._capture_times: TextIO | None = None
        self._timeout = 0.0

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def open(self) -> None:
        """Open the port; a port that is missing or busy is a :class:`DeviceError`."""
        s = self.settings
        # A pseudo-terminal has no line: Linux refuses parity on it (EINVAL on
        # every later tcsetattr), so an emulator's pty is opened without.
        parity = "N" if is_pseudo_terminal(self.url) else s.parity
        try:
            self._port = serial.serial_for_url(
                self.url, baudrate=s.baudrate, bytesize=s.bytesize, parity=parity,
                stopbits=s.stopbits, rtscts=s.rtscts, xonxoff=s.xonxoff, timeout=0,
                write_timeout=2.0)
            self._timeout = 0.0
        except (serial.SerialException, OSError, ValueError, termios.error) as exc:
            self._port = None
            raise DeviceError(f"cannot open {self.url} ({s.describe()}): {exc}") from None
        # Bytes that waited in the port before anyone listened are stale.
        with contextlib.suppress(serial.SerialException, OSError):
            self._port.reset_input_buffer()
        if self.raw_capture and self._capture is None:
            try:
                # Kept open for the whole recording, appended to across reconnects.
                self._capture = open(self.raw_capture, "ab")  # noqa: SIM115
                self._capture_times = open(times_path(self.raw_capture), "a")  # noqa: SIM115
            except OSError as exc:
                self.close()
                raise DeviceError(f"cannot write raw capture {self.raw_capture}: {exc}") from None

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            # Already gone, perhaps: that is why it is being closed.
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()
        if self._capture is not None and self._capture_times is not None:
            self._capture.flush()
            self._capture_times.flush()

    def release(self) -> None:
        """Close the port and the raw capture file for good."""
        self.close()
        for capture in (self._capture, self._capture_times):
            if capture is not None:
                capture.close()
        self._capture = self._capture_times = None

    def read(self, wait: float) -> bytes:
        """Bytes that arrived within `wait` seconds (b"" if none).

        Raises
        ------
        DeviceError
            The port went away (cable or adapter unplugged, peer closed).
        """
        port = self._require_open()
        # Few distinct timeouts: each change is a tcsetattr on a real port.
        # Never 0 unless asked: a caller looping to a deadline would spin.
        timeout = 0.0 if wait <= 0 else 0.2 if wait >= 0.2 else 0.05
        try:
            if timeout != self._timeout:
                port.timeout = self._timeout = timeout
            first = port.read(1)
            if not first:
                return b""
            data = first + port.read(port.in_waiting) if port.in_waiting else first
        except (serial.SerialException, OSError, termios.error) as exc:
            raise DeviceError(f"{self.url}: link lost: {exc}") from None
        self.bytes_in += len(data)
        return data

    def keep(self, data: bytes, received: float) -> None:
        """Append `data` to the raw capture (if any), received at `received` (s).

        The caller passes the receipt time it gives the decoder, written in
        full (``repr``), so that an import of the capture places every reading
        at exactly the time the live recording stored.
        """
        if data and self._capture is not None and self._capture_times is not None:
            self._capture_times.write(f"{self._capture.tell()} {received!r}\n")
            self._capture.write(data)

    def write(self, data: bytes) -> None:
        if not data:
            return
        port = self._require_open()
        try:
            port.write(data)
            port.flush()
        except (serial.SerialException, OSError, termios.error) as exc:
            raise DeviceError(f"{self.url}: cannot send: {exc}") from None
        self.bytes_out += len(data)

    def _require_open(self) -> serial.SerialBase:
        if self._port is None:
            raise DeviceError(f"{self.url} is not open")
        return self._port
