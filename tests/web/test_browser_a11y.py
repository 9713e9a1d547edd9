"""axe-core on the account and procedure pages of the family space, one page per test.

One portal and one Chromium serve the whole module; the demo family Martin's drafts and
requests, and the links of its e-mails, are made through the portal's own routes first.
Each page is checked at 360 and 1280 px (no serious or critical violation, no horizontal
scroll) and saved into tests/artifacts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from accounts.credentials import find_account
from coffre.models import Document, FoyerMember
from demo.seed import DEMO_PASSWORD
from notifications.models import OutboxMessage
from tests.web.auth.test_login import csrf_token, log_in
from tests.web.browser import Portal, axe_context, chromium, page_problems, serve_portal
from web.runtime import runtime

FAMILY = "famille.martin@bellerive.example"
ANONYMOUS_PAGES = [
    "inscription",
    "inscription-erreurs",
    "connexion",
    "mot-de-passe-oublie",
    "nouveau-mot-de-passe",
    "activation-code",
    "invitation",
    "information",
]
# Pages shown after sending their form as it stands: the error messages beside the fields.
SUBMITTED = {
    "inscription-erreurs": "Créer mon compte",
}
FAMILY_PAGES = [
    "changer-mot-de-passe",
    "inviter",
    "demarches",
    "formulaire",
    "justificatifs",
    "recapitulatif",
    "recapitulatif-incomplet",
    "confirmation",
    "mes-demandes",
    "demande",
    "journal",
]


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    with serve_portal(tmp_path_factory.mktemp("a11y")) as served:
        yield served


@pytest.fixture(scope="module")
def module_browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def post(
    client: FlaskClient, path: str, data: dict[str, Any] | None = None, form: str = "/famille/"
) -> Any:
    """POST as the page would, with the CSRF token of the page at `form`."""
    return client.post(path, data={"csrf_token": csrf_token(client, form), **(data or {})})


def martin_child_and_documents(portal: Portal) -> tuple[str, list[str]]:
    """The demo family's first child and the ids of its current documents."""
    with runtime(portal.app).sessions() as session:
        account = find_account(session, FAMILY)
        assert account is not None and account.foyer_id is not None
        child = session.scalars(
            select(FoyerMember.id).where(
                FoyerMember.foyer_id == account.foyer_id, FoyerMember.first_name == "Léa"
            )
        ).one()
        documents = session.scalars(
            select(Document.id).where(
                Document.foyer_id == account.foyer_id, Document.superseded_at.is_(None)
            )
        ).all()
    return str(child), [str(document) for document in documents]


def start_creche(client: FlaskClient, child_id: str, shared: list[str]) -> int:
    """A crèche draft with its form and its consents saved; returns its id."""
    started = post(client, "/famille/demarches/creche/commencer")
    demande_id = int(re.findall(r"/famille/demandes/(\d+)/", started.headers["Location"])[0])
    form = {"enfant": child_id, "date_entree": "2027-09-01", "jours": "4", "action": "continuer"}
    assert post(client, f"/famille/demandes/{demande_id}/formulaire", form).status_code == 303
    documents = {"partage": shared}
    assert post(client, f"/famille/demandes/{demande_id}/justificatifs", documents).status_code
    return demande_id


def emailed_link(portal: Portal, template: str) -> str:
    """The path of the link in the last e-mail of this kind queued in the portal's outbox."""
    with runtime(portal.app).sessions() as session:
        context = session.scalars(
            select(OutboxMessage.context)
            .where(OutboxMessage.template == template)
            .order_by(OutboxMessage.id.desc())
        ).first()
    assert context is not None, template
    return "/" + str(json.loads(context)["lien"]).split("/", 3)[3]


@pytest.fixture(scope="module")
def paths(portal: Portal) -> dict[str, str]:
    """Each page's path, its drafts and tokens made through the portal's routes."""
    client = portal.app.test_client()
    assert (
        post(client, "/mot-de-passe-oublie", {"email": FAMILY}, form="/connexion").status_code
        == 200
    )
    assert log_in(client, FAMILY, DEMO_PASSWORD).status_code == 302
    assert post(client, "/famille/foyer/inviter", {"email": "thomas@example.org"}).status_code
    child_id, shared = martin_child_and_documents(portal)
    draft = start_creche(client, child_id, shared)
    incomplete = start_creche(client, child_id, [])
    submitted = start_creche(client, child_id, shared)
    assert post(client, f"/famille/demandes/{submitted}/deposer").status_code == 303
    return {
        "inscription": "/inscription",
        "inscription-erreurs": "/inscription",
        "connexion": "/connexion",
        "mot-de-passe-oublie": "/mot-de-passe-oublie",
        "nouveau-mot-de-passe": emailed_link(portal, "reinitialisation_mot_de_passe"),
        "activation-code": "/activation/code",
        "invitation": emailed_link(portal, "invitation_foyer"),
        "information": "/coffre/information",
        "changer-mot-de-passe": "/famille/mot-de-passe",
        "inviter": "/famille/foyer/inviter",
        "demarches": "/famille/demarches",
        "formulaire": f"/famille/demandes/{draft}/formulaire",
        "justificatifs": f"/famille/demandes/{draft}/justificatifs",
        "recapitulatif": f"/famille/demandes/{draft}/recapitulatif",
        "recapitulatif-incomplet": f"/famille/demandes/{incomplete}/recapitulatif",
        "confirmation": f"/famille/demandes/{submitted}/confirmation",
        "mes-demandes": "/famille/demandes",
        "demande": f"/famille/demandes/{submitted}",
        "journal": "/famille/coffre/journal",
    }


@pytest.fixture(scope="module")
def signed_in(
    portal: Portal, module_browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The demo family's cookies, logged in once through the login page."""
    context = axe_context(module_browser)
    page = context.new_page()
    page.goto(portal.url + "/connexion")
    page.get_by_label("Adresse électronique").fill(FAMILY)
    page.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(portal.url + "/famille/")
    state = tmp_path_factory.mktemp("state") / "famille.json"
    context.storage_state(path=str(state))
    context.close()
    return state


def check(browser: Any, url: str, name: str, state: Path | None = None) -> None:
    context = axe_context(browser, storage_state=str(state) if state else None)
    page = context.new_page()
    response = page.goto(url)
    assert response is not None and response.status < 500, (url, response and response.status)
    assert "/connexion" not in page.url or name == "connexion", "the page asked to sign in"
    if name in SUBMITTED:
        with page.expect_response(lambda r: r.request.method == "POST") as sent:
            page.get_by_role("button", name=SUBMITTED[name]).click()
        assert sent.value.status in (400, 422), "the form was accepted as it stood"
        page.wait_for_load_state()
    problems = page_problems(page, f"a11y-{name}")
    context.close()
    assert problems == [], json.dumps(problems, indent=1, ensure_ascii=False)


@pytest.mark.browser
@pytest.mark.parametrize("name", ANONYMOUS_PAGES)
def test_account_page_passes_axe(
    portal: Portal, module_browser: Any, paths: dict[str, str], name: str
) -> None:
    check(module_browser, portal.url + paths[name], name)


@pytest.mark.browser
@pytest.mark.parametrize("name", FAMILY_PAGES)
def test_family_page_passes_axe(
    portal: Portal, module_browser: Any, paths: dict[str, str], signed_in: Path, name: str
) -> None:
    check(module_browser, portal.url + paths[name], name, signed_in)
