"""The plain HTML pages of sign-in and user administration (no script needed).

Every value placed in the page goes through ``markupsafe.escape``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from flask import Response
from markupsafe import Markup

from monitor.access import Role
from monitor.store.users import MIN_PASSWORD_LENGTH, User
from monitor.web.views import SECONDARY_DISPLAY


def _document(title: str, body: Markup | str, status: int = 200) -> Response:
    html = Markup(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>{title} · Infusion Monitor</title>'
        '<link rel="stylesheet" href="/assets/style.css"></head><body>'
        '<div class="banner"><a class="brand" href="/">Infusion Monitor</a>'
        '<span class="secondary-note">{note}</span></div>'
        '<main class="auth-page">{body}</main></body></html>'
    ).format(title=title, note=SECONDARY_DISPLAY, body=body)
    return Response(str(html), status, mimetype="text/html",
                    headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                             "Content-Security-Policy": "default-src 'self'"})


def sign_in_form(csrf: str, target: str, *, error: str | None, status: int = 200) -> Response:
    message = Markup('<p class="auth-error" role="alert">{}</p>').format(error) if error else ""
    body = Markup(
        '<h1>Sign in</h1>{message}'
        '<form method="post" action="/login" class="auth-form">'
        '<input type="hidden" name="csrf" value="{csrf}">'
        '<input type="hidden" name="next" value="{target}">'
        '<label>Name <input name="name" autocomplete="username" required autofocus></label>'
        '<label>Password <input name="password" type="password" '
        'autocomplete="current-password" required></label>'
        '<button type="submit">Sign in</button></form>'
    ).format(message=message, csrf=csrf, target=target)
    return _document("Sign in", body, status)


def _role_select(name: str, current: Role | None) -> Markup:
    options = Markup("").join(
        Markup('<option value="{v}"{sel}>{v}</option>').format(
            v=str(role), sel=Markup(" selected") if role == current else "")
        for role in Role)
    return Markup('<select name="{}">{}</select>').format(name, options)


def users_page(accounts: Sequence[User], csrf: str, *, me: str,
               message: str | None = None, error: str | None = None,
               status: int = 200) -> Response:
    """Accounts with their roles, and the forms that change them."""
    rows = Markup("").join(_user_row(u, csrf, me) for u in accounts)
    notice = ""
    if message:
        notice = Markup('<p class="auth-note" role="status">{}</p>').format(message)
    if error:
        notice = Markup('<p class="auth-error" role="alert">{}</p>').format(error)
    body = Markup(
        '<h1>User accounts</h1>{notice}'
        '<table class="users"><thead><tr><th>Name</th><th>Role</th><th>State</th>'
        '<th>Last sign-in</th><th>Change</th></tr></thead><tbody>{rows}</tbody></table>'
        '<h2>Add an account</h2>'
        '<form method="post" action="/admin/users" class="auth-form">'
        '<input type="hidden" name="csrf" value="{csrf}">'
        '<input type="hidden" name="op" value="add">'
        '<label>Name <input name="name" required></label>'
        '<label>Role {role}</label>'
        '<label>Password (at least {n} characters) <input name="password" type="password" '
        'autocomplete="new-password" required></label>'
        '<button type="submit">Add</button></form>'
        '<p><a href="/">Back to the chairs</a></p>'
    ).format(notice=notice, rows=rows, csrf=csrf, role=_role_select("role", Role.NURSE),
             n=MIN_PASSWORD_LENGTH)
    return _document("User accounts", body, status)


def _user_row(u: User, csrf: str, me: str) -> Markup:
    last = (datetime.fromtimestamp(u.last_login).strftime("%Y-%m-%d %H:%M")
            if u.last_login else "never")
    hidden = Markup('<input type="hidden" name="csrf" value="{}">'
                    '<input type="hidden" name="name" value="{}">').format(csrf, u.name)
    toggle = "enable" if u.disabled else "disable"
    forms = Markup(
        '<form method="post" action="/admin/users">{h}<input type="hidden" name="op" '
        'value="role">{select}<button type="submit">Set role</button></form>'
        '<form method="post" action="/admin/users">{h}<input type="hidden" name="op" '
        'value="{toggle}"><button type="submit">{toggle_label}</button></form>'
        '<form method="post" action="/admin/users">{h}<input type="hidden" name="op" '
        'value="password"><input name="password" type="password" autocomplete="new-password" '
        'placeholder="new password"><button type="submit">Set password</button></form>'
    ).format(h=hidden, select=_role_select("role", u.role), toggle=toggle,
             toggle_label=toggle.capitalize())
    you = " (you)" if u.name.casefold() == me.casefold() else ""
    return Markup('<tr data-user="{name}"><td>{name}{you}</td><td>{role}</td><td>{state}</td>'
                  '<td>{last}</td><td class="user-forms">{forms}</td></tr>').format(
        name=u.name, you=you, role=str(u.role), state="disabled" if u.disabled else "active",
        last=last, forms=forms)

