"""Sign-in for the dashboard: the gate in front of every request, and who is acting.

The rules (which role may do what, when sign-in is needed) live in
:mod:`monitor.access`; accounts and password checks in
:mod:`monitor.store.users`. This module is the Flask side: a signed session
cookie (HttpOnly, SameSite=Strict, signed with a key kept in the store so
every server process and restart accepts it), the sign-in and sign-out
forms, and a ``before_request`` gate that answers 401 to the dashboard's
own requests and sends pages to the sign-in form.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, g, redirect, request, session
from markupsafe import escape

from monitor.access import Actor, refusal
from monitor.store.users import accounts_exist, sign_in, sign_out, user, web_secret
from monitor.web import auth_pages

# A signed-in browser stays signed in for one long shift, however busy.
MAX_SIGNED_IN_S = 12 * 3600
# Paths anyone may fetch: the sign-in form and what a page needs to load.
PUBLIC_PATHS = frozenset({"/login", "/logout", "/auth/status", "/_favicon.ico"})
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/")
# Dashboard components whose callbacks show the review (clinicians).
REVIEW_OUTPUTS = ("review-", "sessions-")


def install(server: Flask, reader: Any, *, required: bool, secure_cookies: bool = False) -> None:
    """Put the gate and the sign-in routes on the dashboard's Flask server.

    Parameters
    ----------
    required : bool
        Sign-in even with no accounts in the store (a non-loopback address;
        the CLI refuses to start there without accounts).
    secure_cookies : bool
        Mark the cookie Secure (when the dashboard is reached over HTTPS
        through a proxy).
    """
    server.secret_key = web_secret(reader.get())
    server.config.update(
        SESSION_COOKIE_NAME="infusion_monitor_session", SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_SECURE=secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=MAX_SIGNED_IN_S))

    def sign_in_needed() -> bool:
        return required or accounts_exist(reader.get())

    @server.before_request
    def gate() -> Any:
        g.actor = None
        g.sign_in_needed = False
        path = request.path
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return None
        if not sign_in_needed():
            return None  # open mode: names are typed on the screen
        g.sign_in_needed = True
        actor = signed_in_actor(reader)
        if actor is None:
            if path.startswith("/_dash-") or request.method != "GET":
                return Response(json.dumps({"error": "sign in first"}), 401,
                                mimetype="application/json")
            return redirect(f"/login?next={quote(path)}")
        g.actor = actor
        need = _permission_for(path)
        why = refusal(actor, need) if need else None
        if why is not None:
            reader.get().add_audit(None, time.time(), actor.name, "refused",
                                   {"action": need, "path": path})
            return Response(f"Not allowed: {escape(why)}", 403, mimetype="text/plain")
        return None

    @server.route("/auth/status")
    def status() -> Response:
        actor = signed_in_actor(reader) if sign_in_needed() else None
        return Response(json.dumps({"required": sign_in_needed(), "signed_in": actor is not None,
                                    "user": actor.name if actor else None}),
                        mimetype="application/json")

    @server.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        target = _safe_next(request.values.get("next", "/"))
        if request.method == "GET":
            return auth_pages.sign_in_form(csrf_token(), target, error=None)
        if not csrf_ok():
            return auth_pages.sign_in_form(csrf_token(), target, status=400,
                                           error="The form expired; try again.")
        found = sign_in(reader.get(), request.form.get("name", ""),
                        request.form.get("password", ""), remote=request.remote_addr or "")
        if found is None:
            return auth_pages.sign_in_form(csrf_token(), target, status=401,
                                           error="Wrong name or password (or the account is "
                                                 "locked for a few minutes after repeated "
                                                 "failures).")
        session.clear()  # a new session id: nothing carried over from before sign-in
        session.permanent = True
        session.update(uid=found.id, since=time.time(), csrf=secrets.token_urlsafe(24))
        return redirect(target)

    @server.route("/logout", methods=["POST"])
    def logout() -> Any:
        actor = signed_in_actor(reader)
        if csrf_ok() and actor is not None:
            sign_out(reader.get(), actor.name)
            session.clear()
        return redirect("/login")


def signed_in_actor(reader: Any) -> Actor | None:
    """The account this browser signed in as, if it still may act."""
    uid = session.get("uid")
    if uid is None:
        return None
    found = user(reader.get(), int(uid))
    since = float(session.get("since", 0))
    if (found is None or found.disabled or since < found.sessions_before
            or time.time() - since > MAX_SIGNED_IN_S):
        session.clear()  # disabled, changed, signed out elsewhere, or the shift is over
        return None
    return Actor(found.name, found.role)


def acting(typed_name: str | None) -> Actor | None:
    """Who a click in a Dash callback comes from.

    Signed in: that account, whatever the page sent. Open mode: the name
    typed in the banner (roles not checked), or nobody.
    """
    if getattr(g, "sign_in_needed", False):
        return getattr(g, "actor", None)
    name = (typed_name or "").strip()
    return Actor(name, None) if name else None


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(24)
    return str(token)


def csrf_ok() -> bool:
    sent, kept = request.form.get("csrf", ""), session.get("csrf", "")
    return bool(kept) and secrets.compare_digest(str(sent), str(kept))


def _safe_next(target: str) -> str:
    """Only a path on this server (never //host or a scheme) after sign-in."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _permission_for(path: str) -> str | None:
    if path.startswith("/export/"):
        return "export"
    if path.startswith("/admin"):
        return "users"
    if path == "/_dash-update-component" and request.method == "POST":
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # refused as malformed by monitor/web/envelope.py
            body = None
        output = body.get("output", "") if isinstance(body, dict) else ""
        ids = [part.lstrip(".").split(".")[0] for part in str(output).split("..")]
        if any(i.startswith(REVIEW_OUTPUTS) for i in ids):
            return "review"
    return "view"
