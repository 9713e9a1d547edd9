"""Who may reach what: every route of the URL map × every kind of visitor.

The routes come from `app.url_map`, so a new route cannot escape: a route without a rule
below fails the test that lists them. Each cell expects one exact answer: the page works
(200, or the answer `ALLOWED` gives the few pages that redirect or refuse the object's
state), the visitor is sent to log in, refused (403), or told the thing does not exist
(404: another family's or another entity's objects are never confirmed to exist). Public
routes answer every visitor alike, with the code their rule names.

GET cells are requested as they are. A POST cell that must be refused is sent with a valid
CSRF token (so the refusal comes from the authorization, not the token); a POST cell that
is allowed is sent without a token and must be refused as a forged request (400) without
changing anything: what the allowed POSTs do is tested route by route elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from accounts import activation
from accounts.models import Account, AgentService, JoinRequest, Role, Service
from coffre.clock import FrozenClock
from coffre.consent import FamilyReader
from coffre.models import Foyer, FoyerMember, MemberRole
from coffre.portability import prepared
from interop import clients, portability, webhooks
from messagerie import threads
from messagerie.audience import Criteria
from messagerie.news import Author, Draft
from messagerie.news import publish as publish_news
from messagerie.notices import Links
from procedures import demandes
from procedures.history import EngineContext
from procedures.inbox.saved_filters import save_filter
from reservations import activities, custody
from tests.factories import make_account, make_service
from tests.procedures.flows import open_task, publish
from tests.reservations.test_bookings import make_activity, open_days
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import log_in
from tests.web.conftest import deposit
from web.runtime import runtime

ACTORS = (
    "anonyme",
    "famille_a",
    "famille_b",
    "agent_autre_entite",
    "agent_du_service",
    "superviseur",
    "admin",
)
OK, LOGIN, FORBIDDEN, NOT_FOUND, CSRF = "ok", "login", "403", "404", "csrf"


@dataclass(frozen=True)
class Scene:
    """Family A's crèche demande, handled by the service; family B and the others look on."""

    ids: dict[str, str]  # URL parameter name → A's object (or the service's)
    accounts: dict[str, Account]


