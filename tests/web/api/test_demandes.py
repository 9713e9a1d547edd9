"""The API's demandes through HTTP: scoping, pagination, shared documents, writes, errors."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from coffre.models import DocumentRead
from interop import clients
from interop.models import ApiCall
from notifications.models import OutboxMessage
from procedures.models import Demande, DemandeStatus, Task, TaskState
from tests.factories import make_service
from tests.procedures.flows import open_task
from tests.web.agent.test_demande import Case
from tests.web.api.conftest import ApiClient, bearer, make_client, token_for


def test_a_client_lists_and_reads_the_demandes_of_its_entity(
    client: FlaskClient, case: Case, token: str
) -> None:
    listed = client.get("/api/v1/demandes", headers=bearer(token))

    assert listed.status_code == 200
    items = listed.get_json()["items"]
    assert [item["id"] for item in items] == [case.demande_id]
    assert items[0]["status"] == "deposee" and items[0]["procedure"]["code"] == "creche"
    one = client.get(f"/api/v1/demandes/{case.demande_id}", headers=bearer(token)).get_json()
    assert one["child"]["first_name"] == "Léa" and one["child"]["last_name"] == "Lambert"
    assert one["foyer"]["label"] == "Famille Lambert"
    assert case.family.email in one["foyer"]["emails"]
    answers = {field["name"]: field["value"] for field in one["fields"]}
    assert answers["date_entree"] == "2027-01-04"
    assert {d["id"] for d in one["documents"]} == {
        case.address.id,
        case.income.id,
        case.vaccination.id,
    }
    assert one["steps"][0]["workable"] is True


def test_another_entity_sees_nothing(
    client: FlaskClient, db_session: Session, clock: FrozenClock, case: Case
) -> None:
    other = make_client(db_session, clock, make_service(db_session))
    token = token_for(client, other)

    assert client.get("/api/v1/demandes", headers=bearer(token)).get_json()["items"] == []
    answer = client.get(f"/api/v1/demandes/{case.demande_id}", headers=bearer(token))
    assert answer.status_code == 404
    assert answer.mimetype == "application/problem+json"
    path = f"/api/v1/demandes/{case.demande_id}/documents/{case.address.id}/contenu"
    assert client.get(path, headers=bearer(token)).status_code == 404


def test_no_token_a_bad_token_or_a_missing_scope_is_refused(
    client: FlaskClient, db_session: Session, clock: FrozenClock, case: Case, api_client: ApiClient
) -> None:
    no_token = client.get("/api/v1/demandes")
    bad = client.get("/api/v1/demandes", headers=bearer("not-a-token"))
    narrow = token_for(client, api_client, scope="foyers:read")
    outside = client.get("/api/v1/demandes", headers=bearer(narrow))

    assert no_token.status_code == 401 and bad.status_code == 401
    assert no_token.headers["WWW-Authenticate"].lower().startswith("bearer")
    assert no_token.get_json()["title"] == "Unauthorized"
    assert "jeton" in no_token.get_json()["detail"].lower()
    assert outside.status_code == 403
    assert outside.mimetype == "application/problem+json"


def test_a_scope_the_client_was_not_given_gets_no_token(
    client: FlaskClient, db_session: Session, clock: FrozenClock, petite_enfance: Service
) -> None:
    narrow = make_client(db_session, clock, petite_enfance, scopes="foyers:read")
    answer = client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials", "scope": "demandes:write"},
        auth=(narrow.client_id, narrow.secret),
    )

    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_scope"


def test_a_wrong_secret_gets_no_token(client: FlaskClient, api_client: ApiClient) -> None:
    answer = client.post(
        "/api/v1/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": api_client.client_id,
            "client_secret": api_client.secret + "x",
        },
    )

    assert answer.status_code == 401
    assert answer.get_json()["error"] == "invalid_client"


def test_a_revoked_client_loses_its_tokens_at_once(
    client: FlaskClient, db_session: Session, clock: FrozenClock, case: Case,
    api_client: ApiClient, token: str,
) -> None:  # fmt: skip
    assert client.get("/api/v1/demandes", headers=bearer(token)).status_code == 200
    clients.revoke_client(db_session, clock, api_client.client_id)

    assert client.get("/api/v1/demandes", headers=bearer(token)).status_code == 401


def test_pages_follow_the_cursor_and_updated_since_filters(
    client: FlaskClient, case: Case, token: str, db_session: Session
) -> None:
    first = client.get("/api/v1/demandes?limit=1", headers=bearer(token)).get_json()
    assert first["next_cursor"] is None  # a single demande: one page
    demande = db_session.get(Demande, case.demande_id)
    assert demande is not None
    since = demande.updated_at.isoformat()
    later = client.get(
        "/api/v1/demandes", query_string={"updated_since": since}, headers=bearer(token)
    ).get_json()
    after = client.get(
        "/api/v1/demandes",
        query_string={"updated_since": "2099-01-01T00:00:00+00:00"},
        headers=bearer(token),
    ).get_json()
    bad = client.get("/api/v1/demandes?cursor=zzz", headers=bearer(token))
    too_many = client.get("/api/v1/demandes?limit=5000", headers=bearer(token))

    assert [item["id"] for item in later["items"]] == [case.demande_id]
    assert after["items"] == []
    assert bad.status_code == 400 and bad.mimetype == "application/problem+json"
    assert too_many.status_code == 422 and "limit" in too_many.get_json()["errors"]


def test_reading_a_shared_document_is_journaled_for_the_family(
    client: FlaskClient, case: Case, token: str, db_session: Session
) -> None:
    listed = client.get(f"/api/v1/demandes/{case.demande_id}/documents", headers=bearer(token))
    path = f"/api/v1/demandes/{case.demande_id}/documents/{case.address.id}/contenu"
    content = client.get(path, headers=bearer(token))

    assert {d["type"] for d in listed.get_json()} == {
        "justificatif_domicile", "avis_imposition", "carnet_vaccination"
    }  # fmt: skip
    assert content.status_code == 200 and content.data.startswith(b"%PDF")
    reads = db_session.scalars(
        select(DocumentRead).where(DocumentRead.document_id == case.address.id)
    ).all()
    assert [(r.purpose, r.demande_id) for r in reads] == [("logiciel", case.demande_id)]
    kept = f"/api/v1/demandes/{case.demande_id}/documents/{case.kept.id}/contenu"
    assert client.get(kept, headers=bearer(token)).status_code == 404


def test_completing_a_step_follows_the_inbox_rules(
    client: FlaskClient, case: Case, token: str, db_session: Session
) -> None:
    demande = db_session.get(Demande, case.demande_id)
    assert demande is not None
    task = open_task(db_session, demande)
    path = f"/api/v1/demandes/{case.demande_id}/etapes/{task.id}"

    stale = client.post(path, json={"version": task.row_version + 7}, headers=bearer(token))
    done = client.post(
        path, json={"version": task.row_version, "note": "Dossier complet"}, headers=bearer(token)
    )
    again = client.post(path, json={"version": task.row_version}, headers=bearer(token))
    bad_body = client.post(path, json={"form": "x"}, headers=bearer(token))

    assert stale.status_code == 409
    assert done.status_code == 200, done.data
    assert done.get_json()["status"] == "en_instruction"
    db_session.expire_all()
    assert db_session.get(Task, task.id).state is TaskState.DONE  # type: ignore[union-attr]
    assert again.status_code in (404, 409)
    assert bad_body.status_code == 422 and set(bad_body.get_json()["errors"]) >= {"version"}


def test_a_message_reaches_the_family(
    client: FlaskClient, case: Case, token: str, db_session: Session
) -> None:
    demande = db_session.get(Demande, case.demande_id)
    assert demande is not None
    path = f"/api/v1/demandes/{case.demande_id}/messages"

    sent = client.post(
        path, json={"version": demande.row_version, "text": "Pièce reçue, merci."},
        headers=bearer(token),
    )  # fmt: skip

    assert sent.status_code == 201, sent.data
    history = sent.get_json()["history"]
    assert history[-1]["kind"] == "agent_message" and history[-1]["internal"] is False
    assert db_session.scalars(select(OutboxMessage)).all()
    stale = client.post(
        path, json={"version": demande.row_version, "text": "Encore"}, headers=bearer(token)
    )
    assert stale.status_code == 409


def test_every_call_is_journaled(
    client: FlaskClient, case: Case, token: str, db_session: Session
) -> None:
    client.get("/api/v1/demandes", headers=bearer(token))
    client.get("/api/v1/demandes/999999", headers=bearer(token))

    calls = db_session.scalars(select(ApiCall).order_by(ApiCall.id)).all()
    assert [(c.method, c.resource, c.status) for c in calls] == [
        ("GET", "/api/v1/demandes", 200),
        ("GET", "/api/v1/demandes/999999", 404),
    ]
    assert calls[0].operation == "demandes.Demandes"


def test_refused_statuses_are_the_demande_statuses(
    client: FlaskClient, case: Case, token: str
) -> None:
    answer = client.get("/api/v1/demandes?status=nope", headers=bearer(token))
    deposee = client.get(f"/api/v1/demandes?status={DemandeStatus.DEPOSEE.value}",
                         headers=bearer(token))  # fmt: skip
    closed = client.get("/api/v1/demandes?status=acceptee", headers=bearer(token))

    assert answer.status_code == 422 and "status" in answer.get_json()["errors"]
    assert [d["id"] for d in deposee.get_json()["items"]] == [case.demande_id]
    assert closed.get_json()["items"] == []
