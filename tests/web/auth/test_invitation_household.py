"""An invited adult who joins is listed once in the household file (issue 25, point 5)."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from accounts.credentials import find_account
from accounts.models import Account
from coffre.models import Foyer, FoyerMember, MemberRole
from tests.factories import PASSWORD, page_text
from tests.web.auth.test_account import link_in, open_link, post
from tests.web.auth.test_login import csrf_token, log_in


def _join(client: FlaskClient, session: Session, email: str, name: str) -> None:
    """The first adult invites `email`, who opens the e-mailed link and creates the account."""
    assert post(client, "/famille/foyer/inviter", email=email).status_code == 302
    link = link_in(session, "invitation_foyer", email)
    client.post("/deconnexion", data={"csrf_token": csrf_token(client, "/")})
    page = open_link(client, link)
    joined = post(client, page, name=name, password=PASSWORD, confirm=PASSWORD, information="y")
    assert joined.status_code == 302, page_text(joined)
    assert log_in(client, email).status_code == 302


def _adults_listed(client: FlaskClient) -> list[str]:
    """The names under "Adultes du foyer" on the household page, as the family reads them."""
    page = page_text(client.get("/famille/foyer"))
    section = page.split('id="adultes"', 1)[1].split("</ul>", 1)[0]
    return [" ".join(item.split()) for item in re.findall(r"<li>(.*?)</li>", section, re.S)]


@pytest.mark.parametrize("typed", ["Sam Dupont", "  sam   DUPONT ", "Sam"])
def test_an_invited_adult_already_in_the_file_is_listed_once_after_joining(
    family_client: FlaskClient, family: Account, db_session: Session, typed: str
) -> None:
    # The second adult is on the household file before having an account (as the demo's
    # Martin family: Camille signed up, Thomas is listed): the invitation joins them to it.
    foyer = db_session.get(Foyer, family.foyer_id)
    assert foyer is not None
    foyer.members.append(FoyerMember(role=MemberRole.ADULTE, first_name="Sam", last_name="Dupont"))
    db_session.commit()

    _join(family_client, db_session, "sam@example.org", typed)

    assert _adults_listed(family_client) == ["Alex Test", "Sam Dupont"]
    invitee = find_account(db_session, "sam@example.org")
    assert invitee is not None and invitee.foyer_id == family.foyer_id


def test_an_invited_adult_not_in_the_file_is_added_once(
    family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    _join(family_client, db_session, "lou@example.org", "Lou Bernard")

    assert _adults_listed(family_client) == ["Alex Test", "Lou Bernard"]
    foyer = db_session.get(Foyer, family.foyer_id)
    assert foyer is not None
    adults = [m for m in foyer.members if m.role is MemberRole.ADULTE]
    assert len(adults) == 2


def test_a_namesake_child_is_not_taken_for_the_invited_adult(
    family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    foyer = db_session.get(Foyer, family.foyer_id)
    assert foyer is not None
    foyer.members.append(FoyerMember(role=MemberRole.ENFANT, first_name="Sam", last_name="Test"))
    db_session.commit()

    _join(family_client, db_session, "sam@example.org", "Sam Test")

    assert _adults_listed(family_client) == ["Alex Test", "Sam Test"]
