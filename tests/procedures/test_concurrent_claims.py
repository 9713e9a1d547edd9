"""Two agents taking the same step at once, each in a transaction of their own (as two
requests on two web nodes): one gets it, the other a conflict, never an error.

Run on a PostgreSQL database of its own with real commits, because the point is two
transactions that overlap (SQLite takes its write lock at BEGIN, so there the second request
waits for the first and then reads the step taken).
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from coffre.clock import FrozenClock
from coffre.db import make_session_factory
from procedures import demandes, tasks
from procedures.errors import TaskConflict
from procedures.history import EngineContext
from procedures.models import Demande, DemandeStatus, Task, TaskState
from tests.coffre.conftest import make_foyer
from tests.factories import make_service
from tests.procedures.flows import agent_of, child_of, family_of, publish


@pytest.mark.postgres
def test_a_step_taken_meanwhile_by_a_colleague_is_a_conflict(postgres_database: Engine) -> None:
    sessions: sessionmaker[Session] = make_session_factory(postgres_database)
    clock = FrozenClock()
    ctx = EngineContext(clock=clock)
    with sessions() as setup:
        service = make_service(setup, code="accueil-mq")
        publish(setup, clock, "signalement")
        foyer = make_foyer(setup, clock, "Foyer")
        family = family_of(setup, clock, foyer)
        first, second = agent_of(setup, clock, service), agent_of(setup, clock, service)
        setup.commit()
        draft = demandes.create_draft(setup, ctx, family, "signalement")
        answers = {"nature": "absence", "enfant": str(child_of(foyer)), "date_debut": "2026-09-03"}
        demande_id = demandes.submit(setup, ctx, family, draft.id, answers, []).id
        task_id = setup.scalars(select(Task.id).where(Task.demande_id == demande_id)).one()

    with sessions() as late, sessions() as quick:
        assert late.get(Task, task_id).state is TaskState.OPEN  # type: ignore[union-attr]
        tasks.claim(quick, ctx, first, task_id)  # committed while the other one looks

        with pytest.raises(TaskConflict):
            tasks.claim(late, ctx, second, task_id)

    with sessions() as check:
        task = check.get(Task, task_id)
        assert task is not None and (task.state, task.assignee_id) == (
            TaskState.CLAIMED,
            first.account_id,
        )
        demande = check.get(Demande, demande_id)
        assert demande is not None and demande.status is DemandeStatus.EN_INSTRUCTION
