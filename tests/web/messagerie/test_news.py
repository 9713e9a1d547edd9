"""Targeted news over HTTP: the composer's preview and sending, the family's news pages, the
unsubscribe link that works logged out, and who may see what."""

from __future__ import annotations

import re

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Role
from coffre.clock import FrozenClock
from messagerie import news, news_subscription
from messagerie.audience import Criteria
from messagerie.news_models import News, NewsOptOut
from tests.factories import make_account, make_agent, page_text
from tests.messagerie.news_town import SCHOOL_A, SCHOOL_B, Town, make_town
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token, log_in
from web.runtime import runtime

COMPOSER = "/agent/actualites/nouvelle"


@pytest.fixture
def town(app: Flask, db_session: Session) -> Town:
    return make_town(db_session, runtime(app).engine_context, runtime(app).vault)


def compose(client: FlaskClient, **fields: str) -> tuple[int, str]:
    data = {
        "titre": "Sortie au musée",
        "texte": "Départ à 9 h.",
        "csrf_token": csrf_token(client, COMPOSER),
    }
    response = client.post(COMPOSER, data=data | fields)
    return response.status_code, page_text(response)


def test_the_composer_previews_the_families_reached_then_sends(
    app: Flask, client: FlaskClient, town: Town
) -> None:
    in_a_cp = [town.pupil(SCHOOL_A, "CP") for _ in range(3)]
    town.pupil(SCHOOL_A, "CE1")
    town.pupil(SCHOOL_B, "CP")
    town.pupil(SCHOOL_B, "CP")
    assert sign_in_agent(client, town.supervisor).status_code == 302
    page = page_text(client.get(COMPOSER))
    assert SCHOOL_A in page and "CP (cours préparatoire)" in page
    service = str(town.service.id)

    status, preview = compose(client, service=service, ecole=SCHOOL_A, niveau="CP", action="apercu")
    assert status == 200
    assert "3 familles destinataires" in preview
    assert "Envoyer à 3 familles" in preview
    assert town.session.scalar(select(News.id)) is None  # a preview sends nothing

    status, _page = compose(
        client, service=service, ecole=SCHOOL_B, niveau="CP", action="envoyer", foyers="3"
    )
    assert status == 409  # the criteria changed since the preview: 2 families, not 3
    response = client.post(
        COMPOSER,
        data={
            "titre": "Sortie au musée", "texte": "Départ à 9 h.", "service": service,
            "ecole": SCHOOL_A, "niveau": "CP", "action": "envoyer", "foyers": "3",
            "csrf_token": csrf_token(client, COMPOSER),
        },
    )  # fmt: skip
    assert response.status_code == 303
    sent = town.session.scalars(select(News)).one()
    assert response.headers["Location"] == f"/agent/actualites/{sent.id}"
    assert {r.foyer_id for r in sent.recipients} == {a.foyer_id for a in in_a_cp}
    detail = page_text(client.get(f"/agent/actualites/{sent.id}"))
    assert "Familles destinataires : 3" in detail
    assert "Sortie au musée" in page_text(client.get("/agent/actualites"))


def test_a_family_reads_its_news_escaped_and_never_another_foyer_s(app: Flask, town: Town) -> None:
    reached, other = town.pupil(SCHOOL_A), town.pupil(SCHOOL_B)
    draft = news.Draft(
        town.service.id, "Fête <b>de l'école</b>", "Ligne 1\nLigne <script>2</script>",
        Criteria(school=SCHOOL_A),
    )  # fmt: skip
    author = news.Author(town.supervisor.id, frozenset({town.service.id}))
    item = news.publish(town.session, town.clock, author, draft)

    family = app.test_client()
    assert log_in(family, reached.email).status_code == 302
    listing = family.get("/famille/actualites").get_data(as_text=True)
    assert "Fête &lt;b&gt;de l&#39;école&lt;/b&gt;" in listing and "Nouveau" in listing
    page = family.get(f"/famille/actualites/{item.id}").get_data(as_text=True)
    assert "Ligne 1<br>Ligne &lt;script&gt;2&lt;/script&gt;" in page
    assert "Nouveau" not in family.get("/famille/actualites").get_data(as_text=True)

    outsider = app.test_client()
    assert log_in(outsider, other.email).status_code == 302
    assert outsider.get(f"/famille/actualites/{item.id}").status_code == 404
    assert "Fête" not in page_text(outsider.get("/famille/actualites"))
    assert app.test_client().get("/famille/actualites").status_code == 302  # to log in


def test_the_unsubscribe_link_works_logged_out_after_a_confirmation(
    app: Flask, client: FlaskClient, town: Town
) -> None:
    family = town.pupil(SCHOOL_A)
    token = news_subscription.unsubscribe_token(runtime(app).settings.secret_key, family.id)
    link = f"/actualites/desabonnement/{token}"

    confirm = page_text(client.get(link))
    assert "Confirmer : ne plus recevoir les actualités" in confirm
    assert town.session.get(NewsOptOut, family.id) is None  # opening the link is not enough
    token_field = re.search(r'name="csrf_token" value="([^"]+)"', confirm)
    assert token_field is not None
    done = client.post(link, data={"csrf_token": token_field.group(1)})
    assert done.status_code == 200
    assert "C'est fait : vous ne recevrez plus les actualités par courriel." in page_text(done)
    assert town.session.get(NewsOptOut, family.id) is not None
    assert client.get("/actualites/desabonnement/pas-un-jeton").status_code == 400

    # The family may choose news by e-mail again from its space.
    assert log_in(client, family.email).status_code == 302
    assert "Recevoir à nouveau les actualités par courriel" in page_text(
        client.get("/famille/actualites")
    )
    client.post(
        "/famille/actualites/abonnement",
        data={"csrf_token": csrf_token(client, "/famille/actualites")},
    )
    assert town.session.get(NewsOptOut, family.id) is None


def test_only_supervisors_reach_the_composer(
    app: Flask, db_session: Session, clock: FrozenClock, town: Town
) -> None:
    agent = app.test_client()
    assert sign_in_agent(agent, make_agent(db_session, clock, town.service)).status_code == 302
    assert agent.get(COMPOSER).status_code == 403
    assert agent.get("/agent/actualites").status_code == 403
    family = app.test_client()
    assert log_in(family, make_account(db_session, clock, Role.FAMILLE).email).status_code == 302
    assert family.get(COMPOSER).status_code == 403


def test_the_e_mails_links_lead_to_the_pages(app: Flask) -> None:
    with app.test_request_context():
        assert url_for("actualites.famille_lire", news_id=7) == news.NEWS_PATH.format(id=7)
        assert url_for("actualites.desabonnement", token="abc") == (
            news_subscription.UNSUBSCRIBE_PATH.format(token="abc")
        )
