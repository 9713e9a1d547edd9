"""The household page: a child's school, PAI flag and allergies, shown and edited."""

from __future__ import annotations

from datetime import date

from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from accounts.household import add_child
from accounts.models import Account, Role
from coffre.clock import FrozenClock
from coffre.models import FoyerMember
from tests.factories import make_account, page_text
from tests.web.auth.test_login import csrf_token


def a_child(session: Session, family: Account) -> int:
    assert family.foyer_id is not None
    return add_child(
        session, family.foyer_id, first_name="Léa", last_name="Test", birth_date=date(2019, 3, 2)
    )


def add_lea(client: FlaskClient, **fields: str) -> TestResponse:
    """Add the child Léa through the household page, with these other fields."""
    data = {
        "csrf_token": csrf_token(client, "/famille/foyer"),
        "enfant-first_name": "Léa",
        "enfant-last_name": "Test",
        "enfant-birth_date": "2019-03-02",
    }
    data.update({f"enfant-{name}": value for name, value in fields.items()})
    return client.post("/famille/foyer/enfants", data=data)


def edit(client: FlaskClient, child_id: int, **fields: str) -> tuple[int, str]:
    path = f"/famille/foyer/enfants/{child_id}"
    data = {"csrf_token": csrf_token(client, path)}
    data.update({f"details-{name}": value for name, value in fields.items()})
    response = client.post(path, data=data)
    return response.status_code, page_text(response)


def test_a_child_is_added_with_its_school_and_pai(
    family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    added = add_lea(
        family_client, school="École Jules Ferry", has_pai="y", allergies="Arachide, fruits à coque"
    )

    assert added.status_code == 302
    page = page_text(family_client.get("/famille/foyer"))
    assert "École : École Jules Ferry" in page
    assert "PAI : oui" in page
    assert "Allergies ou besoins de santé : Arachide, fruits à coque" in page


def test_adding_a_child_with_a_pai_but_no_allergies_is_refused(
    family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    response = add_lea(family_client, has_pai="y")

    assert response.status_code == 400
    assert "Décrivez les allergies ou les besoins de santé que couvre le PAI." in page_text(
        response
    )
    assert db_session.query(FoyerMember).filter_by(first_name="Léa").count() == 0


def test_the_edit_page_shows_then_saves_the_details(
    family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    child_id = a_child(db_session, family)
    household = page_text(family_client.get("/famille/foyer"))
    assert "École : non renseignée" in household and "PAI : non" in household
    assert "Modifier la scolarité et la santé de Léa" in household

    form = family_client.get(f"/famille/foyer/enfants/{child_id}")
    assert form.status_code == 200
    assert "Scolarité et santé de Léa" in page_text(form)

    status, _ = edit(
        family_client, child_id, school="École du Centre", has_pai="y", allergies="Gluten"
    )

    assert status == 302
    child = db_session.get(FoyerMember, child_id)
    assert child is not None
    db_session.refresh(child)
    assert (child.school, child.has_pai, child.allergies) == ("École du Centre", True, "Gluten")
    prefilled = family_client.get(f"/famille/foyer/enfants/{child_id}").get_data(as_text=True)
    assert 'value="École du Centre"' in prefilled and "Gluten</textarea>" in prefilled
    assert 'checked id="details-has_pai"' in prefilled


def test_the_edit_page_explains_each_refusal_in_french(
    family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    child_id = a_child(db_session, family)

    no_allergies = edit(family_client, child_id, school="École", has_pai="y", allergies=" ")
    long_school = edit(family_client, child_id, school="x" * 201, allergies="")

    assert no_allergies[0] == long_school[0] == 400
    assert "Décrivez les allergies ou les besoins de santé que couvre le PAI." in no_allergies[1]
    assert "200 caractères au maximum." in long_school[1]
    child = db_session.get(FoyerMember, child_id)
    assert child is not None and child.school is None and not child.has_pai


def test_another_familys_child_cannot_be_seen_or_edited(
    family_client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    other = make_account(db_session, clock, Role.FAMILLE)
    child_id = a_child(db_session, other)

    assert family_client.get(f"/famille/foyer/enfants/{child_id}").status_code == 404
    assert edit(family_client, child_id, school="Piratée", allergies="")[0] == 404
    child = db_session.get(FoyerMember, child_id)
    assert child is not None and child.school is None
