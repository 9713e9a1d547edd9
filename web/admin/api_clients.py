"""Administration of the API's clients: created per entity with scopes (the secret shown once),
revoked, and the journal of their calls. An entity's administrator sees its own entity's."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from accounts.organisation import entities
from interop import clients
from interop.clients import ClientError
from web.admin.blueprint import bp
from web.auth.guard import role_required
from web.runtime import db, runtime


def _list(
    error: str | None = None, created: clients.NewClient | None = None, status: int = 200
) -> tuple[str, int]:
    page = render_template(
        "admin/clients_api.html",
        rows=clients.clients_in_reach(db(), current_user.id),
        entities=entities(db(), current_user.id),
        scopes=clients.SCOPES,
        error=error,
        created=created,
        form=request.form if request.method == "POST" else {},
    )
    return page, status


@bp.get("/clients-api")
@role_required(Role.ADMIN)
def api_clients() -> tuple[str, int]:
    return _list()


@bp.post("/clients-api")
@role_required(Role.ADMIN)
def api_client_new() -> tuple[str, int]:
    """A new client; its secret is on this answer only."""
    entity = request.form.get("entite", "")
    if not entity.isdigit():
        return _list(_("Choose the entity the software works for."), status=400)
    try:
        created = clients.create_client_as_admin(
            db(), runtime().clock, current_user.id, entity_id=int(entity),
            name=request.form.get("nom", ""), scopes=" ".join(request.form.getlist("portees")),
        )  # fmt: skip
    except ClientError as error:
        db().rollback()
        return _list(str(error), status=400)
    return _list(created=created, status=201)


@bp.get("/clients-api/<int:client_pk>")
@role_required(Role.ADMIN)
def api_client(client_pk: int) -> str:
    """A client and the journal of its last calls."""
    client = clients.client_in_reach(db(), current_user.id, client_pk)
    return render_template(
        "admin/client_api.html", client=client, calls=clients.calls_of(db(), client.id)
    )


@bp.post("/clients-api/<int:client_pk>/revoquer")
@role_required(Role.ADMIN)
def api_client_revoke(client_pk: int) -> BaseResponse:
    clients.revoke_as_admin(db(), runtime().clock, current_user.id, client_pk)
    flash(_("The client is revoked: its tokens no longer open anything."), "success")
    return redirect(url_for("admin.api_client", client_pk=client_pk), code=303)
