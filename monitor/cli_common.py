"""What the command-line modules share: failures as one line and exit 2,
common options, and running the dashboard with or without a recorder."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TextIO

import click

from devices.spec import SpecError

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


def db_option(must_exist: bool) -> Callable[[Any], Any]:
    return click.option(
        "--db", "db", required=True, type=click.Path(dir_okay=True, path_type=Path),
        help="SQLite store file." + (" Must exist." if must_exist else " Created if missing."))


def profile_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--profile", default=None, metavar="FILE",
        help="Alarm profile: a clinic TOML file merged over the shipped ketamine-adult "
             "profile (default: ketamine-adult as shipped).")(fn)


def load_profile(profile: str | None) -> Any:
    from monitor.rules import load_profile as load

    return load(profile)


def server_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--port", default=8050, show_default=True, type=click.IntRange(1, 65535),
                      help="TCP port of the dashboard.")(fn)
    fn = click.option("--host", default="127.0.0.1", show_default=True,
                      help="Address to listen on. Only 127.0.0.1 is safe without "
                           "authentication.")(fn)
    return fn


def stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def sign_in_policy(db: Path, host: str) -> tuple[bool, str]:
    """Whether the dashboard on `host` must ask for sign-in, and the line that says so.

    Refuses (exit 2) a non-loopback address when the store has no accounts.
    """
    from monitor.access import is_loopback
    from monitor.store import Store
    from monitor.store.users import accounts_exist

    with expected_failures(), Store(db) as store:
        accounts = accounts_exist(store)
    if is_loopback(host):
        return False, ("Sign-in: required (the store has user accounts)" if accounts else
                       "Sign-in: open (no user accounts; this computer only)")
    if not accounts:
        fail(f"listening on {host} lets other computers reach the dashboard, so it needs "
             f"user accounts; create an admin first: infusion-monitor users add NAME "
             f"--role admin --db {db}")
    return True, f"Sign-in: required (listening on {host})"


def serve_with(recorder: Any, db: Path, host: str, port: int, what: str,
                path: str = "/", *, secure_cookies: bool = False) -> None:
    from monitor.service import start_server
    from monitor.web.app import create_app

    required, sign_in_line = sign_in_policy(db, host)
    stop = stop_on_signals()
    if recorder is not None:
        recorder.start()
    try:
        with expected_failures():
            if recorder is not None:
                recorder.writer.flush()  # the store exists before the app opens it
            app = create_app(db, require_sign_in=required, secure_cookies=secure_cookies)
        try:
            start_server(app.server, host, port)
        except OSError as exc:
            fail(f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                 "choose another --port or stop the program using it")
        click.echo(f"{what}\nDashboard: http://{host}:{port}{path}   (Ctrl-C to stop)\n"
                   f"{sign_in_line}\n{SAFETY_NOTE}")
        while not stop.is_set():
            stop.wait(0.5)
    finally:
        if recorder is not None:
            recorder.stop()


# -- files --------------------------------------------------------------------------
