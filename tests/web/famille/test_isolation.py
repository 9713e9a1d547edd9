"""No page of one family is reachable by another family.

The routes come from the app's url_map (every family route, every method), so a new route
is walked as soon as it exists; a URL parameter this file cannot fill with another foyer's
ids fails the test until it is mapped in OWNED_PARAMETERS or PUBLIC_PARAMETERS.
"""

from __future__ import annotations

import io
import itertools
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Table, select
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

from accounts import activation
from accounts.models import Account, JoinRequest, Role, Service
from coffre.clock import FrozenClock
from coffre.consent import FamilyReader
from coffre.models import (
    Document,
    DocumentRead,
    Foyer,
    FoyerMember,
    Grant,
    JournalEntry,
    MemberRole,
)
from coffre.portability import prepared
from coffre.vault import Upload
from demo.seed import demo_pdf
from interop import portability
from messagerie import threads
from messagerie.audience import Criteria
from messagerie.news import Author, Draft
from messagerie.news import publish as publish_news
from messagerie.notices import Links
from procedures import catalogue, demandes
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.models import Demande, DemandeEvent, Task
from tests.factories import make_account, make_foyer, make_service, page_text
from tests.web.auth.test_login import csrf_token, log_in
from tests.web.conftest import deposit
from web.runtime import runtime

# Parameters that name something a foyer owns: filled with the other foyer's ids.
OWNED_PARAMETERS = (
    "document_id", "demande_id", "task_id", "child_id", "member_id", "join_id", "export_id",
    "news_id", "thread_id",
)  # fmt: skip
# Parameters that name something shared by every family (a procedure of the catalogue).
PUBLIC_PARAMETERS = {"code": "creche"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}


@dataclass
class Household:
    """One family and everything it owns, by the URL parameter that would name it."""

    account: Account
    foyer_id: int
    ids: dict[str, list[int]] = field(default_factory=dict)
    markers: list[str] = field(default_factory=list)  # what only this family's pages show


def family_routes(app: Flask) -> list[Rule]:
    """Every route of the family space: the famille blueprint and the account pages in it."""
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith("famille.") or rule.rule.startswith("/famille/")
        ),
        key=lambda rule: (rule.rule, rule.endpoint),
    )


def methods_of(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - IGNORED_METHODS)


def owned_arguments(rule: Rule) -> list[str]:
    """The rule's parameters naming a foyer's things; fails on a parameter nobody mapped."""
    unknown = rule.arguments - set(OWNED_PARAMETERS) - set(PUBLIC_PARAMETERS)
    assert not unknown, (
        f"{rule.endpoint} ({rule.rule}) has parameters {sorted(unknown)} that this test cannot "
        "fill: map them in OWNED_PARAMETERS (with the objects they name) or PUBLIC_PARAMETERS"
    )
    return sorted(rule.arguments & set(OWNED_PARAMETERS))


