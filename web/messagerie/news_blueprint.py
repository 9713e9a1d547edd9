"""The blueprint of targeted news: the composer of the services' supervisors, the families'
news, the unsubscribe link. Its pages live under /agent/ and /famille/ beside those spaces'."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("actualites", __name__)
