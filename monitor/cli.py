"""``infusion-monitor``: the command line (DESIGN.md, "Command line").

Thin on purpose: each command parses its options, calls the module that does
the work, and turns expected failures into one line and exit status 2.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from monitor.cli_common import (
    db_option,
    expected_failures,
    fail,
    load_profile,
    profile_option,
    serve_with,
    server_options,
    stop_on_signals,
)
from monitor.cli_files import export, import_, replay, sessions
from monitor.cli_users import users

log = logging.getLogger("infusion-monitor")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="infusion-monitor")
def main(verbose: int) -> None:
    """Infusion Monitor: vital signs beside the patient monitor in an infusion clinic.

    A secondary display and session record; the bedside monitor stays the
    primary alarm device.
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def entry() -> NoReturn:
    """The console script and ``python -m monitor``: `main`, then exit.

    When pyarrow read a CSV, the process leaves with ``os._exit`` after
    flushing: Arrow's thread pool can abort the interpreter's teardown
    ("terminate called without an active exception", SIGABRT; apache/arrow
    #34314), which would turn a finished command's exit status into -6.
    """
    try:
        main()
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    if not isinstance(code, int):
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    if "pyarrow" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    sys.exit(code)


# -- recording and serving ----------------------------------------------------------

@main.command()
@click.option("--chairs", default=4, show_default=True, type=click.IntRange(1, 32),
              help="Number of simulated chairs.")