@pytest.fixture
def scene(app: Flask, db_session: Session, clock: FrozenClock) -> Scene:
    # The service runs the town's counter; the other entity's (a partner's) does not.
    service = make_service(db_session, code="petite-enfance", runs_counter=True)
    # The other entity (a partner) runs the sports school and conservatoire: its agents draw
    # the courses' places (/agent/tirages), the town's service does not.
    other_service = make_service(db_session, code="sports-culture")
    publish(db_session, clock, "creche")
    publish(db_session, clock, "ecole_municipale")
    family_a = make_account(db_session, clock, Role.FAMILLE)
    family_b = make_account(db_session, clock, Role.FAMILLE)
    foyer = db_session.get(Foyer, family_a.foyer_id)
    assert foyer is not None
    child = FoyerMember(role=MemberRole.ENFANT, first_name="Léa", last_name="Test")
    foyer.members.append(child)
    db_session.commit()
    documents = [
        deposit(app, db_session, foyer.id, "justificatif_domicile"),
        deposit(app, db_session, foyer.id, "avis_imposition", issued_on=date(2026, 4, 15)),
        deposit(
            app, db_session, foyer.id, "carnet_vaccination", member_id=child.id,
            issued_on=date(2025, 1, 10),
        ),
    ]  # fmt: skip
    ctx = EngineContext(clock=clock, vault=runtime(app).vault)
    actor = demandes.FamilyActor(family_a.id, foyer.id)
    draft = demandes.create_draft(db_session, ctx, actor, "creche")
    form = {"enfant": str(child.id), "date_entree": "2027-01-04", "jours": "4"}
    demande = demandes.submit(db_session, ctx, actor, draft.id, form, [d.id for d in documents])
    agent = _agent(db_session, clock, service, supervisor=False)
    supervisor = _agent(db_session, clock, service, supervisor=True)
    outsider = _agent(db_session, clock, other_service, supervisor=True)
    saved = save_filter(db_session, clock, agent.id, "Mes crèches", "procedure=creche")
    canteen = make_activity(db_session, service)
    slot = open_days(db_session, canteen, date(2026, 9, 14), date(2026, 9, 14))[date(2026, 9, 14)]
    # Léa lives with family A one week and with family B the next.
    foyer_b = db_session.get(Foyer, family_b.foyer_id)
    assert foyer_b is not None
    lea_b = FoyerMember(role=MemberRole.ENFANT, first_name="Léa", last_name="Test")
    foyer_b.members.append(lea_b)
    db_session.flush()
    activities.enrol(db_session, clock, canteen.id, child.id, date(2026, 9, 1), date(2027, 7, 3))
    shared = custody.share(db_session, clock, child.id, lea_b.id, date(2026, 9, 14))
    db_session.commit()
    code, one_time = activation.issue_family_code(db_session, clock, foyer.id)
    newcomer = activation.activate_with_code(
        db_session, clock, family_code=code, one_time_code=one_time,
        email="arrivant@test.example", password="un mot de passe solide 2026", link="/",
    )  # fmt: skip
    join_id = db_session.scalars(
        select(JoinRequest.id).where(JoinRequest.account_id == newcomer.id)
    ).one()
    admin = make_account(db_session, clock, Role.ADMIN)
    endpoint = webhooks.create_endpoint(
        db_session, clock, admin.id, entity_id=service.entity_id, url="https://bo.test/hook",
        events=["demande.acceptee"], secret_key="k" * 40, production=False,
    ).endpoint  # fmt: skip
    software = clients.create_client(
        db_session, clock, entity_slug=service.entity.slug, name="Logiciel", scopes="foyers:read"
    ).client
    # Family A's vault exported in the background, ready to download (coffre.portability.prepared).
    prepared.request_export(db_session, clock, FamilyReader(family_a.id, foyer.id))
    prepared.build_pending(db_session, runtime(app).vault, portability.data_files)
    export = prepared.latest(db_session, foyer.id)
    assert export is not None
    # News of the canteen's families (messagerie.news): A's child eats there, B's Léa does not.
    item = publish_news(
        db_session, clock, Author(supervisor.id, frozenset({service.id})),
        Draft(service.id, "Menu", "Frites", Criteria(activity_id=canteen.id)),
    )  # fmt: skip
    # Family A wrote to the service, sharing its first document (messagerie.threads).
    thread = threads.open_thread(
        db_session, clock, FamilyReader(family_a.id, foyer.id),
        threads.NewThread(service.id, "Objet", "Bonjour", document_ids=[documents[0].id]),
        Links(family=str, agent=str),
    )  # fmt: skip
    return Scene(
        ids={
            "demande_id": str(demande.id),
            "export_id": str(export.id),
            "news_id": str(item.id),
            "thread_id": str(thread.id),
            "document_id": str(documents[0].id),
            "task_id": str(open_task(db_session, demande).id),
            "child_id": str(child.id),
            "foyer_id": str(foyer.id),
            "filter_id": str(saved.id),
            "code": "creche",
            "token": "jeton-invalide",
            "agent_id": str(agent.id),
            "service_id": str(service.id),
            "entity_id": str(service.entity_id),
            "number": "1",
            "join_id": str(join_id),
            "session_id": str(slot),
            "activity_id": str(canteen.id),
            "custody_id": str(shared.id),
            "endpoint_id": str(endpoint.id),
            "client_pk": str(software.id),
            "identifier": "1",  # the information's first version
            "course": "piano",  # a course of the sports school and conservatoire
        },
        accounts={
            "famille_a": family_a,
            "famille_b": family_b,
            "agent_autre_entite": outsider,
            "agent_du_service": agent,
            "superviseur": supervisor,
            "admin": admin,
        },
    )


def _agent(session: Session, clock: FrozenClock, service: Service, *, supervisor: bool) -> Account:
    account = make_account(session, clock, Role.AGENT)
    session.add(
        AgentService(account_id=account.id, service_id=service.id, is_supervisor=supervisor)
    )
    session.commit()
    return account


# The rules. `owned` routes name an object of family A / handled by the service in their URL.

Expect = Callable[[str, Rule], str]


@dataclass(frozen=True)
class Public:
    """A route open to every visitor, answering all alike: `get` to a GET, `post` to a POST
    of an empty form with a valid CSRF token."""

    get: str
    post: str = "400"  # the form's errors