def household(
    app: Flask, session: Session, clock: FrozenClock, name: str, child_name: str
) -> Household:
    """A foyer with a child, documents (one replaced), a draft and a submitted demande."""
    foyer = make_foyer(session, clock, label=f"Famille {name}")
    child = FoyerMember(
        role=MemberRole.ENFANT, first_name=child_name, last_name=name, birth_date=date(2025, 2, 3)
    )
    foyer.members.append(child)
    session.commit()
    account = make_account(session, clock, Role.FAMILLE, foyer_id=foyer.id)
    home = f"domicile-{name.lower()}.pdf"
    old = deposit(app, session, foyer.id, filename=home, issued_on=date(2026, 7, 1))
    papers = [
        runtime(app).vault.deposit(
            session,
            Upload(
                foyer_id=foyer.id,
                type_code=old.type_code,
                filename=home,
                stream=io.BytesIO(demo_pdf(home)),
                issued_on=date(2026, 8, 1),
                replaces_id=old.id,
            ),
        ),
        deposit(app, session, foyer.id, "avis_imposition", issued_on=date(2026, 4, 15)),
        deposit(
            app, session, foyer.id, "carnet_vaccination",
            issued_on=date(2025, 6, 1), member_id=child.id,
        ),
    ]  # fmt: skip
    actor = FamilyActor(account.id, foyer.id)
    ctx = EngineContext(clock=clock, vault=runtime(app).vault)
    draft = demandes.create_draft(session, ctx, actor, "creche")
    sent = demandes.create_draft(session, ctx, actor, "creche")
    form = {"enfant": str(child.id), "date_entree": "2027-01-04", "jours": "4"}
    demandes.submit(session, ctx, actor, sent.id, form, [paper.id for paper in papers])
    task_ids = list(session.scalars(select(Task.id).where(Task.demande_id == sent.id)))
    assert task_ids, "the submitted demande has no task to point at"
    assert sent.number is not None
    newcomer = f"arrivant-{name.lower()}@test.example"  # asks to join with a family code
    join_id = _ask_to_join(session, clock, foyer.id, newcomer)
    # Its whole vault, exported in the background and ready to download (coffre.portability).
    prepared.request_export(session, clock, FamilyReader(account.id, foyer.id))
    prepared.build_pending(session, runtime(app).vault, portability.data_files)
    export = prepared.latest(session, foyer.id)
    assert export is not None and export.ready_at is not None
    reader = FamilyReader(account.id, foyer.id)
    service = session.scalars(select(Service).where(Service.code == "petite-enfance")).one()
    thread = threads.open_thread(  # the family wrote to the service, sharing a document
        session, clock, reader,
        threads.NewThread(service.id, f"Objet {name}", "Bonjour", document_ids=[papers[1].id]),
        Links(family=str, agent=str),
    )  # fmt: skip
    # News to every foyer there is so far: family A's reaches A alone (B comes after).
    supervisor = make_account(session, clock, Role.AGENT)
    news = publish_news(
        session, clock, Author(supervisor.id, frozenset({service.id})),
        Draft(service.id, f"Nouvelles {name}", "Texte", Criteria()),
    )  # fmt: skip
    return Household(
        account=account,
        foyer_id=foyer.id,
        ids={
            "document_id": [old.id, *(paper.id for paper in papers)],
            "demande_id": [draft.id, sent.id],
            "task_id": task_ids,
            "child_id": [child.id],
            "member_id": [member.id for member in foyer.members],
            "join_id": [join_id],
            "export_id": [export.id],
            "news_id": [news.id],
            "thread_id": [thread.id],
        },
        markers=[f"Famille {name}", home, child_name, newcomer, f"Objet {name}", sent.number],
    )


def _ask_to_join(session: Session, clock: FrozenClock, foyer_id: int, email: str) -> int:
    code, one_time = activation.issue_family_code(session, clock, foyer_id)
    newcomer = activation.activate_with_code(
        session, clock, family_code=code, one_time_code=one_time, email=email,
        password="un mot de passe solide 2026", link="/",
    )  # fmt: skip
    return session.scalars(
        select(JoinRequest.id).where(JoinRequest.account_id == newcomer.id)
    ).one()


@pytest.fixture
def families(app: Flask, db_session: Session, clock: FrozenClock) -> tuple[Household, Household]:
    """Family A (the victim) and family B (the one logged in), both fully furnished."""
    service = make_service(db_session, code="petite-enfance")
    service.name = "Service petite enfance"
    definition, bpmn = catalogue.read_built_in("creche")
    catalogue.publish(db_session, clock, definition, bpmn, None)
    db_session.commit()
    return (
        household(app, db_session, clock, "Aubertin", "Zéphyrine"),
        household(app, db_session, clock, "Bertrand", "Octave"),
    )


def snapshot(session: Session, family: Household) -> dict[str, list[tuple[Any, ...]]]:
    """Every row that holds family A's data, as it is now in the database."""
    demande_ids = select(Demande.id).where(Demande.foyer_id == family.foyer_id)
    document_ids = select(Document.id).where(Document.foyer_id == family.foyer_id)
    wheres = [
        (Foyer, Foyer.id == family.foyer_id),
        (FoyerMember, FoyerMember.foyer_id == family.foyer_id),
        (Account, Account.foyer_id == family.foyer_id),
        (JoinRequest, JoinRequest.foyer_id == family.foyer_id),
        (Document, Document.foyer_id == family.foyer_id),
        (Grant, Grant.document_id.in_(document_ids)),
        (DocumentRead, DocumentRead.document_id.in_(document_ids)),
        (JournalEntry, JournalEntry.foyer_id == family.foyer_id),
        (Demande, Demande.foyer_id == family.foyer_id),
        (Task, Task.demande_id.in_(demande_ids)),
        (DemandeEvent, DemandeEvent.demande_id.in_(demande_ids)),
    ]
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for model, where in wheres:
        table: Table = model.__table__  # type: ignore[assignment]
        query = select(table).where(where).order_by(*table.primary_key.columns)
        rows[table.name] = [tuple(row) for row in session.execute(query)]
    return rows


