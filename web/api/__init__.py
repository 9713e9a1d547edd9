"""The REST API for the town's other systems, under /api/v1/, described in OpenAPI 3.1.

flask-smorest builds the description from the views' typed schemas (`web.api.schemas`): it is
served at /api/v1/openapi.json and read as a page at /api/v1/docs. Clients authenticate with
OAuth 2 client credentials (`web.api.oauth`); errors are RFC 9457 problem documents.
"""

from __future__ import annotations

import http
from typing import Any

from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, Response, current_app, jsonify, render_template
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from interop.clients import SCOPES
from interop.pages import InvalidCursor
from web.api import oauth
from web.api.schemas import Problem
from web.errors import render_error
from web.extensions import csrf, limiter

PREFIX = "/api/v1"
PROBLEM_TYPE = "application/problem+json"
DESCRIPTION = """\
API du portail famille pour les logiciels de la commune (gestion famille, finances).

Authentification OAuth 2 *client credentials* : `POST /api/v1/oauth/token` avec l'identifiant
et le secret du client (HTTP Basic), puis `Authorization: Bearer <jeton>` sur chaque appel.
Les listes se parcourent par curseur (`next_cursor`) et se filtrent par `updated_since`.
Les erreurs sont des documents RFC 9457 (`application/problem+json`), `detail` en français.
"""


class PortalApi(Api):
    """flask-smorest's Api, its errors left to the portal's own handlers (problem documents)."""

    ERROR_SCHEMA = Problem

    def _register_error_handlers(self) -> None:
        pass  # web.errors answers every error, with a problem document under /api/

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Erreur (RFC 9457)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


bp = Blueprint("api", __name__, url_prefix=PREFIX)


@bp.get("/")
def index() -> Response:
    return jsonify(name="portail-famille", version=1, openapi=f"{PREFIX}/openapi.json")


@bp.post("/oauth/token")
@limiter.limit("30/minute")
def token() -> Response:
    """The token endpoint (RFC 6749, client credentials grant); its answers are OAuth's own."""
    return oauth.token_response()


@bp.get("/docs")
def docs() -> str:
    """The description, readable: every operation, its parameters, scopes and answers."""
    api: PortalApi = current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    return render_template("api/docs.html", spec=api.spec.to_dict(), scopes=SCOPES)


def init_app(app: Flask) -> None:
    from web.api import demandes, exchanges

    app.config.update(
        API_TITLE="Portail famille",
        API_VERSION="1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX=PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
    )
    oauth.init_app(app)
    app.register_blueprint(bp)
    csrf.exempt(bp)
    spec = {"marshmallow_plugin": MarshmallowPlugin(), "info": {"description": DESCRIPTION}}
    api = PortalApi(app, spec_kwargs=spec)
    api.spec.components.security_scheme(
        "oauth2",
        {
            "type": "oauth2",
            "flows": {"clientCredentials": {"tokenUrl": f"{PREFIX}/oauth/token", "scopes": SCOPES}},
        },
    )

    @app.errorhandler(InvalidCursor)
    def _cursor(exc: InvalidCursor) -> tuple[Response | str, int]:
        return render_error(400, "Ce curseur n'a pas été donné par cette API : reprenez au début.")

    for module in (demandes, exchanges):
        api.register_blueprint(module.blp)
        csrf.exempt(module.blp)
