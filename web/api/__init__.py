"""The JSON API (filled by later issues); answers JSON, errors included."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/v1/")
def index() -> Response:
    return jsonify(name="portail-famille", version=1)