INVALID_TOKEN = Public("400", "400")  # a link whose token is not one (the scene's)
# The REST API: a session cookie opens nothing, only an OAuth bearer token (tests/web/api/).
API_BEARER = Public("401", "401")
NO_LOGIN_UNDER_WAY = Public(LOGIN, LOGIN)  # the second factor's pages, with no password step


def family_space(actor: str, rule: Rule) -> str:
    if actor == "anonyme":
        return LOGIN
    if actor == "famille_a":
        return OK
    if actor == "famille_b":
        return NOT_FOUND if _owned(rule) else OK
    return FORBIDDEN  # agents outside counter mode, administrators


def agent_space(actor: str, rule: Rule) -> str:
    if actor == "anonyme":
        return LOGIN
    if actor in ("famille_a", "famille_b", "admin"):
        return FORBIDDEN
    if actor == "agent_autre_entite" and _owned(rule):
        return NOT_FOUND
    return OK


def supervisors_only(actor: str, rule: Rule) -> str:
    expected = agent_space(actor, rule)
    if expected == OK and actor == "agent_du_service":
        return FORBIDDEN
    return expected


def own_filter(actor: str, rule: Rule) -> str:
    expected = agent_space(actor, rule)
    if expected == OK and actor != "agent_du_service":
        return NOT_FOUND  # another agent's saved filter
    return expected


def counter_services_only(actor: str, rule: Rule) -> str:
    """Creating a household (and its family code) is for the services that run the counter.

    Opening a foyer's space or printing its code follows `agent_space`: another entity's
    agent that never dealt with family A does not learn that its foyer exists.
    """
    expected = agent_space(actor, rule)
    return FORBIDDEN if expected == OK and actor == "agent_autre_entite" else expected


def course_draws_service(actor: str, rule: Rule) -> str:
    """The course draws are for the agents of the service whose lane holds the allocation
    step (the other entity's, in the scene); to any other agent they do not exist."""
    expected = agent_space(actor, rule)
    if expected in (OK, NOT_FOUND) and actor in ("agent_du_service", "superviseur"):
        return NOT_FOUND
    return OK if expected == NOT_FOUND and actor == "agent_autre_entite" else expected


def school_teams_only(actor: str, rule: Rule) -> str:
    """A care plan (PAI) opens only to the team of the child's school it was shared with
    (tests/web/famille/test_pai.py); no agent of the scene is one, so to every agent the
    document is not there, however the family shared it elsewhere."""
    expected = agent_space(actor, rule)
    return NOT_FOUND if expected == OK else expected


def admin_space(actor: str, rule: Rule) -> str:
    if actor == "anonyme":
        return LOGIN
    return OK if actor == "admin" else FORBIDDEN


def any_account(actor: str, rule: Rule) -> str:
    return LOGIN if actor == "anonyme" else OK


