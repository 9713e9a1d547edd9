"""The procedure administration pages through HTTP: list, designer, save, publish, diff,
rollback, import, export and test run."""

from __future__ import annotations

import html
import io
import json
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from accounts.models import Account, Role, Service
from coffre.clock import FrozenClock
from procedures import catalogue
from tests.factories import make_account, make_agent, make_service, page_text
from tests.procedures.bpmn.test_budget import LOOPING, SCRIPT_NAME, with_script
from tests.procedures.designer.test_publication import INTERVIEW, INTERVIEW_DEADLINE, with_interview
from tests.procedures.flows import publish
from tests.web.agents import sign_in_agent

CRECHE = "/admin/procedures/creche"


@pytest.fixture
def petite_enfance(db_session: Session) -> Service:
    return make_service(db_session, code="petite-enfance")


@pytest.fixture
def admin(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> Account:
    publish(db_session, clock, "creche")
    make_agent(db_session, clock, petite_enfance)  # the policy wants the service staffed
    return make_account(db_session, clock, Role.ADMIN, display_name="Alice Admin")


@pytest.fixture
def admin_client(client: FlaskClient, admin: Account) -> FlaskClient:
    assert sign_in_agent(client, admin).status_code == 302
    return client


def designer_token(client: FlaskClient) -> str:
    match = re.search(r'data-csrf="([^"]+)"', page_text(client.get(CRECHE + "/concepteur")))
    assert match
    return match.group(1)


def form_token(client: FlaskClient, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page_text(client.get(path)))
    assert match
    return match.group(1)


def save(client: FlaskClient, bpmn: str, metadata: str, token: str | None = None) -> object:
    headers = {"X-CSRFToken": token or designer_token(client)}
    return client.post(
        CRECHE + "/brouillon", json={"bpmn": bpmn, "metadata": metadata}, headers=headers
    )


def current_draft(client: FlaskClient) -> tuple[str, str]:
    bpmn = client.get(CRECHE + "/brouillon.bpmn").get_data(as_text=True)
    page = page_text(client.get(CRECHE + "/concepteur"))
    match = re.search(r'name="metadata"[^>]*>(.*?)</textarea>', page, re.S)
    assert match
    return bpmn, match.group(1)


def test_only_administrators_reach_the_procedure_pages(
    client: FlaskClient, db_session: Session, clock: FrozenClock, admin: Account
) -> None:
    assert client.get("/admin/procedures").status_code == 302  # to the login page
    agent = make_agent(db_session, clock)
    assert sign_in_agent(client, agent).status_code == 302
    assert client.get("/admin/procedures").status_code == 403
    assert client.get(CRECHE + "/concepteur").status_code == 403


def test_the_list_shows_each_procedure_with_its_current_version(
    admin_client: FlaskClient,
) -> None:
    text = page_text(admin_client.get("/admin/procedures"))
    assert "Pré-inscription en crèche" in text and "creche" in text
    detail = page_text(admin_client.get(CRECHE))
    assert "le système (diagramme intégré)" in detail
    assert admin_client.get("/admin/procedures/inconnue").status_code == 404


def test_the_designer_loads_the_current_diagram_with_a_drawing_and_the_metadata(
    admin_client: FlaskClient,
) -> None:
    page = admin_client.get(CRECHE + "/concepteur")
    assert page.status_code == 200
    text = page_text(page)
    assert "bpmn-modeler.production.min.js" in text and "js/designer.js" in text
    assert 'code = "creche"' in text and "sla_hours = 48" in text
    bpmn = admin_client.get(CRECHE + "/brouillon.bpmn")
    assert bpmn.mimetype == "application/bpmn+xml"
    assert 'bpmnElement="verifier_dossier"' in bpmn.get_data(as_text=True)
    download = admin_client.get(CRECHE + "/brouillon.bpmn?telecharger=1")
    assert 'filename="creche-brouillon.bpmn"' in download.headers["Content-Disposition"]


def test_saving_answers_the_problems_with_their_element_ids_and_needs_the_csrf_token(
    admin_client: FlaskClient,
) -> None:
    bpmn, metadata = current_draft(admin_client)
    outside = bpmn.replace("<bpmn:flowNodeRef>verifier_dossier</bpmn:flowNodeRef>", "")

    refused = admin_client.post(CRECHE + "/brouillon", json={"bpmn": outside, "metadata": metadata})
    assert refused.status_code == 400  # no CSRF token

    answer = save(admin_client, outside, metadata)
    assert answer.status_code == 200  # type: ignore[attr-defined]
    body = answer.get_json()  # type: ignore[attr-defined]
    assert body["saved"] is True
    assert body["problems"] == [
        {
            "element_id": "verifier_dossier",
            "message": "userTask « Vérifier la complétude du dossier » : tâche humaine hors de "
            "tout couloir : placez-la dans le couloir du service qui la traite (ou de la famille) "
            "(id verifier_dossier)",
        }
    ]
    page = page_text(admin_client.get(CRECHE + "/concepteur"))
    assert 'data-element="verifier_dossier"' in page and "Brouillon enregistré le" in page

    publish_page = admin_client.post(
        CRECHE + "/publier", data={"csrf_token": designer_token(admin_client)}
    )
    assert publish_page.headers["Location"].endswith(CRECHE + "/concepteur")
    assert "hors de tout couloir" in page_text(admin_client.get(CRECHE + "/concepteur"))
    assert catalogue_versions(admin_client) == ["1"]


def catalogue_versions(client: FlaskClient) -> list[str]:
    return re.findall(r'data-version="(\d+)"', page_text(client.get(CRECHE)))


def test_publish_diff_and_rollback_through_the_pages(
    admin_client: FlaskClient, db_session: Session
) -> None:
    bpmn, metadata = current_draft(admin_client)
    changed = metadata.replace("sla_hours = 48", "sla_hours = 24") + INTERVIEW_DEADLINE
    assert save(admin_client, with_interview(bpmn), changed).get_json()["problems"] == []  # type: ignore[attr-defined]

    published = admin_client.post(
        CRECHE + "/publier", data={"csrf_token": designer_token(admin_client)}
    )

    assert published.headers["Location"].endswith(CRECHE)
    detail = page_text(admin_client.get(CRECHE))
    assert "La version 2 de creche est publiée." in detail
    assert catalogue_versions(admin_client) == ["2", "1"] and "Alice Admin" in detail
    current = catalogue.current_version(db_session, "creche")
    assert current is not None and INTERVIEW in current.bpmn_xml

    diff = page_text(admin_client.get(CRECHE + "/diff?de=1&a=2"))
    assert re.search(r'<del>\s*"sla_hours": 48,</del>', diff)
    assert re.search(r'<ins>\s*"sla_hours": 24,</ins>', diff)
    assert "Ce qui a changé, élément par élément" in diff
    assert re.search(r"ajouté\s*</p>\s*</td>\s*<td>étape « Entretien avec la famille »</td>", diff)
    assert admin_client.get(CRECHE + "/diff?de=1&a=9").status_code == 404
    assert admin_client.get(CRECHE + "/diff?de=x&a=2").status_code == 400

    token = form_token(admin_client, CRECHE)
    rolled = admin_client.post(CRECHE + "/versions/1/republier", data={"csrf_token": token})
    assert rolled.status_code == 302
    assert "La version 1 est republiée comme version 3." in page_text(admin_client.get(CRECHE))
    current = catalogue.current_version(db_session, "creche")
    assert current is not None and current.version == 3 and INTERVIEW not in current.bpmn_xml
    old = admin_client.get(CRECHE + "/version-2.bpmn?telecharger=1")
    assert INTERVIEW in old.get_data(as_text=True)


def upload(client: FlaskClient, code: str, content: bytes, name: str) -> object:
    token = form_token(client, "/admin/procedures/import")
    return client.post(
        "/admin/procedures/import",
        data={"csrf_token": token, "code": code, "fichier": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def test_an_accepted_import_becomes_the_draft_and_a_refused_one_lists_its_reasons(
    admin_client: FlaskClient,
) -> None:
    _definition, bpmn = catalogue.read_built_in("creche")
    accepted = upload(admin_client, "creche", with_interview(bpmn.decode()).encode(), "c.bpmn")
    assert accepted.headers["Location"].endswith(CRECHE + "/concepteur")  # type: ignore[attr-defined]
    assert INTERVIEW in admin_client.get(CRECHE + "/brouillon.bpmn").get_data(as_text=True)

    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>'
    )
    refused = upload(admin_client, "creche", hostile, "xxe.bpmn")
    assert refused.status_code == 422  # type: ignore[attr-defined]
    text = page_text(refused)  # type: ignore[arg-type]
    assert "Le fichier xxe.bpmn a été refusé" in text
    assert "les déclarations DOCTYPE et ENTITY sont refusées" in text and "root:" not in text

    chart = bpmn.decode().replace(
        "</bpmn:process>", '<bpmn:complexGateway id="sp" /></bpmn:process>'
    )
    unsupported = upload(admin_client, "creche", chart.encode(), "passerelle-complexe.bpmn")
    assert 'data-element="sp"' in page_text(unsupported)  # type: ignore[arg-type]
    assert "bpmn:complexGateway" in page_text(unsupported)  # type: ignore[arg-type]
    assert upload(admin_client, "Pas un code!", bpmn, "c.bpmn").status_code == 400  # type: ignore[attr-defined]


def test_the_test_run_shows_where_each_task_lands(
    admin_client: FlaskClient, petite_enfance: Service
) -> None:
    page = page_text(admin_client.get(CRECHE + "/essai?decision=refus"))
    rows = re.findall(
        r'<tr data-task="([^"]+)">.*?</td>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>', page, re.S
    )
    assert rows == [
        ("verifier_dossier", "Accueil petite enfance", petite_enfance.name),
        ("decision_commission", "Commission petite enfance", petite_enfance.name),
    ]
    assert "Refus <code>End_refus</code>" in page and "« refusée »" in page


def test_a_test_run_past_the_budget_names_the_step_to_simplify(admin_client: FlaskClient) -> None:
    bpmn, metadata = current_draft(admin_client)
    looping = with_script(bpmn, LOOPING, loop=True)
    assert save(admin_client, looping, metadata).get_json()["problems"] == []  # type: ignore[attr-defined]

    response = admin_client.get(CRECHE + "/essai")

    assert response.status_code == 422
    assert re.search(
        rf"Le script de l'étape « ({SCRIPT_NAME}|Encore \?) » dépasse la limite de calcul "
        r"autorisée : simplifiez-le",
        page_text(response).replace("&#39;", "'"),
    )


def test_the_metadata_form_saves_the_draft_without_javascript(admin_client: FlaskClient) -> None:
    bpmn, metadata = current_draft(admin_client)
    edited = html.unescape(metadata).replace(
        "Pré-inscription en crèche", "Crèche : pré-inscription"
    )
    token = form_token(admin_client, CRECHE + "/concepteur")

    saved = admin_client.post(CRECHE + "/brouillon", data={"metadata": edited, "csrf_token": token})

    assert saved.status_code == 302
    assert saved.headers["Location"].endswith(CRECHE + "/concepteur")
    after_bpmn, after_metadata = current_draft(admin_client)
    assert "Crèche : pré-inscription" in html.unescape(after_metadata)
    assert after_bpmn == bpmn  # the form sends only the metadata; the diagram stays


def test_a_draft_over_the_size_limit_from_the_form_is_refused_with_413(
    admin_client: FlaskClient,
) -> None:
    _, metadata = current_draft(admin_client)
    token = form_token(admin_client, CRECHE + "/concepteur")
    too_long = html.unescape(metadata) + "\n# " + "x" * 200_000

    refused = admin_client.post(
        CRECHE + "/brouillon", data={"metadata": too_long, "csrf_token": token}
    )

    assert refused.status_code == 413
    assert "Le brouillon dépasse la taille autorisée : rien n'a été enregistré." in html.unescape(
        page_text(refused)
    )
    assert current_draft(admin_client)[1] == metadata  # the saved draft is untouched


def test_the_designer_lists_what_the_policy_would_refuse_while_editing(
    admin_client: FlaskClient,
) -> None:
    bpmn, metadata = current_draft(admin_client)
    without_deadline = metadata.replace("sla_hours = 48\n", "")

    body = save(admin_client, bpmn, without_deadline).get_json()  # type: ignore[attr-defined]

    assert body["problems"] == []  # the draft is sound: a trial run may go on
    [problem] = body["before_publishing"]
    assert problem["element_id"] == "verifier_dossier"
    assert problem["message"].startswith(
        "étape « Vérifier la complétude du dossier » : aucun délai de traitement."
    )
    page = page_text(admin_client.get(CRECHE + "/concepteur"))
    assert "À corriger avant de publier" in page
    assert 'data-element="verifier_dossier"' in page


def forms_on_page(client: FlaskClient) -> dict[str, dict[str, object]]:
    page = client.get(CRECHE + "/concepteur").get_data(as_text=True)
    match = re.search(r'<script type="application/json" id="designer-formulaires">(.*?)</script>',
                      page, re.S)  # fmt: skip
    assert match
    return {form["key"]: form for form in json.loads(match.group(1))}


def test_forms_built_in_the_form_builder_become_the_metadata_s_fields(
    admin_client: FlaskClient, db_session: Session
) -> None:
    bpmn, metadata = current_draft(admin_client)
    forms = forms_on_page(admin_client)
    assert forms["famille"]["label"] == "Formulaire de la famille"
    assert forms["decision_commission"]["label"] == "Étape « Décision de la commission »"
    family = forms["famille"]["schema"]
    family["components"].append(  # type: ignore[index]
        {"type": "textarea", "key": "remarques", "label": "Remarques pour la commission"}
    )
    headers = {"X-CSRFToken": designer_token(admin_client)}
    body = {"bpmn": bpmn, "metadata": metadata, "forms": {"famille": family},
            "dmn": DECISIONS}  # fmt: skip

    answer = admin_client.post(CRECHE + "/brouillon", json=body, headers=headers)

    assert answer.status_code == 200, answer.get_json()
    saved = answer.get_json()
    assert saved["problems"] == []
    assert 'name = "remarques"\nlabel = "Remarques pour la commission"' in saved["metadata"]
    assert forms_on_page(admin_client)["famille"]["schema"]["components"][-1]["key"] == (  # type: ignore[index]
        "remarques"
    )
    published = admin_client.post(
        CRECHE + "/publier", data={"csrf_token": designer_token(admin_client)}
    )
    assert published.status_code == 302
    current = catalogue.current_version(db_session, "creche")
    assert current is not None and current.dmn_xml == DECISIONS
    assert [f.name for f in catalogue.definition_of(current).fields][-1] == "remarques"


def test_a_form_the_portal_cannot_use_is_refused_and_nothing_is_saved(
    admin_client: FlaskClient,
) -> None:
    bpmn, metadata = current_draft(admin_client)
    bad = {"components": [{"type": "filepicker", "key": "piece", "label": "Pièce"}]}
    headers = {"X-CSRFToken": designer_token(admin_client)}

    answer = admin_client.post(
        CRECHE + "/brouillon",
        json={"bpmn": bpmn, "metadata": metadata, "forms": {"decision_commission": bad}},
        headers=headers,
    )

    assert answer.status_code == 422
    assert answer.get_json() == {
        "saved": False,
        "problems": [
            {
                "element_id": "decision_commission",
                "message": "étape « decision_commission » : champ « Pièce » : le composant "
                "« filepicker » n'est pas pris en charge (texte, nombre, date, case à cocher, "
                "liste de choix, enfant(s) du foyer)",
            }
        ],
    }
    assert "Aucun brouillon" in page_text(admin_client.get(CRECHE + "/concepteur"))
    hostile = admin_client.post(
        CRECHE + "/brouillon",
        json={"bpmn": bpmn, "metadata": metadata, "dmn": DECISIONS.replace(
            "<text>150</text>", "<text>__import__('os').getcwd()</text>")},
        headers=headers,
    )  # fmt: skip
    assert hostile.status_code == 200
    assert any("expression refusée" in p["message"] for p in hostile.get_json()["problems"])


DECISIONS = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="D" namespace="x">
  <decision id="montant" name="Montant">
    <decisionTable id="t" hitPolicy="UNIQUE">
      <input id="i" label="QF"><inputExpression id="e" typeRef="number"><text>quotient</text>
      </inputExpression></input>
      <output id="o" label="Montant" name="montant" typeRef="number" />
      <rule id="r"><inputEntry id="c"><text>&lt; 600</text></inputEntry>
      <outputEntry id="s"><text>150</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
"""


def test_a_new_procedure_starts_from_an_empty_diagram_and_its_drawn_steps_get_forms(
    admin_client: FlaskClient,
) -> None:
    assert "Nouvelle démarche" in page_text(admin_client.get("/admin/procedures"))
    token = form_token(admin_client, "/admin/procedures/nouvelle")
    new = {"csrf_token": token, "code": "aide_sport", "titre": "Aide au sport"}

    created = admin_client.post("/admin/procedures/nouvelle", data=new)

    assert created.status_code == 302
    assert created.headers["Location"].endswith("/admin/procedures/aide_sport/concepteur")
    designer = page_text(admin_client.get("/admin/procedures/aide_sport/concepteur"))
    # The lane is there to map; the policy names it (and the start leads nowhere yet).
    assert "couloir « Service instructeur » : aucun service choisi" in designer
    bpmn = admin_client.get("/admin/procedures/aide_sport/brouillon.bpmn").get_data(as_text=True)
    assert 'name="Aide au sport"' in bpmn and '<bpmn:startEvent id="Debut"' in bpmn
    assert "BPMNShape" in bpmn  # drawn, so the modeler opens on it
    # A step drawn in the modeler gets its form in the answer to the save.
    drawn = bpmn.replace(
        '<bpmn:startEvent id="Debut" name="Demande déposée" />',
        '<bpmn:startEvent id="Debut" name="Demande déposée" />'
        '<bpmn:userTask id="etudier" name="Étudier la demande" />',
    ).replace(
        "<bpmn:flowNodeRef>Debut</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>Debut</bpmn:flowNodeRef><bpmn:flowNodeRef>etudier</bpmn:flowNodeRef>",
    )
    page = page_text(admin_client.get("/admin/procedures/aide_sport/concepteur"))
    match = re.search(r'name="metadata"[^>]*>(.*?)</textarea>', page, re.S)
    assert match
    saved = admin_client.post(
        "/admin/procedures/aide_sport/brouillon",
        json={"bpmn": drawn, "metadata": html.unescape(match.group(1))},
        headers={"X-CSRFToken": token},
    )
    assert saved.status_code == 200, saved.get_json()
    assert [form["key"] for form in saved.get_json()["forms"]] == ["famille", "etudier"]

    again = admin_client.post("/admin/procedures/nouvelle", data=new)
    assert again.status_code == 409
    assert "Une démarche ou un brouillon porte déjà le code aide_sport" in page_text(again)
    taken = admin_client.post("/admin/procedures/nouvelle", data={**new, "code": "creche"})
    assert taken.status_code == 409
    for code, title in (("nouvelle", "Titre"), ("1er-essai", "Titre"), ("ok", " ")):
        refused = admin_client.post(
            "/admin/procedures/nouvelle", data={**new, "code": code, "titre": title}
        )
        assert refused.status_code == 400, code
    assert "aide_sport" in page_text(admin_client.get("/admin/procedures"))


def test_the_properties_panel_sets_ends_and_deadlines_or_is_refused_with_422(
    admin_client: FlaskClient,
) -> None:
    bpmn, metadata = current_draft(admin_client)
    metadata = html.unescape(metadata)
    headers = {"X-CSRFToken": designer_token(admin_client)}

    def save_with(settings: object) -> object:
        body = {"bpmn": bpmn, "metadata": metadata, "settings": settings}
        return admin_client.post(CRECHE + "/brouillon", json=body, headers=headers)

    answer = save_with(
        {"ends": {"End_attente": "refusee", "End_caduque": ""},
         "tasks": {"verifier_dossier": {"sla_hours": 24}}}
    )  # fmt: skip

    assert answer.status_code == 200, answer.get_json()
    saved = answer.get_json()["metadata"]
    assert 'End_attente = "refusee"' in saved and "End_caduque" not in saved
    assert "[tasks.verifier_dossier]\nsla_hours = 24" in saved
    # The end left without a status is named by the check before publishing.
    assert any(
        problem["element_id"] == "End_caduque" for problem in answer.get_json()["before_publishing"]
    )
    for settings, element in (
        ({"ends": {"End_place": "en_cours"}}, "End_place"),
        ({"tasks": {"verifier_dossier": {"sla_hours": "beaucoup"}}}, "verifier_dossier"),
    ):
        refused = save_with(settings)
        assert refused.status_code == 422
        [problem] = refused.get_json()["problems"]
        assert problem["element_id"] == element
    assert save_with(["pas", "un", "objet"]).status_code == 400
    assert (
        'End_attente = "refusee"' in current_draft(admin_client)[1]
    )  # the refused changed nothing


def test_the_documents_panel_lists_the_vault_types_and_replaces_the_required_documents(
    admin_client: FlaskClient,
) -> None:
    page = page_text(admin_client.get(CRECHE + "/concepteur"))
    match = re.search(r'<script type="application/json" id="designer-reglages">(.*?)</script>',
                      page, re.S)  # fmt: skip
    assert match
    settings = json.loads(match.group(1))
    assert ["justificatif_domicile", "Justificatif de domicile"] in settings["document_types"]
    assert settings["documents"][0] == {
        "type": "justificatif_domicile", "count": 1, "max_age_months": 3,
        "valid_until_season": False, "member": None, "any_of": [], "when": None,
    }  # fmt: skip
    bpmn, metadata = current_draft(admin_client)
    headers = {"X-CSRFToken": designer_token(admin_client)}

    def save_documents(documents: object) -> object:
        body = {"bpmn": bpmn, "metadata": html.unescape(metadata),
                "settings": {"documents": documents}}  # fmt: skip
        return admin_client.post(CRECHE + "/brouillon", json=body, headers=headers)

    answer = save_documents(
        [{"type": "avis_imposition", "any_of": ["attestation_caf"], "max_age_months": 12},
         {"type": "carnet_vaccination", "member": "child", "max_age_months": ""}]
    )  # fmt: skip

    assert answer.status_code == 200, answer.get_json()
    saved = answer.get_json()["metadata"]
    assert saved.count("[[documents]]") == 2 and "justificatif_domicile" not in saved
    assert (
        '[[documents]]\ntype = "avis_imposition"\nmax_age_months = 12\nany_of = ["attestation_caf"]'
    ) in saved
    assert '[[documents]]\ntype = "carnet_vaccination"\nmember = "child"' in saved
    for documents, reason in (
        ([{"type": "passeport_martien"}], "justificatif n° 1 : choisissez un type"),
        ([{"type": "avis_imposition"}, {"type": "avis_imposition", "max_age_months": 999}],
         "justificatif n° 2 : ancienneté invalide"),
        ([{"type": "avis_imposition", "any_of": ["inconnu"]}], "justificatif n° 1 : un type"),
        ("tout", "justificatifs illisibles"),
    ):  # fmt: skip
        refused = save_documents(documents)
        assert refused.status_code == 422
        assert refused.get_json()["problems"][0]["message"].startswith(reason)
