"""The families' space: its home page and the blueprint the vault's pages register on."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user

from accounts.models import Role
from coffre.consent import FamilyReader
from web.agent_guichet_session import acted_foyer_id
from web.auth import role_required

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


@bp.get("/")
@role_required(Role.FAMILLE)
def index() -> str:
    if acted_foyer_id() is None and current_user.foyer_id is None:
        return render_template("famille/en_attente.html")  # web.famille_rejoindre
    return render_template("famille/index.html", joins=web.famille_rejoindre.pending())


# The vault's pages, one module per concept, register their routes on `bp` when imported.
import web.famille_coffre  # noqa: E402
import web.famille_compte  # noqa: E402
import web.famille_demandes  # noqa: E402
import web.famille_depot  # noqa: E402
import web.famille_fichiers  # noqa: E402
import web.famille_foyer  # noqa: E402
import web.famille_rejoindre  # noqa: E402