RULES: dict[str, Expect | Public] = {
    "public.home": Public("200"),
    "public.healthz": Public("200"),
    "public.information_page": Public("200"),
    "public.information_version": Public("200"),
    "api.index": Public("200"),
    "api.docs": Public("200"),
    "api-docs.openapi_json": Public("200"),
    # OAuth's token endpoint: a GET is not allowed, a POST without a grant type refused.
    "api.token": Public("405", "400"),
    "auth.login": Public("200"),
    "auth.logout": any_account,
    "auth.enrolement": NO_LOGIN_UNDER_WAY,
    "auth.second_facteur": NO_LOGIN_UNDER_WAY,
    "auth.inscription": Public("200"),
    "auth.activer": INVALID_TOKEN,
    "auth.activer_confirmer": INVALID_TOKEN,
    "auth.activer_code": Public("200"),
    "auth.mot_de_passe_oublie": Public("200"),
    "auth.nouveau_mot_de_passe": INVALID_TOKEN,
    "auth.choisir_mot_de_passe": INVALID_TOKEN,
    "auth.invitation": INVALID_TOKEN,
    "auth.rejoindre_foyer": INVALID_TOKEN,
    "auth.inviter": family_space,
    # FranceConnect, not configured in this scene: its pages do not exist.
    "auth.franceconnect": Public("404", "404"),
    "auth.franceconnect_retour": Public("404", "404"),
    "auth.franceconnect_lier": Public("404", "404"),
    "auth.franceconnect_delier": family_space,
    "auth.changer_mot_de_passe": family_space,
    "agent.supervision": supervisors_only,
    "agent.supervision_csv": supervisors_only,
    "agent.delete_filter": own_filter,
    "agent.guichet_nouveau_foyer": counter_services_only,
    "agent.tirages": course_draws_service,
    "agent.tirages_attribuer": course_draws_service,
    "agent.tirages_desistement": course_draws_service,
    "agent.tirages_clore": course_draws_service,
    "agent.pai_contenu": school_teams_only,
    "admin.invitation": INVALID_TOKEN,
    # The payment backend's notification: anyone may send one; believed only when signed.
    "paiement.notification": Public("405", "200"),
    # The demo's stand-in bank: refuses any query that is not a payment of this portal's.
    "paiement.banque_fictive": Public("400", "400"),
    "paiement.banque_fictive_payer": Public("400", "400"),
    "admin.invitation_mot_de_passe": INVALID_TOKEN,
    # The demo's e-mails: in development only, nowhere else (tests/web/admin/test_demo_emails.py).
    "admin.courriels": Public("404"),
    "actualites.desabonnement": INVALID_TOKEN,  # the news' unsubscribe link, no login
}
# What an allowed GET answers when it is not the page itself (200).
ALLOWED = {
    "agent.index": "302 /agent/taches",  # the back office opens on the task list
    # Family A's demande is submitted: its draft's steps are closed to changes.
    "famille.demande_formulaire": "409",
    "famille.demande_justificatifs": "409",
    "famille.demande_recapitulatif": "409",
    "admin.procedure_diff": "400",  # no versions chosen to compare
    "agent.presences_export": "400",  # no site chosen
    "famille.factures_retour": "303 /famille/factures",  # back from the bank, to the account
    "famille.information": "302 /famille/",  # accepted already: nothing more to read
}
# A URL parameter whose meaning depends on the route.
OVERRIDES: dict[str, dict[str, str]] = {
    "admin.document_type": {"code": "justificatif_domicile"},
    "admin.document_type_restore": {"code": "justificatif_domicile"},
}
PREFIXES: dict[str, Expect | Public] = {
    "demandes.": API_BEARER,
    "foyers-et-services.": API_BEARER,
    "famille.": family_space,
    "agent.": agent_space,
    "actualites.famille_": family_space,
    "actualites.agent_": supervisors_only,  # targeted news are sent by supervisors
    "messages_famille.": family_space,
    "messages_agent.": agent_space,
    "admin.": admin_space,
}


def rule_for(endpoint: str) -> Expect | Public | None:
    if endpoint in RULES:
        return RULES[endpoint]
    return next((expect for p, expect in PREFIXES.items() if endpoint.startswith(p)), None)


def _owned(rule: Rule) -> bool:
    owned = {
        "demande_id",
        "document_id",
        "task_id",
        "child_id",
        "foyer_id",
        "join_id",
        "session_id",
        "activity_id",
        "custody_id",
        "export_id",
        "news_id",
        "thread_id",
    }
    return bool(rule.arguments & owned)


def routes(app: Flask) -> list[tuple[Rule, str]]:
    return sorted(
        (
            (rule, method)
            for rule in app.url_map.iter_rules()
            if rule.endpoint != "static"
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        ),
        key=lambda pair: (pair[0].rule, pair[1]),
    )


def test_every_route_has_a_rule(app: Flask) -> None:
    missing = sorted({rule.endpoint for rule, _ in routes(app) if rule_for(rule.endpoint) is None})

    assert missing == [], "routes without an authorization rule: add them to RULES"


def outcome(response: TestResponse) -> str:
    """The answer, exactly: its code (with where a redirect leads), or what it means."""
    code = response.status_code
    location = urlsplit(response.headers.get("Location", "")).path
    if code in (302, 303) and location == "/connexion":
        return LOGIN
    if code == 403:
        return FORBIDDEN
    if code == 404:
        return NOT_FOUND
    if code == 400 and "Le formulaire a expiré" in response.get_data(as_text=True):
        return CSRF
    return f"{code} {location}" if 300 <= code < 400 else str(code)


