"""Where the login's failure counters live, chosen once from RATELIMIT_STORAGE_URI.

Redis when the rate limits use it (every web process shares it, as Flask-Limiter's own
counters); the database otherwise, so that failed logins count across every process even
without Redis. Flask-Limiter's other limits (sign-up, reset requests, second-factor codes)
then count per process, which the start-up log says.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, request

from accounts.throttle import DatabaseFailureStore, LoginThrottle, RedisFailureStore, uses_redis
from web.runtime import db, runtime

EXTENSION_KEY = "login_throttle"
log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Open the Redis store when configured; without one, logins count in the database."""
    settings = runtime(app).settings
    store: RedisFailureStore | None = None
    if uses_redis(settings.ratelimit_storage_uri):
        prefix = f"{settings.ratelimit_key_prefix}:login:"
        store = RedisFailureStore.from_url(settings.ratelimit_storage_uri, prefix)
    else:
        # Not silent: with several processes, the other limits are each process's own.
        log.log(
            logging.WARNING if settings.is_production else logging.INFO,
            "failed logins are counted in the database; the other rate limits count per "
            "process: set RATELIMIT_STORAGE_URI=redis://... to share them between processes",
        )
    app.extensions[EXTENSION_KEY] = store


def login_throttle() -> LoginThrottle:
    """The login throttle of the current app, on its Redis store or the request's session."""
    store = current_app.extensions[EXTENSION_KEY] or DatabaseFailureStore(db())
    return LoginThrottle(store, runtime().clock, secret=str(current_app.config["SECRET_KEY"]))


def client_address() -> str:
    """The client's address (the proxy's X-Forwarded-For is read by ProxyFix when trusted)."""
    return request.remote_addr or ""
