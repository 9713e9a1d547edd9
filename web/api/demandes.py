"""API: the demandes of the caller's services, their shared documents, and the agents' writes."""

from __future__ import annotations

from typing import Any

from flask import Response, g
from flask.views import MethodView
from flask_smorest import Blueprint

from coffre.catalogue import KNOWN_FORMATS
from interop import views
from interop.clients import Caller
from procedures import agent_actions
from procedures.agent_actions import DemandeAsShown, TaskAsShown
from web.api import oauth
from web.api.schemas import (
    DemandeOut,
    DemandesPage,
    DemandesQuery,
    DocumentOut,
    MessageIn,
    StepIn,
    problems,
)
from web.files import attachment_headers, checked_chunks
from web.runtime import db, runtime

blp = Blueprint(
    "demandes", __name__, url_prefix="/api/v1/demandes",
    description="Les demandes que traitent les services de l'entité du client.",
)  # fmt: skip
blp.after_request(oauth.journal)
ERRORS = (401, 403, 404, 429)


def caller() -> Caller:
    caller: Caller = g.api_caller
    return caller


@blp.route("")
class Demandes(MethodView):
    @oauth.scoped("demandes:read")
    @blp.arguments(DemandesQuery, location="query", as_kwargs=True)
    @blp.response(200, DemandesPage)
    @problems(blp, 400, 401, 403, 422, 429)
    def get(self, **query: Any) -> dict[str, Any]:
        """Les demandes, les moins récemment modifiées d'abord."""
        found = views.demandes(db(), caller(), **query)
        return {"items": found.items, "next_cursor": found.next_cursor}


@blp.route("/<int:demande_id>")
class OneDemande(MethodView):
    @oauth.scoped("demandes:read")
    @blp.response(200, DemandeOut)
    @problems(blp, *ERRORS)
    def get(self, demande_id: int) -> dict[str, Any]:
        """Une demande : réponses, étapes, historique, enfant et foyer, justificatifs partagés."""
        return views.demande(db(), caller(), demande_id, runtime().clock.now())


@blp.route("/<int:demande_id>/documents")
class Documents(MethodView):
    @oauth.scoped("documents:read")
    @blp.response(200, DocumentOut(many=True))
    @problems(blp, *ERRORS)
    def get(self, demande_id: int) -> list[dict[str, Any]]:
        """Les justificatifs que le foyer partage pour cette demande (métadonnées)."""
        return views.shared_documents(db(), caller(), demande_id)


@blp.route("/<int:demande_id>/documents/<int:document_id>/contenu")
class DocumentContent(MethodView):
    @oauth.scoped("documents:read")
    @blp.doc(
        responses={
            "200": {
                "description": "Le fichier, tant que le consentement tient ; la lecture est "
                "inscrite au journal « qui a consulté » de la famille.",
                "content": {
                    media: {"schema": {"type": "string", "format": "binary"}}
                    for media in KNOWN_FORMATS
                },
            }
        },
    )  # fmt: skip
    @problems(blp, *ERRORS)
    def get(self, demande_id: int, document_id: int) -> Response:
        """Le contenu d'un justificatif partagé."""
        opened = agent_actions.read_document(
            db(), runtime().vault, caller().as_agent(), demande_id, document_id, purpose="logiciel"
        )
        document = opened.document
        headers = attachment_headers(document.original_name, "attachment")
        headers["Content-Length"] = str(document.size)
        return Response(checked_chunks(opened), mimetype=document.mime_type, headers=headers)


@blp.route("/<int:demande_id>/etapes/<int:task_id>")
class StepCompletion(MethodView):
    @oauth.scoped("demandes:write")
    @blp.arguments(StepIn)
    @blp.response(200, DemandeOut)
    @problems(blp, 400, 401, 403, 404, 409, 422, 429)
    def post(self, body: dict[str, Any], demande_id: int, task_id: int) -> dict[str, Any]:
        """Traiter une étape d'agent : son formulaire porte la décision sur laquelle le
        parcours bifurque. 409 si l'étape a changé depuis sa `version`."""
        shown = TaskAsShown(demande_id, task_id, body["version"])
        ctx = runtime().engine_context
        agent_actions.complete(db(), ctx, caller().as_agent(), shown, body["form"], body["note"])
        return views.demande(db(), caller(), demande_id, runtime().clock.now())


@blp.route("/<int:demande_id>/messages")
class Messages(MethodView):
    @oauth.scoped("demandes:write")
    @blp.arguments(MessageIn)
    @blp.response(201, DemandeOut)
    @problems(blp, 400, 401, 403, 404, 409, 422, 429)
    def post(self, body: dict[str, Any], demande_id: int) -> tuple[dict[str, Any], int]:
        """Écrire à la famille sur sa demande (elle est prévenue par courriel)."""
        shown = DemandeAsShown(demande_id, body["version"])
        ctx = runtime().engine_context
        agent_actions.comment(db(), ctx, caller().as_agent(), shown, body["text"], internal=False)
        return views.demande(db(), caller(), demande_id, runtime().clock.now()), 201