def signed_in(app: Flask, scene: Scene, actor: str) -> FlaskClient:
    client = app.test_client()
    account = scene.accounts.get(actor)
    if account is None:
        return client
    if account.role is Role.FAMILLE:
        assert log_in(client, account.email).status_code == 302
    else:
        assert sign_in_agent(client, account).status_code == 302
    return client


def token_of(client: FlaskClient) -> str:
    """The CSRF token of the client's session, from the first page that carries one."""
    for path in ("/famille/foyer", "/agent/taches", "/admin/", "/connexion"):
        page = client.get(path).get_data(as_text=True)
        found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
        if found:
            return found.group(1)
    raise AssertionError("no page gave a CSRF token")


def expected_answer(actor: str, rule: Rule, method: str) -> str:
    """The cell's answer: an allowed POST sent without a token must be refused as forged."""
    expect = rule_for(rule.endpoint)
    assert expect is not None
    if isinstance(expect, Public):
        return expect.get if method == "GET" else expect.post
    expected = expect(actor, rule)
    if expected != OK:
        return expected
    return ALLOWED.get(rule.endpoint, "200") if method == "GET" else CSRF


@pytest.mark.parametrize("actor", ACTORS)
def test_each_route_answers_each_visitor_as_its_rule_says(
    app: Flask, scene: Scene, actor: str
) -> None:
    client = signed_in(app, scene, actor)
    token = token_of(client)
    wrong: list[str] = []
    for rule, method in routes(app):
        if rule.endpoint == "auth.logout":
            continue  # would end the session the other cells need; checked on its own below
        expected = expected_answer(actor, rule, method)
        path = _path(rule, scene)
        if method == "GET":
            got = outcome(client.get(path))
        elif expected == CSRF:
            got = outcome(client.post(path, data={}))
        else:
            got = outcome(client.post(path, data={"csrf_token": token}))
        if got != expected:
            wrong.append(f"{method} {path} ({rule.endpoint}): expected {expected}, got {got}")

    assert wrong == []


def test_logout_needs_the_csrf_token(app: Flask, scene: Scene) -> None:
    client = signed_in(app, scene, "famille_a")
    token = token_of(client)

    assert outcome(client.post("/deconnexion", data={})) == CSRF
    assert client.get("/famille/").status_code == 200
    assert client.post("/deconnexion", data={"csrf_token": token}).status_code == 302
    assert outcome(client.get("/famille/")) == LOGIN


def _path(rule: Rule, scene: Scene) -> str:
    unknown = rule.arguments - scene.ids.keys()
    assert not unknown, f"{rule.rule}: no object for {sorted(unknown)}; add it to the scene"
    values = {name: scene.ids[name] for name in rule.arguments} | OVERRIDES.get(rule.endpoint, {})
    return rule.build(values, append_unknown=False)[1]


# The one page whose editors (form-js, dmn-js) style themselves inline.
INLINE_STYLES = frozenset({"admin.procedure_designer"})

# Executable inline code the Content-Security-Policy would block: a script without src (data
# blocks typed application/json are not run), an on* handler, a style attribute.
INLINE_CODE = re.compile(
    r"<script(?![^>]*\b(?:src|type=\"application/json\"))[^>]*>|\son[a-z]+=|\sstyle=",
    re.IGNORECASE,
)


@pytest.mark.parametrize("actor", ACTORS)
def test_no_page_of_the_url_map_carries_inline_code(app: Flask, scene: Scene, actor: str) -> None:
    client = signed_in(app, scene, actor)
    pages, inline = [], []
    for rule, method in routes(app):
        if method != "GET":
            continue
        response = client.get(_path(rule, scene))
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        pages.append(rule.rule)
        policy = response.headers["Content-Security-Policy"]
        if rule.endpoint in INLINE_STYLES:
            # Styles only, for the editors' own; scripts stay the portal's files.
            assert "script-src 'self';" in policy
            assert "style-src 'self' 'unsafe-inline'" in policy
            assert policy.count("unsafe-inline") == 1
        else:
            assert "unsafe-inline" not in policy
        found = INLINE_CODE.search(response.get_data(as_text=True))
        if found:
            inline.append(f"{rule.rule}: {found.group(0)}")

    assert pages  # every visitor reaches some pages: the public ones at least
    assert inline == []
