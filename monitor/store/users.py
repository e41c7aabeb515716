"""User accounts in the store: argon2id password hashes, roles, sign-in checks.

Passwords are hashed with argon2-cffi's defaults (argon2id, RFC 9106 low-memory
parameters, a random salt per hash); a hash made under older parameters is
replaced at the next successful sign-in. Every change and every sign-in,
failed or not, is written to the audit table without a session.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from monitor.access import Role
from monitor.store.records import to_ms
from monitor.store.store import Store

MIN_PASSWORD_LENGTH = 10
# Failed sign-ins for one name within the window before it is refused for a while.
MAX_FAILURES = 5
FAILURE_WINDOW_S = 300.0

_hasher = PasswordHasher()
# Verified against when the name is unknown, so both cases take as long.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class UserError(ValueError):
    """A user change that cannot be made (unknown name, weak password, ...)."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    disabled: bool
    created_at: float
    changed_at: float
    last_login: float | None
    sessions_before: float   # browser sessions signed in before this are void


_COLUMNS = "id, name, role, disabled, created_at, changed_at, last_login, sessions_before"


def _user(row: tuple) -> User:
    return User(row[0], row[1], Role.parse(row[2]), bool(row[3]), row[4] / 1000,
                row[5] / 1000, None if row[6] is None else row[6] / 1000, row[7] / 1000)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip() != password or not password.isprintable():
        raise UserError("a password may not start or end with spaces or hold control "
                        "characters")


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64 or not all(c.isalnum() or c in "._-@" for c in name):
        raise UserError(f"user name {name!r}: use 1 to 64 letters, digits and . _ - @")
    return name


def users(store: Store) -> list[User]:
    rows = store._execute(f"SELECT {_COLUMNS} FROM users ORDER BY name").fetchall()
    return [_user(r) for r in rows]


def user(store: Store, name_or_id: str | int) -> User | None:
    column = "id" if isinstance(name_or_id, int) else "name"
    row = store._execute(f"SELECT {_COLUMNS} FROM users WHERE {column} = ?",
                         (name_or_id,)).fetchone()
    return None if row is None else _user(row)


def accounts_exist(store: Store) -> bool:
    """Whether any enabled account exists (then the dashboard needs sign-in)."""
    return store._execute("SELECT 1 FROM users WHERE NOT disabled LIMIT 1").fetchone() is not None


def add_user(store: Store, name: str, role: Role, password: str, *, by: str) -> User:
    name = _check_name(name)
    check_password(password)
    now = time.time()
    with store.transaction():
        if user(store, name) is not None:
            raise UserError(f"user {name!r} exists already")
        store._execute("INSERT INTO users (name, role, password_hash, created_at, changed_at) "
                       "VALUES (?, ?, ?, ?, ?)",
                       (name, str(role), _hasher.hash(password), to_ms(now), to_ms(now)))
        store.add_audit(None, now, by, "user_added", {"user": name, "role": str(role)})
    return _existing(store, name)


def change_user(store: Store, name: str, *, by: str, role: Role | None = None,
                password: str | None = None, disabled: bool | None = None) -> User:
    """Change a role, a password or whether the account may sign in.

    Any change signs the user out of every browser.
    """
    existing = _existing(store, name)
    now = time.time()
    sets, args, what = [], [], {}
    if role is not None:
        sets.append("role = ?")
        args.append(str(role))
        what["role"] = str(role)
    if password is not None:
        check_password(password)
        sets.append("password_hash = ?")
        args.append(_hasher.hash(password))
        what["password"] = "changed"
    if disabled is not None:
        sets.append("disabled = ?")
        args.append(int(disabled))
        what["disabled"] = disabled
    if not sets:
        return existing
    demoted = (role is not None and role != Role.ADMIN) or disabled is True
    if demoted and existing.role == Role.ADMIN and not existing.disabled and _admins(store) == 1:
        raise UserError(f"{existing.name} is the last admin; make another admin first")
    with store.transaction():
        store._execute(f"UPDATE users SET {', '.join(sets)}, changed_at = ?, "
                       "sessions_before = ? WHERE id = ?",
                       (*args, to_ms(now), to_ms(now), existing.id))
        store.add_audit(None, now, by, "user_changed", {"user": existing.name, **what})
    return _existing(store, name)


def _admins(store: Store) -> int:
    row = store._execute("SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled")
    return int(row.fetchone()[0])


def _existing(store: Store, name: str) -> User:
    found = user(store, name.strip())
    if found is None:
        raise UserError(f"no user {name!r}")
    return found


def sign_in(store: Store, name: str, password: str, *, remote: str = "") -> User | None:
    """The user if `password` is theirs and they may sign in now; audited either way.

    Unknown names, wrong passwords, disabled accounts and names locked after
    repeated failures all return None (and take the same time), so the
    answer does not tell a guesser which names exist.
    """
    now = time.time()
    name = name.strip()[:64]
    row = store._execute("SELECT id, password_hash, disabled FROM users WHERE name = ?",
                         (name,)).fetchone()
    ok = False
    try:
        ok = _hasher.verify(row[1] if row else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    locked = _recent_failures(store, name, now) >= MAX_FAILURES
    if not ok or row is None or row[2] or locked:
        reason = ("locked after repeated failures" if locked and ok else
                  "unknown user" if row is None else "disabled" if row[2] else
                  "locked after repeated failures" if locked else "wrong password")
        store.add_audit(None, now, name or "?", "sign_in_failed",
                        {"reason": reason, "remote": remote})
        return None
    with store.transaction():
        if _hasher.check_needs_rehash(row[1]):
            store._execute("UPDATE users SET password_hash = ? WHERE id = ?",
                           (_hasher.hash(password), row[0]))
        store._execute("UPDATE users SET last_login = ? WHERE id = ?", (to_ms(now), row[0]))
        store.add_audit(None, now, name, "sign_in", {"remote": remote})
    return user(store, int(row[0]))


def sign_out(store: Store, name: str) -> None:
    """Void every browser session of `name` signed in until now (audited)."""
    now = time.time()
    with store.transaction():
        store._execute("UPDATE users SET sessions_before = ? WHERE name = ?", (to_ms(now), name))
        store.add_audit(None, now, name, "sign_out", {})


def _recent_failures(store: Store, name: str, now: float) -> int:
    """Failures since the window opened and since the last success."""
    since = to_ms(now - FAILURE_WINDOW_S)
    last_ok = store._execute("SELECT max(time) FROM audit WHERE session_id IS NULL AND "
                             "user = ? AND action = 'sign_in'", (name,)).fetchone()[0]
    row = store._execute("SELECT count(*) FROM audit WHERE session_id IS NULL AND user = ? "
                         "AND action = 'sign_in_failed' AND time >= ?",
                         (name, max(since, last_ok or 0))).fetchone()
    return int(row[0])


def web_secret(store: Store) -> bytes:
    """The key that signs browser sessions; made once, shared by every server process."""
    row = store._execute("SELECT key FROM web_secret WHERE id = 1").fetchone()
    if row is not None:
        return bytes(row[0])
    with store.transaction():
        store._execute("INSERT OR IGNORE INTO web_secret (id, key) VALUES (1, ?)",
                       (secrets.token_bytes(32),))
    return bytes(store._execute("SELECT key FROM web_secret WHERE id = 1").fetchone()[0])
