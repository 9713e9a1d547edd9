"""Every reference model of the OMG interchange suite (MIWG) uploaded through the import page by
a global administrator: accepted and turned into a draft opened in the designer, or refused with
a 422 page listing reasons that name the unsupported elements; never a 5xx or a traceback.

The expectations per file are the domain test's table
(tests/procedures/designer/test_importing.py)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from accounts.models import Role
from coffre.clock import FrozenClock
from procedures.models import ProcedureDraft
from tests.factories import make_account, page_text
from tests.procedures.designer.test_importing import MIWG, MIWG_EXPECTED, miwg_file
from tests.web.agents import sign_in_agent

IMPORT_PAGE = "/admin/procedures/import"
# Every .bpmn of the folder, and every file the table pins (so a missing folder still yields
# one test per file, which fails under CI=true and skips elsewhere).
CORPUS = sorted({path.name for path in MIWG.glob("*.bpmn")} | set(MIWG_EXPECTED))


@pytest.fixture
def admin_client(client: FlaskClient, db_session: Session, clock: FrozenClock) -> FlaskClient:
    admin = make_account(db_session, clock, Role.ADMIN, display_name="Alice Admin")
    assert sign_in_agent(client, admin).status_code == 302
    return client


def procedure_code(name: str) -> str:
    """`A.1.0.bpmn` → `miwg-a-1-0`: a new procedure per file."""
    return "miwg-" + Path(name).stem.lower().replace(".", "-")


def upload(client: FlaskClient, code: str, content: bytes, name: str) -> TestResponse:
    page = page_text(client.get(IMPORT_PAGE))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    return client.post(
        IMPORT_PAGE,
        data={"csrf_token": token.group(1), "code": code, "fichier": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def listed_reasons(page: str) -> list[tuple[str, str, str]]:
    """(code, element id, message) of each reason in the refusal box."""
    box = re.search(r'<div[^>]*id="import-refus".*?</ul>', page, re.S)
    assert box, "no refusal box on the page"
    items = re.findall(
        r'<li data-code="([^"]*)" data-element="([^"]*)">(.*?)</li>', box.group(0), re.S
    )
    return [(code, element, message.strip()) for code, element, message in items]


@pytest.mark.parametrize("name", CORPUS)
def test_each_miwg_model_uploaded_is_accepted_into_the_designer_or_refused_by_element(
    admin_client: FlaskClient, db_session: Session, name: str
) -> None:
    content = miwg_file(name).read_bytes()
    code = procedure_code(name)

    response = upload(admin_client, code, content, name)

    assert response.status_code < 500
    text = page_text(response)
    assert "Traceback" not in text
    db_session.expire_all()
    draft = db_session.get(ProcedureDraft, code)
    codes, elements = MIWG_EXPECTED.get(name, (None, set()))
    if response.status_code == 302:
        assert codes in (None, set()), f"{name} was expected to be refused: {codes}"
        assert response.headers["Location"].endswith(f"/admin/procedures/{code}/concepteur")
        assert draft is not None and "BPMNDiagram" in draft.bpmn_xml
        designer = admin_client.get(response.headers["Location"])
        assert designer.status_code == 200
        assert f"/admin/procedures/{code}/brouillon.bpmn" in page_text(designer)
        served = admin_client.get(f"/admin/procedures/{code}/brouillon.bpmn")
        assert served.get_data(as_text=True) == draft.bpmn_xml
        return
    assert response.status_code == 422, f"{name}: {response.status_code}"
    assert draft is None
    assert f"Le fichier {name} a été refusé" in text
    reasons = listed_reasons(text)
    assert reasons and all(message for _code, _element, message in reasons)
    if codes is not None:
        assert {reason_code for reason_code, _element, _message in reasons} == codes
    # At least one reason points at an element of the file (the designer highlights it by id)
    # and names it by its BPMN type.
    assert any(
        element and element.encode() in content and re.search(r"\bbpmn:\w+|\w+ «", message)
        for _code, element, message in reasons
    ), reasons
    for element_type in elements:
        assert f"(bpmn:{element_type})" in text, f"{name}: bpmn:{element_type} not named"
