"""The administrator publishes a new version of the information before sign-up (R.55-1):
written in Markdown, previewed, published as the next version, journaled, never changed
afterwards, and asked again of the families at their next visit."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from accounts import information
from accounts.models import Account, AdminJournalEntry, Role, Service
from coffre.clock import FrozenClock
from tests.factories import make_account, make_agent, page_text
from tests.web.admin.test_organisation import signed_in
from tests.web.auth.test_login import csrf_token, log_in

PAGE = "/admin/information"
VERSION_2 = "## Ce qu'est l'espace famille\n\nLe service en ligne de la ville, **version deux**.\n"


def submit(client: FlaskClient, text: str, action: str = "publier") -> TestResponse:
    token = csrf_token(client, PAGE)
    return client.post(PAGE, data={"csrf_token": token, "text": text, "action": action})


def test_a_global_admin_previews_then_publishes_the_next_version_journaled(
    app: Flask, global_admin: Account, db_session: Session, clock: FrozenClock
) -> None:
    client = signed_in(app, global_admin)
    blank = page_text(client.get(PAGE))
    assert "Publier comme version 2" in blank and "## Comment vos documents sont protégés" in blank

    preview = submit(client, VERSION_2 + "\n<script>alert(1)</script>\n", "apercu")

    assert preview.status_code == 200
    assert "<h2>Ce qu'est l'espace famille</h2>" in preview.text
    assert "<strong>version deux</strong>" in preview.text
    assert "<script>alert(1)</script>" not in preview.text  # shown as text, never run
    assert information.in_force_identifier(db_session) == "1"  # a preview publishes nothing

    published = submit(client, VERSION_2)

    assert published.status_code == 303
    assert "La version 2 est publiée" in page_text(client.get(PAGE))
    in_force = page_text(client.get("/coffre/information"))
    assert "Version 2, publiée le" in in_force and "version deux" in in_force
    older = page_text(client.get("/coffre/information/version-1"))
    assert "Comment vos documents sont protégés" in older and "version deux" not in older
    [entry] = db_session.scalars(
        select(AdminJournalEntry).where(AdminJournalEntry.action == "information.published")
    )
    assert (entry.actor_id, entry.at, entry.target_id) == (global_admin.id, clock.now(), "2")
    assert json.loads(entry.after or "") == {"version": 2}


def test_a_published_version_never_changes(
    app: Flask, global_admin: Account, db_session: Session
) -> None:
    client = signed_in(app, global_admin)
    assert submit(client, VERSION_2).status_code == 303

    again = submit(client, "## Ce qu'est l'espace famille\n\nLa version trois.\n")

    assert again.status_code == 303  # a new text is a new version, never an edit
    second = page_text(client.get("/coffre/information/version-2"))
    assert "version deux" in second and "version trois" not in second
    assert "n’est plus en vigueur" in second
    assert "La version trois." in page_text(client.get("/coffre/information"))
    assert client.post("/admin/information/version-2", data={"text": "x"}).status_code == 404
    assert submit(client, "   ").status_code == 400  # nothing to publish
    assert information.in_force_identifier(db_session) == "3"


def test_families_who_accepted_an_older_version_are_asked_at_their_next_visit(
    app: Flask,
    global_admin: Account,
    family_client: FlaskClient,
    family: Account,
    db_session: Session,
) -> None:
    assert family_client.get("/famille/coffre").status_code == 200  # version 1 accepted
    assert submit(signed_in(app, global_admin), VERSION_2).status_code == 303

    asked = family_client.get("/famille/coffre")
    page = page_text(family_client.get("/famille/information"))
    token = csrf_token(family_client, "/famille/information")
    family_client.post("/famille/information", data={"csrf_token": token, "information": "y"})

    assert asked.headers["Location"] == "/famille/information"
    assert "L’information sur l’espace famille a changé" in page and "version deux" in page
    db_session.refresh(family)
    assert family.information_version == "2"
    assert family_client.get("/famille/coffre").status_code == 200


def test_only_a_global_administrator_publishes(
    app: Flask,
    client: FlaskClient,
    ville_admin: Account,
    ville: Service,
    db_session: Session,
    clock: FrozenClock,
) -> None:
    family = make_account(db_session, clock, Role.FAMILLE)
    assert log_in(client, family.email).status_code == 302
    visitors = [
        client,
        signed_in(app, make_agent(db_session, clock, ville)),
        signed_in(app, ville_admin),
    ]

    for visitor in visitors:
        assert visitor.get(PAGE).status_code == 403
        token = csrf_token(visitor, "/coffre/information")
        refused = visitor.post(PAGE, data={"csrf_token": token, "text": VERSION_2})
        assert refused.status_code == 403
    anonymous = app.test_client().get(PAGE)
    assert anonymous.status_code == 302 and "/connexion" in anonymous.headers["Location"]
    assert information.in_force_identifier(db_session) == "1"
    assert "Information avant inscription" not in page_text(
        signed_in(app, ville_admin).get("/admin/")
    )


def test_a_heading_left_without_its_text_is_refused(
    app: Flask, global_admin: Account, db_session: Session
) -> None:
    client = signed_in(app, global_admin)
    assert "## Fermer votre espace" in page_text(client.get(PAGE))  # six headings, empty

    for text in (
        "## Ce qu'est l'espace famille\n\n## Comment vos documents sont protégés\n",
        VERSION_2 + "\n## Fermer votre espace\n",  # the last one left empty
        VERSION_2.replace("## ", "# ") + "\n## Récupérer vos documents\n\n",
    ):
        refused = submit(client, text)

        assert refused.status_code == 400
        assert "Chaque titre doit être suivi de son texte" in page_text(refused)
    assert information.in_force_identifier(db_session) == "1"
    assert submit(client, "Un texte sans titre, qui informe la famille.").status_code == 303
