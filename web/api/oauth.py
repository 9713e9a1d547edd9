"""OAuth 2 for the API (Authlib): client credentials at the token endpoint, bearer tokens checked
on every call, a rate limit per client, and each call journaled.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from copy import deepcopy
from datetime import datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import Flask, Response, current_app, g, request
from limits import parse
from werkzeug.exceptions import HTTPException

from interop import clients
from interop.clients import Caller
from interop.models import ApiClient
from web.errors import problem
from web.extensions import limiter
from web.runtime import db, runtime

P = ParamSpec("P")
R = TypeVar("R")
AUTH_METHODS = ("client_secret_basic", "client_secret_post")


class _Client(ClientMixin):
    """An `ApiClient` as Authlib asks for it."""

    def __init__(self, row: ApiClient) -> None:
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """What was asked for, all of it the client's (all it has when nothing was asked);
        None (an `invalid_scope` answer) when it asked for one it was not given."""
        allowed = self.row.scopes.split()
        if not scope:
            return " ".join(allowed)
        asked = scope.split()
        return None if any(s not in allowed for s in asked) else " ".join(asked)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return clients.authenticate(db(), self.row.client_id, client_secret) is not None

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class _ClientCredentials(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS


class _Token(TokenMixin):
    def __init__(self, caller: Caller) -> None:
        self.caller = caller

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.caller.client_id)

    def get_scope(self) -> str:
        return " ".join(sorted(self.caller.scopes))

    def get_expires_in(self) -> int:
        return int(clients.TOKEN_LIFETIME.total_seconds())

    def is_expired(self) -> bool:
        return False  # `caller_of` gives live tokens only

    def is_revoked(self) -> bool:
        return False


class _Validator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> _Token | None:
        caller = clients.caller_of(db(), runtime().clock, token_string)
        return _Token(caller) if caller is not None else None


class _Protector(ResourceProtector):
    def raise_error_response(self, error: OAuth2Error) -> None:
        """A refused token is a problem document too, with the bearer challenge it calls for."""
        status = error.status_code
        detail = (
            "Ce jeton ne donne pas accès à cette ressource (portée insuffisante)."
            if status == 403
            else "Jeton d'accès absent, inconnu ou expiré : demandez-en un nouveau."
        )
        body, _ = problem(status, detail)
        for name, value in error.get_headers():
            if name.lower() != "content-type":  # OAuth's JSON; ours is a problem document
                body.headers[name] = value
        raise _Refused(body)


class _Refused(HTTPException):
    def __init__(self, response: Response) -> None:
        super().__init__(response=response)
        self.code = response.status_code


protector = _Protector()
SERVER_KEY = "portal-oauth-server"


def init_app(app: Flask) -> None:
    def query_client(client_id: str) -> _Client | None:
        row = clients.find_client(db(), client_id)
        return _Client(row) if row is not None else None

    def save_token(token: dict[str, Any], oauth_request: Any) -> None:
        client = oauth_request.client.row
        clients.store_token(
            db(), runtime().clock, client, token["access_token"], token.get("scope", "")
        )

    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
        "client_credentials": int(clients.TOKEN_LIFETIME.total_seconds())
    }
    app.config["OAUTH2_SCOPES_SUPPORTED"] = list(clients.SCOPES)
    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.register_grant(_ClientCredentials)
    app.extensions[SERVER_KEY] = server
    protector.register_token_validator(_Validator())


def token_response() -> Response:
    response: Response = current_app.extensions[SERVER_KEY].create_token_response()
    return response


def scoped(scope: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """The view needs a live token with this scope; the caller is then `g.api_caller`.

    Each client may make `API_RATE_LIMIT` calls (per minute by default) before a 429.
    """

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                token = protector.acquire_token([scope])
            except OAuth2Error as error:
                protector.raise_error_response(error)
            caller: Caller = token.caller
            _throttle(caller)
            g.api_caller = caller
            return view(*args, **kwargs)

        # The description says which scope the operation needs (flask-smorest's `_apidoc`).
        apidoc = deepcopy(getattr(view, "_apidoc", {}))
        apidoc.setdefault("manual_doc", {})["security"] = [{"oauth2": [scope]}]
        checked._apidoc = apidoc  # type: ignore[attr-defined]
        return checked

    return decorator


def _throttle(caller: Caller) -> None:
    limit = parse(runtime().settings.api_rate_limit)
    strategy = limiter.limiter
    if not strategy.hit(limit, "api-client", caller.client_id):
        # The counters' windows run on the machine's time, not the application's clock.
        reset = strategy.get_window_stats(limit, "api-client", caller.client_id).reset_time
        body, _ = problem(429, "Trop d'appels de ce client : réessayez dans un moment.")
        body.headers["Retry-After"] = str(max(1, math.ceil(reset - time.time())))
        raise _Refused(body)


def journal(response: Response) -> Response:
    """After each API call with a known caller: one line in the calls' journal."""
    caller: Caller | None = g.get("api_caller")
    if caller is not None:
        if response.status_code >= 400:
            db().rollback()  # a refused call wrote nothing; its transaction may be broken
        clients.record_call(
            db(), _now(), caller, method=request.method,
            operation=request.endpoint or "", resource=request.path,
            status=response.status_code,
        )  # fmt: skip
    return response


def _now() -> datetime:
    return runtime().clock.now()
