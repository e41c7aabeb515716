"""The file commands: import, replay, export, sessions."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

import click

from monitor.cli_common import (
    db_option,
    expected_failures,
    fail,
    load_profile,
    profile_option,
    serve_with,
    server_options,
)


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@db_option(must_exist=False)
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
@profile_option
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
        alarm_profile = load_profile(profile)
        with Store(db) as store:
            result = store_recording(store, file, recording, chair=chair,
                                     profile=alarm_profile)
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
        alarm_profile = load_profile(profile)  # before the store: a bad one creates nothing
        with Store(db) as store:
            stored = store_capture(store, file, result, protocol=protocol, chair=chair,
                                   profile=alarm_profile)
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


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("data/replay.db"), show_default=True,
              help="Store to import into (created if missing).")
@click.option("--speed", default=10, show_default=True, type=click.Choice(["1", "5", "10", "30",
                                                                           "60"]),
              help="Playback speed the review screen starts with.")
@click.option("--protocol", default=None, help="FILE is a raw capture of this protocol.")
@profile_option
@server_options
def replay(file: Path, db: Path, speed: str, protocol: str | None, profile: str | None,
           host: str, port: int) -> None:
    """Import a recording, then open its review screen (playback, timeline, report)."""
    from devices.capture import decode_capture
    from monitor.importer import read_file, store_capture, store_recording
    from monitor.store import Store

    db.parent.mkdir(parents=True, exist_ok=True)
    with expected_failures():
        alarm_profile = load_profile(profile)
        if protocol:
            capture = decode_capture(file, protocol)
            with Store(db) as store:
                result = store_capture(store, file, capture, protocol=protocol,
                                       profile=alarm_profile)
        else:
            recording = read_file(file)
            with Store(db) as store:
                result = store_recording(store, file, recording, profile=alarm_profile)
    if result.session_id is None:
        fail(f"{file}: nothing could be read; nothing to replay")
    click.echo(f"session {result.session_id}: {result.kept} readings"
               + (f", {len(result.problems)} rows rejected" if result.problems else ""))
    serve_with(None, db, host, port, f"Replay of {file}",
                path=f"/review/{result.session_id}?speed={speed}")


@click.command()
@click.argument("session")
@db_option(must_exist=True)
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



@click.command()
@db_option(must_exist=True)
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