@click.option("--speed", default=1.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Session seconds per wall-clock second (600 = ten minutes a second).")
@click.option("--scenario", default=None, help="Run every chair with this scenario "
              "(default: a mix, so alarms happen).")
@click.option("--data-dir", default=Path("data"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the demo's SQLite store.")
@profile_option
@server_options
def demo(chairs: int, speed: float, scenario: str | None, data_dir: Path, profile: str | None,
         host: str, port: int) -> None:
    """Simulated chairs plus the dashboard: the zero-configuration start.

    Every chair is labelled SIMULATED on screen.
    """
    from monitor.demo import demo_chairs
    from monitor.service import Recorder

    data_dir.mkdir(parents=True, exist_ok=True)
    db = data_dir / "demo.db"
    with expected_failures():
        chairs_plan = demo_chairs(chairs, speed=speed, scenario=scenario)
        alarm_profile = load_profile(profile)
        recorder = Recorder(db)
    for chair in chairs_plan:
        recorder.add_chair(chair.name, chair.adapter(), next_adapter=chair.next_adapter,
                           profile=alarm_profile)
    serve_with(recorder, db, host, port,
                f"Demo: {chairs} SIMULATED chairs at {speed:g}x, store {db}")


@main.command()
@click.option("--config", "config_path", required=True,
              type=click.Path(path_type=Path), help="Clinic TOML file.")
@click.option("--host", default=None, help="Override [server] host.")
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="Override [server] port.")
def run(config_path: Path, host: str | None, port: int | None) -> None:
    """A clinic: the chairs of a TOML file, their devices, the store, the dashboard."""
    from devices.csv_format import RecordingError
    from devices.registry import open_adapter
    from devices.spec import SpecError
    from monitor.config import load_settings
    from monitor.service import Recorder

    with expected_failures():
        settings = load_settings(config_path)
        if not settings.chairs:
            fail(f"{config_path}: no [[chairs]]; add at least one chair with a device")
        adapters = []
        for i, chair in enumerate(settings.chairs):
            try:
                adapter = open_adapter(chair.device)
            except (SpecError, RecordingError) as exc:
                fail(f"{config_path}: chairs[{i}].device: {exc}")
            adapters.append((chair, adapter,
                             load_profile(chair.profile or settings.rules.profile)))
        recorder = Recorder(settings.store.path, settings.acquisition,
                            settings.store.commit_interval)
    for chair, adapter, alarm_profile in adapters:
        recorder.add_chair(chair.name, adapter, profile=alarm_profile)
    serve_with(recorder, settings.store.path, host or settings.server.host,
                port or settings.server.port,
                f"{len(adapters)} chairs, store {settings.store.path}",
                secure_cookies=settings.server.secure_cookies)


@main.command()
@click.option("--device", "device", required=True,
              help="Device spec, e.g. sim:?scenario=typical&speed=600 or masimo:/dev/ttyUSB0.")
@db_option(must_exist=False)
@click.option("--chair", default="1", show_default=True, help="Chair name.")
@click.option("--duration", default=None, type=click.FloatRange(min=0),
              help="Stop after this many wall-clock seconds (default: until the source ends "
                   "or Ctrl-C).")
@click.option("--raw-capture", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also keep every byte received in this file (serial devices), with a "
                   ".times index beside it; 'import FILE --protocol P' decodes it later.")
@profile_option
def record(device: str, db: Path, chair: str, duration: float | None,
           raw_capture: Path | None, profile: str | None) -> None:
    """Headless acquisition from one device into the store."""
    from devices.registry import open_adapter
    from devices.spec import parse_spec
    from devices.stream import StreamAdapter
    from monitor.service import Recorder

    with expected_failures():
        if raw_capture is not None:
            cls = _adapter_class(parse_spec(device).protocol)
            if not issubclass(cls, StreamAdapter):
                fail(f"--raw-capture keeps the bytes of a serial device; {device!r} sends none")
            adapter = open_adapter(device, raw_capture=raw_capture)
        else:
            adapter = open_adapter(device)
        alarm_profile = load_profile(profile)
        recorder = Recorder(db)
    worker = recorder.add_chair(chair, adapter, profile=alarm_profile)
    stop = stop_on_signals()
    recorder.start()
    try:
        recorder.wait(duration, stop)
    except KeyboardInterrupt:
        pass
    finally:
        recorder.stop()
        release = getattr(adapter, "release", None)
        if release is not None:
            release()
    stats = worker.stats
    link = getattr(adapter, "link_stats", None)
    rejected = dict(link["rejected"]) if link else dict(adapter.stats.rejected)
    click.echo(f"session {', '.join(map(str, stats.sessions))} (chair {chair}): "
               f"{stats.readings} readings, {stats.events} events, "
               f"{sum(rejected.values())} rejected, {stats.reconnects} reconnects")
    if link:
        click.echo(f"  {adapter.describe()}: {link['bytes_in']} bytes in, "
                   f"{link['bytes_out']} out, {link['frames_ok']} frames ok")
    for reason, count in sorted(rejected.items()):
        click.echo(f"  rejected, {reason}: {count}")


def _adapter_class(protocol: str) -> type:
    import importlib

    from devices.registry import ADAPTERS

    target = ADAPTERS.get(protocol)
    if target is None:
        fail(f"unknown device protocol {protocol!r}; known: {', '.join(sorted(ADAPTERS))}")
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


@main.command()
@db_option(must_exist=True)
@server_options
def serve(db: Path, host: str, port: int) -> None:
    """The dashboard alone, over an existing store (acquisition runs elsewhere)."""
    if not db.exists():
        fail(f"{db}: no such database; record or import a session first")
    serve_with(None, db, host, port, f"store {db}")


@main.command()
@click.option("--protocol", required=True,
              type=click.Choice(["masimo", "nonin", "intellivue", "datex"]),
              help="Which device to play.")
@click.option("--scenario", default="typical", show_default=True,
              help="Simulated session whose values the device reports.")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--speed", default=1.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Session seconds per wall second (the device still talks at its own rate).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Device option, e.g. format=7 for nonin (repeatable).")
@click.option("--pty", "use_pty", is_flag=True,
              help="Open a pseudo-terminal and print its path.")
@click.option("--link", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --pty: keep a symlink to it here.")
@click.option("--port", "port_url", default=None,
              help="Play on this port instead (a serial device or pyserial URL).")
def emulate(protocol: str, scenario: str, seed: int, speed: float, options: tuple[str, ...],
            use_pty: bool, link: Path | None, port_url: str | None) -> None:
    """Play a device's side of its protocol with simulated values (for developers and tests).

    Prints the port on the first line, then talks until Ctrl-C.
    """
    from devices.emulator import Emulator

    if use_pty == (port_url is not None):
        fail("give exactly one of --pty or --port URL")
    pairs = dict(o.partition("=")[::2] for o in options)
    with expected_failures():
        emulator = Emulator(protocol, scenario=scenario, seed=seed, speed=speed,
                            options=pairs, link=link, port=port_url)
    click.echo(emulator.port)
    sys.stdout.flush()
    stop = stop_on_signals()
    emulator.start()
    try:
        while not stop.is_set() and emulator.thread and emulator.thread.is_alive():
            stop.wait(0.5)
    finally:
        emulator.stop()
        click.echo(f"{protocol} emulator: {emulator.bytes_out} bytes sent, "
                   f"{emulator.bytes_in} received", err=True)


for command in (import_, replay, export, sessions, users):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
