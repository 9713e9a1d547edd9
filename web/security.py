"""Response headers every page carries, and the idle-session rule."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request, session
from flask.sessions import SecureCookieSessionInterface, SessionMixin

from facturation import payments
from web.runtime import EXTENSION_KEY


def content_security_policy(
    form_targets: tuple[str, ...] = (), *, inline_styles: bool = False
) -> str:
    """The pages' policy; `form_targets` are the other origins a form may lead to (a form's
    redirect counts: FranceConnect's sign-in and sign-out pages).

    `inline_styles`: only for the procedure designer, whose form builder and decision table
    editor (form-js, dmn-js) write style attributes and elements; scripts stay 'self' only.
    """
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'" if inline_styles else "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            " ".join(["form-action 'self'", *form_targets]),
            "frame-ancestors 'none'",
        ]
    )


class PageSessionInterface(SecureCookieSessionInterface):
    """Signed-cookie sessions that static files never write back.

    A permanent session is re-issued with every response. A stylesheet or an icon requested
    by the previous page, answered after a link's redirect, would then write back the cookie
    as it was before it: the e-mailed link's token that the redirect kept in the session
    (web.auth.link_tokens) was lost, one activation in a few under load. Static files need no
    session, and now never send one.
    """

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        # Called from process_response only, inside the request.
        if request.endpoint == "static" and not session.modified:
            return False
        return super().should_set_cookie(app, session)


def _form_targets(app: Flask) -> tuple[str, ...]:
    """The other origins a form may lead to: FranceConnect's pages (signing in and out) and
    the online payment's bank (the "Payer" form's redirect)."""
    settings = app.extensions[EXTENSION_KEY].settings
    targets = []
    if settings.franceconnect:
        parts = urlsplit(settings.franceconnect_url)
        targets.append(f"{parts.scheme}://{parts.netloc}")
    bank = payments.bank_origin(settings.payment_backend)
    if bank is not None:
        targets.append(bank)
    return tuple(targets)


def init_app(app: Flask) -> None:
    """Attach the security headers and the session refresh to every response."""
    app.session_interface = PageSessionInterface()
    hsts = app.config["SESSION_COOKIE_SECURE"]
    policy = content_security_policy(_form_targets(app))

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers["X-Content-Type-Options"] = "nosniff"
        # The inline document preview sets its own (SAMEORIGIN) for old browsers.
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if hsts:
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if request.endpoint != "static":
            # Pages, documents and exports carry personal data: no browser cache, no shared
            # proxy and no back button on a shared computer may keep a copy of them.
            response.headers["Cache-Control"] = "no-store"
        if response.status_code == 304:
            # A static file answered "not modified" is opened but never sent, and werkzeug's
            # empty 304 body never closes it: close it now rather than at garbage collection.
            response.close()
        return response

    @app.before_request
    def _idle_expiry() -> None:
        # A permanent session is re-issued on each request, so it expires after idle time
        # (setting it again would mark every session modified). API clients carry a bearer
        # token, never a session: no cookie is set for them.
        if not session.permanent and not request.path.startswith("/api/"):
            session.permanent = True
