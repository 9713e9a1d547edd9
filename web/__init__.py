"""The portal on the web: the app factory wiring the spaces, the CLI, security and extensions."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Flask
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from coffre.clock import Clock
from facturation.money import euros
from procedures.operations.attestations import family_name
from web import antivirus, api, cli, errors, paiement, public, security
from web.admin import pages as admin
from web.agent import pages as agent
from web.auth import franceconnect, throttle
from web.auth import pages as auth
from web.extensions import babel, csrf, limiter, login_manager
from web.famille import pages as famille
from web.hosts import ServedHostsOnly
from web.messagerie import news as actualites
from web.messagerie import threads_agent, threads_common, threads_famille
from web.runtime import EXTENSION_KEY, build_runtime, close_db
from web.settings import Settings, load_settings
from web.uploads import PortalRequest, body_limit


class CompiledTemplates(BytecodeCache):
    """The templates' compiled code, kept for the process: an app created again (a CLI
    command, each test) loads it instead of parsing and compiling every template anew. Jinja
    checks each entry against the template's source, so an edited template is compiled again."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Flask:
    """Build the portal: configuration, extensions, blueprints and CLI commands."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.request_class = PortalRequest
    app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
    # An id in a path is a database integer: 99999999999999999999 is "not found", not a crash.
    app.url_map.converters["int"] = DatabaseId
    _configure(app, settings)
    app.extensions[EXTENSION_KEY] = build_runtime(settings, clock)
    app.teardown_appcontext(close_db)
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies
        )
    app.wsgi_app = ServedHostsOnly(app, app.wsgi_app)  # type: ignore[method-assign]
    _init_extensions(app)
    for module in (public, auth, famille, agent, admin, paiement, actualites):
        app.register_blueprint(module.bp)
    for messages in (threads_famille, threads_agent):
        app.register_blueprint(messages.bp)
    threads_common.init_app(app)
    api.init_app(app)
    franceconnect.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    antivirus.init_app(app)
    cli.init_app(app)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # SpiffWorkflow logs every task's change of state at INFO: lines nobody reads, and CPU
    # spent on each submission and step. Its warnings and errors still come through.
    logging.getLogger("spiff").setLevel(logging.WARNING)
    return app


class DatabaseId(IntegerConverter):
    """`<int:...>` in every route: at most the largest 32-bit integer, as the tables' ids."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def _configure(app: Flask, settings: Settings) -> None:
    cookie_prefix = "__Host-" if settings.secure_cookies else ""
    app.config.update(
        SECRET_KEY=settings.secret_key,
        # A request naming another host gets a 400: no page, and no link, follows a forged Host.
        TRUSTED_HOSTS=settings.served_hosts,
        TESTING=settings.env == "test",
        MAX_CONTENT_LENGTH=body_limit(settings.max_document_mb),
        SESSION_COOKIE_NAME=f"{cookie_prefix}portail_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_idle_minutes),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        RATELIMIT_KEY_PREFIX=settings.ratelimit_key_prefix,
        RATELIMIT_HEADERS_ENABLED=True,
        BABEL_DEFAULT_LOCALE="fr",
        BABEL_DEFAULT_TIMEZONE="Europe/Paris",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )


def _init_extensions(app: Flask) -> None:
    babel.init_app(app, locale_selector=lambda: "fr")
    app.add_template_filter(euros, "euros")  # integer cents, written as French amounts
    app.add_template_filter(family_name, "family_name")  # « Famille Martin » -> « Martin »
    csrf.init_app(app)
    limiter.init_app(app)
    throttle.init_app(app)
    login_manager.init_app(app)
