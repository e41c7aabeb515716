"""``infusion-monitor``: the command line (DESIGN.md, "Command line").

Thin on purpose: each command parses its options, calls the module that does
the work, and turns expected failures into one line and exit status 2.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO

import click

from devices.spec import SpecError

log = logging.getLogger("infusion-monitor")

# Shown at every start of a screen; the README says the same.
SAFETY_NOTE = ("Secondary display and session record: the bedside monitor is the primary "
               "alarm device. Not a diagnostic device.")


class UsageFailure(click.ClickException):
    """An expected failure (bad input, bad file, busy port): one line, exit status 2."""

    exit_code = 2

    def show(self, file: TextIO | None = None) -> None:
        click.echo(f"infusion-monitor: error: {self.format_message()}", err=True, file=file)


@contextmanager
def expected_failures() -> Iterator[None]:
    """Turn the errors a user can cause into one clear line and exit status 2."""
    from devices.adapter import DeviceError
    from devices.csv_format import RecordingError
    from monitor.config import ConfigError
    from monitor.rules import ProfileError
    from monitor.store import StoreError

    try:
        yield
    except (SpecError, RecordingError, StoreError, ConfigError, DeviceError,
            ProfileError) as exc:
        raise UsageFailure(str(exc)) from None


def fail(message: str) -> NoReturn:
    raise UsageFailure(message)


def _db_option(must_exist: bool) -> Callable[[Any], Any]:
    return click.option(
        "--db", "db", required=True, type=click.Path(dir_okay=True, path_type=Path),
        help="SQLite store file." + (" Must exist." if must_exist else " Created if missing."))


def _profile_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--profile", default=None, metavar="FILE",
        help="Alarm profile: a clinic TOML file merged over the shipped ketamine-adult "
             "profile (default: ketamine-adult as shipped).")(fn)


def load_profile(profile: str | None) -> Any:
    from monitor.rules import load_profile as load

    return load(profile)


def _server_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--port", default=8050, show_default=True, type=click.IntRange(1, 65535),
                      help="TCP port of the dashboard.")(fn)
    fn = click.option("--host", default="127.0.0.1", show_default=True,
                      help="Address to listen on. Only 127.0.0.1 is safe without "
                           "authentication.")(fn)
    return fn


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
@_profile_option
@_server_options
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
    _serve_with(recorder, db, host, port,
                f"Demo: {chairs} SIMULATED chairs at {speed:g}x, store {db}")


@main.command()
@click.option("--config", "config_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="Clinic TOML file.")
@click.option("--host", default=None, help="Override [server] host.")
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="Override [server] port.")
def run(config_path: Path, host: str | None, port: int | None) -> None:
    """A clinic: the chairs of a TOML file, their devices, the store, the dashboard."""
    from devices.registry import open_adapter
    from monitor.config import load_settings
    from monitor.service import Recorder

    with expected_failures():
        settings = load_settings(config_path)
        if not settings.chairs:
            fail(f"{config_path}: no [[chairs]]; add at least one chair with a device")
        adapters = [(c, open_adapter(c.device), load_profile(c.profile or settings.rules.profile))
                    for c in settings.chairs]
        recorder = Recorder(settings.store.path, settings.acquisition,
                            settings.store.commit_interval)
    for chair, adapter, alarm_profile in adapters:
        recorder.add_chair(chair.name, adapter, profile=alarm_profile)
    _serve_with(recorder, settings.store.path, host or settings.server.host,
                port or settings.server.port,
                f"{len(adapters)} chairs, store {settings.store.path}")


@main.command()
@click.option("--device", "device", required=True,
              help="Device spec, e.g. sim:?scenario=typical&speed=600 or masimo:/dev/ttyUSB0.")
@_db_option(must_exist=False)
@click.option("--chair", default="1", show_default=True, help="Chair name.")
@click.option("--duration", default=None, type=click.FloatRange(min=0),
              help="Stop after this many wall-clock seconds (default: until the source ends "
                   "or Ctrl-C).")
@click.option("--raw-capture", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also keep every byte received in this file (serial devices), with a "
                   ".times index beside it; 'import FILE --protocol P' decodes it later.")
@_profile_option
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
    stop = _stop_on_signals()
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
@_db_option(must_exist=True)
@_server_options
def serve(db: Path, host: str, port: int) -> None:
    """The dashboard alone, over an existing store (acquisition runs elsewhere)."""
    if not db.exists():
        fail(f"{db}: no such database; record or import a session first")
    _serve_with(None, db, host, port, f"store {db}")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _serve_with(recorder: Any, db: Path, host: str, port: int, what: str) -> None:
    from monitor.service import start_server
    from monitor.web.app import create_app

    stop = _stop_on_signals()
    if recorder is not None:
        recorder.start()
    try:
        with expected_failures():
            if recorder is not None:
                recorder.writer.flush()  # the store exists before the app opens it
            app = create_app(db)
        try:
            start_server(app.server, host, port)
        except OSError as exc:
            fail(f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                 "choose another --port or stop the program using it")
        click.echo(f"{what}\nDashboard: http://{host}:{port}/   (Ctrl-C to stop)\n{SAFETY_NOTE}")
        while not stop.is_set():
            stop.wait(0.5)
    finally:
        if recorder is not None:
            recorder.stop()


# -- files --------------------------------------------------------------------------

@main.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@_db_option(must_exist=False)
@click.option("--chair", default="import", show_default=True, help="Chair name for the session.")
@click.option("--tz", default=None, help="Time zone of times written without an offset "
              "(IANA name, e.g. Europe/Berlin; default UTC).")
@click.option("--date-order", "date_order", default="auto", show_default=True,
              type=click.Choice(["auto", "mdy", "dmy"]),
              help="Day/month order of dates like 05/08/2016 in a CSV: mdy, dmy, or auto "
                   "(chosen per file; a note says when the file reads either way).")
@click.option("--protocol", default=None,
              help="FILE is a raw serial capture of this protocol (masimo, nonin, intellivue, "
                   "datex): decode it through the device's own codec.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Protocol option for --protocol, e.g. format=7 for nonin (repeatable).")
@_profile_option
def import_(file: Path, db: Path, chair: str, tz: str | None, date_order: str,
            protocol: str | None, options: tuple[str, ...], profile: str | None) -> None:
    """Import a recording as a new session: a CSV (long or wide format, e.g. a
    VSCapture export), a WFDB numerics record (its .hea), or, with --protocol,
    a raw serial capture.

    Prints the session id and the readings kept and rows (or frames) rejected.
    For a CSV, exit status 2 when any row was rejected (the good rows are
    kept); always 2 when nothing could be read.
    """
    from monitor.importer import read_file, store_recording
    from monitor.store import Store

    if protocol is not None:
        _import_capture(file, db, chair, protocol, options, tz, profile)
        return

    with expected_failures():
        # Read the file before opening the store: a bad file must not leave
        # even an empty database behind.
        recording = read_file(file, tz=tz, date_order=date_order)  # type: ignore[arg-type]
        with Store(db) as store:
            result = store_recording(store, file, recording, chair=chair,
                                     profile=load_profile(profile))
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    shown = result.problems[:MAX_PROBLEMS_SHOWN]
    for problem in shown:
        click.echo(str(problem), err=True)
    if len(result.problems) > len(shown):
        click.echo(f"... and {len(result.problems) - len(shown)} more rejected rows; all are "
                   "kept as bad_row events in the session (export --format json)", err=True)
    if result.session_id is None:
        fail(f"{file}: no readable rows ({len(result.problems)} rejected); nothing imported")
    click.echo(f"session {result.session_id}: {result.kept} readings kept, "
               f"{len(result.problems)} rows rejected")
    if result.problems:
        sys.exit(2)


MAX_PROBLEMS_SHOWN = 50


def _import_capture(file: Path, db: Path, chair: str, protocol: str,
                    options: tuple[str, ...], tz: str | None, profile: str | None) -> None:
    from devices.capture import decode_capture
    from monitor.importer import store_capture
    from monitor.store import Store

    pairs = dict(o.partition("=")[::2] for o in options)
    if tz:
        pairs["tz"] = tz
    with expected_failures():
        result = decode_capture(file, protocol, options=pairs)
        with Store(db) as store:
            stored = store_capture(store, file, result, protocol=protocol, chair=chair,
                                   profile=load_profile(profile))
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    stats = result.stats
    rejected = ", ".join(f"{reason}: {n}" for reason, n in sorted(stats.rejected.items()))
    detail = f" ({rejected})" if rejected else ""
    click.echo(f"{file}: {result.bytes_read} bytes, {stats.frames_ok} frames ok, "
               f"{sum(stats.rejected.values())} rejected{detail}")
    if stored.session_id is None:
        fail(f"{file}: no readings decoded as {protocol}; is it the right --protocol?")
    click.echo(f"session {stored.session_id}: {stored.kept} readings kept")


@main.command()
@click.argument("session")
@_db_option(must_exist=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "html"]), required=True,
              help="csv: the long format (round-trips with import); json: the whole session; "
                   "html: a printable report (one self-contained file).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of standard output.")
def export(session: str, db: Path, fmt: str, output: Path | None) -> None:
    """Write a session (an id, or 'latest') as CSV, JSON or an HTML report."""
    from monitor.export import export_csv, export_json
    from monitor.review import export_html
    from monitor.store import Store

    if not db.exists():
        fail(f"{db}: no such database")
    with expected_failures(), Store(db) as store:
        record = store.session(session)
        writer = {"csv": export_csv, "json": export_json, "html": export_html}[fmt]
        if output is None:
            writer(store, record.id, sys.stdout)
        else:
            with open(output, "w", encoding="utf-8", newline="") as out:
                writer(store, record.id, out)


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
    stop = _stop_on_signals()
    emulator.start()
    try:
        while not stop.is_set() and emulator.thread and emulator.thread.is_alive():
            stop.wait(0.5)
    finally:
        emulator.stop()
        click.echo(f"{protocol} emulator: {emulator.bytes_out} bytes sent, "
                   f"{emulator.bytes_in} received", err=True)


@main.command()
@_db_option(must_exist=True)
def sessions(db: Path) -> None:
    """List the sessions in a store."""
    from monitor.store import Store

    if not db.exists():
        fail(f"{db}: no such database")
    with expected_failures(), Store(db) as store:
        records = store.sessions()
        if not records:
            click.echo("no sessions")
            return
        click.echo(f"{'id':>4}  {'chair':<8} {'kind':<9} {'started':<19}  {'duration':>8}  "
                   f"{'readings':>8}  device")
        for s in records:
            end = s.ended_at if s.ended_at is not None else time.time()
            minutes = (end - s.started_at) / 60
            state = "" if s.ended_at is not None else " (open)"
            started = datetime.fromtimestamp(s.started_at).strftime("%Y-%m-%d %H:%M:%S")
            click.echo(f"{s.id:>4}  {s.chair:<8} {s.source_kind:<9} {started:<19}  "
                       f"{minutes:>6.1f} m  {store.reading_count(s.id):>8}  {s.device}{state}")


if __name__ == "__main__":  # pragma: no cover
    main()
