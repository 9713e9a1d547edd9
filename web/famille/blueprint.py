"""The families' space's blueprint, and the logged-in adult as the vault knows them."""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user

from coffre.consent import FamilyReader
from web.counter import acted_foyer_id

bp = Blueprint("famille", __name__, url_prefix="/famille")


def family_reader() -> FamilyReader:
    """The logged-in adult as the vault knows them: an account reading its own foyer.

    An agent in counter mode reads the foyer it acts for, under its own account id, so
    that the journal and the demandes' history name the agent.
    """
    acted = acted_foyer_id()
    if acted is not None:
        return FamilyReader(account_id=current_user.id, foyer_id=acted)
    if current_user.foyer_id is None:
        abort(403)  # a family account always has a foyer; refuse rather than guess one
    return FamilyReader(account_id=current_user.id, foyer_id=current_user.foyer_id)
