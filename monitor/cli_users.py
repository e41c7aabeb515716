"""``infusion-monitor users``: the dashboard's accounts, kept in the store.

Whoever can run this has the store file, and so everything in it; the
changes are audited as ``cli:<login name>``.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from monitor.cli_common import db_option, expected_failures, fail

if TYPE_CHECKING:
    from monitor.store import Store

T = TypeVar("T")


def _by() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # a container user with no passwd entry
        return "cli"


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


def _store(db: Path) -> Store:
    from monitor.store import Store

    if not db.exists():
        fail(f"{db}: no such database")
    return Store(db)


def _apply(fn: Callable[[], T]) -> T:
    """Run a change, its expected failures as one line and exit status 2."""
    from monitor.store.users import UserError

    with expected_failures():
        try:
            return fn()
        except (UserError, ValueError) as exc:
            fail(str(exc))


@click.group("users")
def users() -> None:
    """User accounts for the dashboard: sign-in and roles (nurse, clinician, admin).

    Once any account exists the dashboard asks everyone to sign in; listening
    on an address other than 127.0.0.1 needs accounts.
    """


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["nurse", "clinician", "admin"]))
@db_option(must_exist=False)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input "
              "(one line) instead of asking twice.")
def add(name: str, role: str, db: Path, password_stdin: bool) -> None:
    """Add an account."""
    from monitor.access import Role
    from monitor.store import Store
    from monitor.store.users import add_user

    password = _password(password_stdin)
    with expected_failures():
        store = Store(db)
    added = _apply(lambda: add_user(store, name, Role.parse(role), password, by=_by()))
    click.echo(f"added {added.name} ({added.role})")


@users.command("list")
@db_option(must_exist=True)
def list_(db: Path) -> None:
    """The accounts, their roles and last sign-in."""
    from monitor.store.users import users as all_users

    accounts = _apply(lambda: all_users(_store(db)))
    if not accounts:
        click.echo("no accounts: the dashboard is open on 127.0.0.1 only")
    for u in accounts:
        last = datetime.fromtimestamp(u.last_login).isoformat(" ", "seconds") \
            if u.last_login else "never"
        click.echo(f"{u.name:24} {u.role!s:10} {'disabled' if u.disabled else 'active':9} "
                   f"last sign-in {last}")


@users.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(["nurse", "clinician", "admin"]))
@db_option(must_exist=True)
def role(name: str, role: str, db: Path) -> None:
    """Change an account's role (signs it out everywhere)."""
    from monitor.access import Role
    from monitor.store.users import change_user

    changed = _apply(lambda: change_user(_store(db), name, by=_by(), role=Role.parse(role)))
    click.echo(f"{changed.name} is now {changed.role}")


@users.command("passwd")
@click.argument("name")
@db_option(must_exist=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def passwd(name: str, db: Path, password_stdin: bool) -> None:
    """Set an account's password (signs it out everywhere)."""
    from monitor.store.users import change_user

    password = _password(password_stdin)
    changed = _apply(lambda: change_user(_store(db), name, by=_by(), password=password))
    click.echo(f"new password set for {changed.name}")


@users.command("disable")
@click.argument("name")
@db_option(must_exist=True)
def disable(name: str, db: Path) -> None:
    """Stop an account signing in (and sign it out now)."""
    from monitor.store.users import change_user

    changed = _apply(lambda: change_user(_store(db), name, by=_by(), disabled=True))
    click.echo(f"{changed.name} disabled")


@users.command("enable")
@click.argument("name")
@db_option(must_exist=True)
def enable(name: str, db: Path) -> None:
    """Let a disabled account sign in again."""
    from monitor.store.users import change_user

    changed = _apply(lambda: change_user(_store(db), name, by=_by(), disabled=False))
    click.echo(f"{changed.name} enabled")


@users.command("log")
@db_option(must_exist=True)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1))
def log(db: Path, limit: int) -> None:
    """Sign-ins, refusals and account changes, newest last."""
    import json

    def rows() -> list[tuple[int, str, str, str]]:
        return _store(db)._execute(
            "SELECT time, user, action, data FROM (SELECT * FROM audit WHERE session_id IS NULL "
            "ORDER BY time DESC, id DESC LIMIT ?) ORDER BY time, id", (limit,)).fetchall()

    for time_ms, user, action, data in _apply(rows):
        when = datetime.fromtimestamp(time_ms / 1000).isoformat(" ", "seconds")
        details = ", ".join(f"{k}={v}" for k, v in json.loads(data).items())
        click.echo(f"{when}  {user:20} {action:16} {details}")
