"""Response headers every page carries, and the idle-session rule."""

from __future__ import annotations

from flask import Flask, Response, session

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def init_app(app: Flask) -> None:
    """Attach the security headers and the session refresh to every response."""
    hsts = app.config["SESSION_COOKIE_SECURE"]

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        # The inline document preview sets its own (SAMEORIGIN) for old browsers.
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if hsts:
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if response.status_code == 304:
            # A static file answered "not modified" is opened but never sent, and werkzeug's
            # empty 304 body never closes it: close it now rather than at garbage collection.
            response.close()
        return response

    @app.before_request
    def _idle_expiry() -> None:
        # A permanent session is re-issued on each request, so it expires after idle time.
        session.permanent = True
