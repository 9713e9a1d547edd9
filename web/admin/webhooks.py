"""Administration of webhooks: an entity's endpoints, the events each is told of, the secret
shown once, the log of deliveries. An entity's administrator sees its own entity's."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from accounts.organisation import administrator, entities
from interop import webhooks
from interop.webhooks import WebhookError
from web.admin.blueprint import bp
from web.auth.guard import role_required
from web.runtime import db, runtime


def _list(
    error: str | None = None, secret: str | None = None, status: int = 200
) -> tuple[str, int]:
    admin = administrator(db(), current_user.id)
    endpoints = webhooks.endpoints_of(db(), admin)
    page = render_template(
        "admin/webhooks.html",
        endpoints=[(e, webhooks.pending(db(), e.id)) for e in endpoints],
        entities=entities(db(), current_user.id),
        events=webhooks.EVENTS,
        error=error,
        secret=secret,
        form=request.form if request.method == "POST" else {},
    )
    return page, status


@bp.get("/webhooks")
@role_required(Role.ADMIN)
def webhooks_list() -> tuple[str, int]:
    return _list()


@bp.post("/webhooks")
@role_required(Role.ADMIN)
def webhook_new() -> tuple[str, int]:
    """A new endpoint; its secret is on the answer, and nowhere else afterwards."""
    entity = request.form.get("entite", "")
    if not entity.isdigit():
        return _list(_("Choose the entity whose events are sent."), status=400)
    rt = runtime()
    try:
        new = webhooks.create_endpoint(
            db(), rt.clock, current_user.id, entity_id=int(entity),
            url=request.form.get("url", ""), events=request.form.getlist("evenements"),
            secret_key=rt.settings.secret_key, production=rt.settings.is_production,
        )  # fmt: skip
    except WebhookError as error:
        db().rollback()
        return _list(error.message, status=400)
    return _list(secret=new.secret, status=201)


def _endpoint_page(endpoint_id: int, secret: str | None = None) -> str:
    endpoint = webhooks.endpoint_in_reach(db(), current_user.id, endpoint_id)
    return render_template(
        "admin/webhook.html",
        endpoint=endpoint,
        events=webhooks.EVENTS,
        deliveries=webhooks.deliveries_of(db(), endpoint.id),
        secret=secret,
    )


@bp.get("/webhooks/<int:endpoint_id>")
@role_required(Role.ADMIN)
def webhook(endpoint_id: int) -> str:
    """The endpoint and the log of its last deliveries."""
    return _endpoint_page(endpoint_id)


@bp.post("/webhooks/<int:endpoint_id>/etat")
@role_required(Role.ADMIN)
def webhook_state(endpoint_id: int) -> BaseResponse:
    active = request.form.get("actif") == "oui"
    webhooks.set_active(db(), runtime().clock, current_user.id, endpoint_id, active)
    flash(_("The endpoint is active again.") if active else _("The endpoint is paused."), "success")
    return redirect(url_for("admin.webhook", endpoint_id=endpoint_id), code=303)


@bp.post("/webhooks/<int:endpoint_id>/secret")
@role_required(Role.ADMIN)
def webhook_secret(endpoint_id: int) -> str:
    """A new secret, shown once; the old one signs nothing from now on."""
    rt = runtime()
    secret = webhooks.rotate_secret(
        db(), rt.clock, current_user.id, endpoint_id, rt.settings.secret_key
    )
    return _endpoint_page(endpoint_id, secret)
