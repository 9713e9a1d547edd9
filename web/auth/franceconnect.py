"""« S'identifier avec FranceConnect »: OpenID Connect through Authlib's client.

Authorization code flow with state and nonce, `acr_values` (eIDAS level), the ID token checked
against the provider's keys (signature, issuer, audience, expiry, nonce), and the userinfo
FranceConnect v2 signs as a JWT checked the same way. A first sign-in links the identity to an
existing family account after its password, or creates one; signing out of the portal ends
the FranceConnect session too. Every address given to the provider comes from BASE_URL.
"""

from __future__ import annotations

import logging
import secrets
from datetime import date
from typing import Any

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import (
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from requests import RequestException
from werkzeug.wrappers import Response as BaseResponse

from accounts import federation, information
from accounts.credentials import EmailTaken, InvalidCredentials
from accounts.federation import FederationError, Identity, InvalidEmail
from accounts.models import Role
from accounts.throttle import LoginBlocked
from web.auth import acceptance
from web.auth.blueprint import bp
from web.auth.guard import HOME_BY_ROLE, _as_user, role_required
from web.auth.throttle import client_address, login_throttle
from web.extensions import limiter
from web.runtime import EXTENSION_KEY as RUNTIME_KEY
from web.runtime import db, runtime

log = logging.getLogger(__name__)
OAUTH_KEY = "portal-franceconnect"
PENDING_KEY = "franceconnect_identity"
ID_TOKEN_KEY = "franceconnect_id_token"  # noqa: S105  (a session key's name)
ALGORITHMS = ["ES256", "RS256"]  # what FranceConnect v2 signs with; never a shared secret


def _failed() -> str:
    return _(
        "Signing in with FranceConnect did not succeed. Try again, or sign in with your "
        "e-mail address."
    )


def init_app(app: Flask) -> None:
    """Register the provider's client when FranceConnect is configured."""
    app.add_template_global(linked_to_franceconnect)
    app.add_template_global(enabled, "franceconnect_enabled")
    settings = app.extensions[RUNTIME_KEY].settings
    if not settings.franceconnect:
        return
    oauth = OAuth(app)
    oauth.register(
        "franceconnect",
        client_id=settings.franceconnect_client_id,
        client_secret=settings.franceconnect_client_secret,
        server_metadata_url=f"{settings.franceconnect_url}/.well-known/openid-configuration",
        client_kwargs={"scope": settings.franceconnect_scopes, "timeout": 10},
    )
    app.extensions[OAUTH_KEY] = oauth


def enabled() -> bool:
    return OAUTH_KEY in current_app.extensions


def linked_to_franceconnect() -> bool | None:
    """For the family's pages: None without FranceConnect, else whether its account is linked."""
    if not enabled() or not current_user.is_authenticated:
        return None
    return federation.is_linked(db(), current_user.id)


def _client() -> Any:
    if not enabled():
        abort(404)
    return current_app.extensions[OAUTH_KEY].franceconnect


def _callback_url() -> str:
    return f"{runtime().settings.base_url}/connexion/franceconnect/retour"


@bp.get("/connexion/franceconnect")
@limiter.limit("20/minute")
def franceconnect() -> BaseResponse:
    """Off to FranceConnect, with a new state and nonce kept in the session."""
    client = _client()
    try:
        return client.authorize_redirect(
            _callback_url(),
            nonce=secrets.token_urlsafe(24),
            acr_values=runtime().settings.franceconnect_acr,
        )
    except (AuthlibBaseError, RequestException, ValueError) as error:
        log.warning("franceconnect unavailable: %s", type(error).__name__)
        flash(_failed(), "error")
        return redirect("/connexion", code=303)


@bp.get("/connexion/franceconnect/retour")
@limiter.limit("20/minute")
def franceconnect_retour() -> BaseResponse:
    """Back from FranceConnect: check everything, then sign in, or ask how to link."""
    client = _client()
    if request.args.get("error"):
        flash(_failed(), "error")
        return redirect("/connexion", code=303)
    try:
        token = client.authorize_access_token()  # state, code, ID token and its nonce
        claims = token.get("userinfo") or {}
        identity = _identity(client, token, claims)
    except (AuthlibBaseError, JoseError, RequestException, KeyError, ValueError) as error:
        log.warning("franceconnect sign-in refused: %s", type(error).__name__)
        flash(_failed(), "error")
        return redirect("/connexion", code=303)
    session[ID_TOKEN_KEY] = token.get("id_token", "")
    account = federation.account_for(db(), runtime().clock, identity.subject)
    if account is not None:
        login_user(_as_user(account))
        return redirect(url_for(HOME_BY_ROLE[account.role]), code=303)
    session[PENDING_KEY] = {
        "sub": identity.subject, "given_name": identity.given_name,
        "family_name": identity.family_name,
        "birthdate": identity.birthdate.isoformat() if identity.birthdate else "",
        "email": identity.email,
    }  # fmt: skip
    return redirect("/connexion/franceconnect/lier", code=303)


def _identity(client: Any, token: dict[str, Any], id_claims: dict[str, Any]) -> Identity:
    """The identity from the signed userinfo (FranceConnect v2), its subject the ID token's."""
    subject = str(id_claims["sub"])
    metadata = client.load_server_metadata()
    answer = client.get(metadata["userinfo_endpoint"], token=token)
    answer.raise_for_status()
    if answer.headers.get("Content-Type", "").startswith("application/jwt"):
        keys = KeySet.import_key_set(client.fetch_jwk_set())
        signed = jwt.decode(answer.text, keys, algorithms=ALGORITHMS)
        issuer = metadata.get("issuer")
        jwt.JWTClaimsRegistry(leeway=60, iss={"essential": False, "value": issuer}).validate(
            signed.claims
        )
        info = signed.claims
    elif runtime().settings.is_production:
        raise ValueError("unsigned userinfo")  # FranceConnect v2 always signs it
    else:
        info = answer.json()
    if str(info.get("sub")) != subject:
        raise ValueError("userinfo about someone else")
    born = str(info.get("birthdate") or "")
    return Identity(
        subject=subject,
        given_name=str(info.get("given_name") or "").strip(),
        family_name=str(info.get("family_name") or "").strip(),
        birthdate=date.fromisoformat(born) if len(born) == 10 else None,
        email=str(info.get("email") or "").strip(),
    )


def _pending() -> Identity | None:
    data = session.get(PENDING_KEY)
    if not isinstance(data, dict) or not data.get("sub"):
        return None
    born = data.get("birthdate") or ""
    return Identity(
        subject=data["sub"], given_name=data.get("given_name", ""),
        family_name=data.get("family_name", ""),
        birthdate=date.fromisoformat(born) if born else None, email=data.get("email", ""),
    )  # fmt: skip


@bp.route("/connexion/franceconnect/lier", methods=["GET", "POST"])
@limiter.limit("10/minute", methods=["POST"])
def franceconnect_lier() -> BaseResponse | tuple[str, int]:
    """A first FranceConnect sign-in: link to the family's account (its password), or create one."""
    _client()
    identity = _pending()
    if identity is None:
        return redirect("/connexion", code=303)
    error, status = None, 200
    if request.method == "POST":
        rt = runtime()
        email = request.form.get("email", "").strip()
        # R.55-1: a new account is made only once the information is read (the box ticked).
        ticked = request.form.get("information") == "y"
        try:
            if request.form.get("choix") == "creer":
                shown = request.form.get(
                    "information_version", information.in_force_identifier(db())
                )
                version = shown if ticked else ""
                account = federation.create_family(
                    db(), rt.clock, identity, email, information_version=version
                )
            else:  # the account's password, counted like any sign-in's
                password = request.form.get("password", "")
                known = login_throttle().authenticate(db(), email, password, client_address())
                account = federation.link(db(), rt.clock, known, identity)
        except LoginBlocked:
            db().rollback()
            error, status = _("Too many attempts. Please wait a few minutes and try again."), 429
        except InvalidCredentials:
            db().rollback()
            error, status = _("Incorrect e-mail address or password."), 401
        except EmailTaken:
            db().rollback()
            error = _(
                "An account already uses this address: link FranceConnect to it with its password."
            )
            status = 409
        except information.UnknownVersion:
            db().rollback()
            error, status = _information_refused(ticked), 400
        except InvalidEmail as refused:
            db().rollback()
            error, status = refused.message, 400
        except FederationError as refused:
            db().rollback()
            error, status = refused.message, 409
        else:
            session.pop(PENDING_KEY, None)
            login_user(_as_user(account))
            flash(_("Your account is now linked to FranceConnect."), "success")
            return redirect(url_for(HOME_BY_ROLE[Role.FAMILLE]), code=303)
    page = render_template(
        "auth/franceconnect_lier.html",
        identity=identity,
        error=error,
        version=information.current(db()),
    )
    return page, status


def _information_refused(ticked: bool) -> str:
    if ticked:  # the page showed a version since replaced
        return acceptance.information_changed()
    return _(
        "Tick this box to create your account: it says that you have read the information "
        "about the family space."
    )


@bp.post("/famille/franceconnect/delier")
@role_required(Role.FAMILLE)
def franceconnect_delier() -> BaseResponse:
    """The adult's account no longer opens with FranceConnect (its password still does)."""
    federation.unlink(db(), current_user.id)
    flash(_("FranceConnect no longer opens your account."), "success")
    return redirect("/famille/foyer", code=303)


def end_session_url() -> str | None:
    """Where to send the browser after the portal's own sign-out, to end FranceConnect's too."""
    id_token = session.get(ID_TOKEN_KEY)
    if not id_token or not enabled():
        return None
    try:
        metadata = _client().load_server_metadata()
    except (AuthlibBaseError, RequestException, ValueError):
        return None
    if not metadata.get("end_session_endpoint"):
        return None
    logout = _client().create_logout_url(
        post_logout_redirect_uri=f"{runtime().settings.base_url}/", id_token_hint=id_token
    )
    return str(logout["url"])
