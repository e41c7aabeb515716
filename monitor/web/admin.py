"""User administration on the dashboard (admins only; the gate checks the role)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, request

from monitor.access import Role
from monitor.store.users import UserError, add_user, change_user, users
from monitor.web import auth_pages
from monitor.web.auth import csrf_ok, csrf_token


def register(server: Flask, reader: Any) -> None:
    @server.route("/admin/users", methods=["GET", "POST"])
    def user_accounts() -> Response:
        store = reader.get()
        me = g.actor.name if g.get("actor") else "local"
        if request.method == "GET":
            return auth_pages.users_page(users(store), csrf_token(), me=me)
        if not csrf_ok():
            return auth_pages.users_page(users(store), csrf_token(), me=me, status=400,
                                         error="The form expired; try again.")
        form = request.form
        op, name = form.get("op", ""), form.get("name", "")
        try:
            message = apply(store, op, name, form, me)
        except (UserError, ValueError) as exc:
            return auth_pages.users_page(users(store), csrf_token(), me=me, error=str(exc),
                                         status=400)
        return auth_pages.users_page(users(store), csrf_token(), me=me, message=message)


def apply(store: Any, op: str, name: str, form: Any, me: str) -> str:
    """One change from the users page; returns what to tell the admin."""
    if op == "add":
        added = add_user(store, name, Role.parse(form.get("role", "")),
                         form.get("password", ""), by=me)
        return f"Added {added.name} ({added.role})."
    if op == "role":
        changed = change_user(store, name, by=me, role=Role.parse(form.get("role", "")))
        return f"{changed.name} is now {changed.role}."
    if op in ("disable", "enable"):
        changed = change_user(store, name, by=me, disabled=op == "disable")
        return f"{changed.name} {op}d."
    if op == "password":
        changed = change_user(store, name, by=me, password=form.get("password", ""))
        return f"New password set for {changed.name}; their browsers are signed out."
    raise UserError(f"unknown change {op!r}")
