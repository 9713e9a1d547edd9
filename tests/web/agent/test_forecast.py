"""The forecast of late tasks as supervisors read it: the dashboard and the inbox, over HTTP.

The history is tests/procedures/deadlines/test_forecast.py's: 2 checks completed per
working hour over the four weeks before Monday 1 March 2027, 08:30 (Paris).
"""

from __future__ import annotations

import csv
import io

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from coffre.clock import FrozenClock
from tests.factories import make_agent, make_supervisor, page_text
from tests.procedures.deadlines.test_forecast import DECISION, NOW, History, paris
from tests.procedures.deadlines.test_forecast import history as history  # the fixture
from tests.web.agents import sign_in_agent


@pytest.fixture
def queue(history: History) -> dict[str, int]:
    """Tasks 1 to 21 of the check's queue, and a decision nobody made in four weeks."""
    history.queued(paris(2, 26, 16))  # 1st, late already
    history.queued(paris(3, 1, 9, 30))  # 2nd: done at 09:30, on time
    late = history.queued(paris(3, 1, 9, 45))  # 3rd: done at 10:00
    for _ in range(17):  # 4th to 20th
        history.queued(paris(3, 3, 17, 30))
    no_pace = history.queued(paris(3, 8, 12), spec_id=DECISION)
    return {"late": late, "no_pace": no_pace}


def signed_in(
    client: FlaskClient,
    db_session: Session,
    clock: FrozenClock,
    history: History,
    *,
    supervisor: bool,
) -> FlaskClient:
    clock.current = NOW
    make = make_supervisor if supervisor else make_agent
    account = make(db_session, clock, history.service)
    assert sign_in_agent(client, account).status_code == 302
    return client


def test_the_dashboard_lists_the_tasks_forecast_late_with_their_expected_end(
    client: FlaskClient,
    db_session: Session,
    clock: FrozenClock,
    history: History,
    queue: dict[str, int],
) -> None:
    signed_in(client, db_session, clock, history, supervisor=True)

    page = page_text(client.get("/agent/supervision"))

    assert 'data-chiffre="prevision">2<' in page
    table = page[page.index("data-prevision") :]
    assert table.index(f"/agent/demandes/{history.demande_id}") > 0
    assert "1 mars 2027, 09:45" in table  # its deadline
    assert "1 mars 2027, 10:00" in table  # when it is expected done
    assert "8 mars 2027, 12:00" in table
    assert "Aucune tâche de cette étape terminée en quatre semaines" in table
    assert "Prévision : tâches qui seront en retard" in page
    export = client.get("/agent/supervision.csv")
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True)), delimiter=";"))
    assert ["Tâches en retard prévu", "", "", "", "2"] in rows
    assert len([row for row in rows if row[0] == "Tâche en retard prévu"]) == 2


def test_the_supervisor_s_inbox_marks_the_tasks_forecast_late(
    client: FlaskClient,
    db_session: Session,
    clock: FrozenClock,
    history: History,
    queue: dict[str, int],
) -> None:
    signed_in(client, db_session, clock, history, supervisor=True)

    page = page_text(client.get("/agent/taches"))

    assert page.count("data-prevision") == 2
    assert "en retard à partir du 1 mars, 09:45, fin estimée le 1 mars, 10:00" in page
    assert "en retard à partir du 8 mars, 12:00 : aucune tâche de cette étape" in page


def test_an_agent_who_supervises_nothing_sees_no_forecast(
    client: FlaskClient,
    db_session: Session,
    clock: FrozenClock,
    history: History,
    queue: dict[str, int],
) -> None:
    signed_in(client, db_session, clock, history, supervisor=False)

    page = page_text(client.get("/agent/taches"))

    assert "data-prevision" not in page
    assert client.get("/agent/supervision").status_code == 403