def url_cases(rule: Rule, victim: Household, intruder: Household) -> Iterator[dict[str, Any]]:
    """The victim's ids in every owned parameter, then in one parameter at a time.

    Mixing in the intruder's own ids for the other parameters checks that each parameter is
    checked on its own (B's demande with A's document, and so on).
    """
    owned = owned_arguments(rule)
    public = {name: PUBLIC_PARAMETERS[name] for name in rule.arguments if name in PUBLIC_PARAMETERS}
    for values in itertools.product(*(victim.ids[name] for name in owned)):
        yield {**public, **dict(zip(owned, values, strict=True))}
    if len(owned) > 1:
        for name in owned:
            for value in victim.ids[name]:
                mixed = {other: intruder.ids[other][-1] for other in owned if other != name}
                yield {**public, **mixed, name: value}


def request(client: FlaskClient, method: str, path: str, token: str) -> Any:
    if method == "POST":
        return client.post(path, data={"csrf_token": token})
    return client.open(path, method=method)


def shown_text(response: Any) -> str:
    """What a reader gets: the page's text, or the names and contents of a ZIP export."""
    if response.mimetype != "application/zip":
        return page_text(response)
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        names = archive.namelist()
        return "\n".join(names + [archive.read(n).decode("utf-8", "replace") for n in names])


def test_every_family_route_with_another_familys_ids_is_not_found(
    app: Flask, client: FlaskClient, db_session: Session, families: tuple[Household, Household]
) -> None:
    victim, intruder = families
    assert log_in(client, intruder.account.email).status_code == 302
    token = csrf_token(client, "/famille/demarches")
    before = snapshot(db_session, victim)
    answers: dict[str, int] = {}
    walked = set()

    for rule in family_routes(app):
        if not owned_arguments(rule):
            continue
        for values, method in itertools.product(
            url_cases(rule, victim, intruder), methods_of(rule)
        ):
            with app.test_request_context():
                path = app.url_for(rule.endpoint, **values)
            answers[f"{method} {path}"] = request(client, method, path, token).status_code
            walked.add(rule.endpoint)
    # An id in the query string: replacing one of A's documents by a new version.
    replace = f"/famille/coffre/ajouter?remplace={victim.ids['document_id'][-1]}"
    answers[f"GET {replace}"] = client.get(replace).status_code

    assert {"famille.voir", "famille.demande", "famille.demande_retirer"} <= walked
    assert {key: status for key, status in answers.items() if status != 404} == {}
    assert snapshot(db_session, victim) == before


def test_pages_without_ids_show_only_the_logged_in_familys_data(
    app: Flask, client: FlaskClient, db_session: Session, families: tuple[Household, Household]
) -> None:
    victim, intruder = families
    assert log_in(client, intruder.account.email).status_code == 302
    token = csrf_token(client, "/famille/demarches")
    before = snapshot(db_session, victim)
    leaks: dict[str, list[str]] = {}
    statuses: dict[str, int] = {}

    own_pages = [rule for rule in family_routes(app) if not owned_arguments(rule)]
    # A confirmed deletion would log B out: that page is posted last (unconfirmed here).
    own_pages.sort(key=lambda rule: rule.endpoint == "famille.supprimer_compte")
    for rule in own_pages:
        with app.test_request_context():
            path = app.url_for(rule.endpoint, **{n: PUBLIC_PARAMETERS[n] for n in rule.arguments})
        for method in methods_of(rule):
            response = request(client, method, path, token)
            statuses[f"{method} {path}"] = response.status_code
            shown = [marker for marker in victim.markers if marker in shown_text(response)]
            if shown:
                leaks[f"{method} {path}"] = shown

    assert leaks == {}
    assert {key: status for key, status in statuses.items() if status >= 500} == {}
    assert statuses["GET /famille/coffre"] == statuses["GET /famille/demandes"] == 200
    own = page_text(client.get("/famille/demandes"))
    assert intruder.markers[-1] in own, "B's own demande number is listed on its page"
    export = shown_text(client.get("/famille/coffre/export"))
    assert intruder.markers[1] in export, "B's export holds B's documents"
    assert snapshot(db_session, victim) == before


def test_the_same_routes_with_the_familys_own_ids_are_found(
    app: Flask, client: FlaskClient, families: tuple[Household, Household]
) -> None:
    """The 404s above come from ownership, not from URLs this test builds wrong."""
    _, owner = families
    assert log_in(client, owner.account.email).status_code == 302
    found: dict[str, int] = {}

    for rule in family_routes(app):
        owned = owned_arguments(rule)
        if not owned or "GET" not in methods_of(rule):
            continue
        values = {name: owner.ids[name][-1] for name in owned}
        with app.test_request_context():
            path = app.url_for(rule.endpoint, **values)
        found[path] = client.get(path).status_code

    assert found, "no family route with ids answers GET"
    assert {path: status for path, status in found.items() if status == 404} == {}
