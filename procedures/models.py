"""The tables of procedures: published versions, demandes, tasks, history, saved filters."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coffre.db import Base
from coffre.models import str_enum


class DemandeStatus(StrEnum):
    BROUILLON = "brouillon"
    DEPOSEE = "deposee"
    EN_INSTRUCTION = "en_instruction"
    EN_ATTENTE_FAMILLE = "attente_famille"
    ACCEPTEE = "acceptee"
    REFUSEE = "refusee"
    CLASSEE = "classee"
    ANNULEE = "annulee"


OPEN_STATUSES = frozenset(
    {
        DemandeStatus.BROUILLON,
        DemandeStatus.DEPOSEE,
        DemandeStatus.EN_INSTRUCTION,
        DemandeStatus.EN_ATTENTE_FAMILLE,
    }
)


class TaskState(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    WAITING_FAMILY = "waiting_family"
    DONE = "done"
    CANCELLED = "cancelled"


class ProcedureVersion(Base):
    """One immutable publication of a procedure: its diagram and its metadata."""

    __tablename__ = "procedure_versions"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_procedure_versions_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    metadata_json: Mapped[str] = mapped_column(Text)
    bpmn_xml: Mapped[str] = mapped_column(Text)
    # The DMN decision tables its business rule tasks evaluate ("" when it has none).
    dmn_xml: Mapped[str] = mapped_column(Text, default="", server_default="")
    published_at: Mapped[datetime]
    published_by: Mapped[int | None]
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)


class ProcedureDraft(Base):
    """The unpublished edit of a procedure in the designer: one per procedure."""

    __tablename__ = "procedure_drafts"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    bpmn_xml: Mapped[str] = mapped_column(Text)
    dmn_xml: Mapped[str] = mapped_column(Text, default="", server_default="")
    metadata_toml: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))


class Demande(Base):
    """One foyer's request on one version of a procedure."""

    __tablename__ = "demandes"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    foyer_id: Mapped[int] = mapped_column(ForeignKey("foyers.id"), index=True)
    procedure_version_id: Mapped[int] = mapped_column(ForeignKey("procedure_versions.id"))
    status: Mapped[DemandeStatus] = mapped_column(str_enum(DemandeStatus), index=True)
    form_data: Mapped[str] = mapped_column(Text, default="{}")
    workflow_state: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # When a timer of its diagram falls due: the worker wakes the workflow then.
    wakes_at: Mapped[datetime | None] = mapped_column(index=True)
    # When the family last withdrew a document from it while it was open (its consent, or
    # the document deleted): read with the demande by the inbox's rows, no query of its own.
    document_withdrawn_at: Mapped[datetime | None]
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    # Held by the demande once read: a version only the session's weak identity map held was
    # read again at each use (three times in one submission).
    version: Mapped[ProcedureVersion] = relationship(viewonly=True)

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012  (SQLAlchemy reads it)


class Task(Base):
    """A human step of a demande, as the inbox sees it."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_inbox", "service_id", "state", "due_at", "id", "assignee_id"),
        # The completed tasks of a service over a window, their working time read from the
        # index alone (supervision's processing time).
        Index(
            "ix_tasks_done",
            "service_id",
            "completed_at",
            "worked_seconds",
            postgresql_where=text("state = 'done'"),
            sqlite_where=text("state = 'done'"),
        ),
        # Each step's queue of tasks being worked, in deadline order (the forecast of late
        # tasks counts it per day of deadline from the index alone).
        Index(
            "ix_tasks_queue",
            "service_id",
            "procedure_version_id",
            "spec_id",
            "due_at",
            postgresql_where=text("state IN ('open', 'claimed')"),
            sqlite_where=text("state IN ('open', 'claimed')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    demande_id: Mapped[int] = mapped_column(ForeignKey("demandes.id"), index=True)
    # The demande's, carried so that counts per step read the tasks alone (a demande keeps
    # its version for life).
    procedure_version_id: Mapped[int] = mapped_column(ForeignKey("procedure_versions.id"))
    spiff_task_id: Mapped[str] = mapped_column(String(40))
    spec_id: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(200))
    lane: Mapped[str | None] = mapped_column(String(120))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    for_family: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[TaskState] = mapped_column(str_enum(TaskState))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    # Working time left when the demande went to wait on the family (the clock is paused).
    paused_remaining_seconds: Mapped[int | None]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[int | None]
    # Working time from creation to completion, the family's waits taken out (supervision's
    # processing time, stored when done; None for tasks completed before it was).
    worked_seconds: Mapped[int | None]
    escalated_at: Mapped[datetime | None]
    row_version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012  (SQLAlchemy reads it)


class DemandeEvent(Base):
    """One line of a demande's history: who did what, when, with which comment."""

    __tablename__ = "demande_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    demande_id: Mapped[int] = mapped_column(ForeignKey("demandes.id"), index=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None]
    kind: Mapped[str] = mapped_column(String(40))
    status_from: Mapped[str | None] = mapped_column(String(20))
    status_to: Mapped[str | None] = mapped_column(String(20))
    task_id: Mapped[int | None]
    # For the family unless internal; agents' internal notes never reach the family's pages.
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str] = mapped_column(Text, default="")


class SavedFilter(Base):
    """An agent's named set of inbox filters, kept as the inbox page's query string."""

    __tablename__ = "saved_filters"
    # One name per agent; the unique index also serves listing an agent's filters.
    __table_args__ = (Index("uq_saved_filters_account_id_name", "account_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime]


class CourseDraw(Base):
    """One allocation of a course's places for a season (procedures.lottery): the lottery
    when more demandes than places came before it, or places given in filing order (no
    draw). Kept whole so that anyone can replay it: same seed, same candidates, same order.
    """

    __tablename__ = "course_draws"
    __table_args__ = (UniqueConstraint("procedure_code", "course", "season", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    procedure_code: Mapped[str] = mapped_column(String(60))
    course: Mapped[str] = mapped_column(String(60))
    season: Mapped[str] = mapped_column(String(9))  # "2027-2028"
    # 1 for the allocation that closes the registrations; later ones place late demandes.
    round: Mapped[int] = mapped_column(Integer)
    lottery: Mapped[bool] = mapped_column(Boolean)  # False: every candidate had a place
    published_seed: Mapped[str] = mapped_column(String(200), default="")
    seed: Mapped[str] = mapped_column(String(64), default="")  # sha256, hex
    places: Mapped[int] = mapped_column(Integer)  # free places at this allocation
    candidates: Mapped[str] = mapped_column(Text)  # JSON: demande ids, ascending
    drawn_order: Mapped[str] = mapped_column(Text)  # JSON: demande ids, places first
    run_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    run_at: Mapped[datetime]

    @property
    def candidate_count(self) -> int:
        return len(json.loads(self.candidates))
