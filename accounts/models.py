"""Who signs in and where agents work: accounts, entities, services, codes, the admin journal."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coffre.db import Base
from coffre.models import Foyer, str_enum


class Role(StrEnum):
    FAMILLE = "famille"
    AGENT = "agent"
    ADMIN = "admin"
    # A town's other software calling the API (interop.clients): never signs in on a page.
    LOGICIEL = "logiciel"


class Entity(Base):
    """A body sharing the base: the town, the agglomeration, a partner association."""

    __tablename__ = "entities"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))

    services: Mapped[list[Service]] = relationship(back_populates="entity", order_by="Service.id")


class Service(Base):
    """A team of one entity that owns lanes of procedures."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Its agents serve families at the town's counter: they issue family codes and may open
    # any foyer's space there (procedures.guichet_droits). Set by a global administrator.
    runs_counter: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The school whose canteen and after-school team this service is (its agents work on
    # that site); None for a service of the whole town. A child's individualised care plan
    # is shared with its own school's teams only (coffre.sharing.teams).
    school: Mapped[str | None] = mapped_column(String(200))

    entity: Mapped[Entity] = relationship(back_populates="services")


class Account(Base):
    """A login: a family adult, an agent or an administrator."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    display_name: Mapped[str] = mapped_column(String(200))
    foyer_id: Mapped[int | None] = mapped_column(ForeignKey("foyers.id"), index=True)
    # An administrator bound to one entity; None for a global administrator.
    entity_id: Mapped[int | None] = mapped_column(ForeignKey("entities.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    # Back-office second factor (accounts.second_factor): the TOTP secret sealed under the
    # master keyring, when its enrolment was confirmed, and the last time step accepted.
    totp_secret_encrypted: Mapped[str | None] = mapped_column(String(200))
    totp_confirmed_at: Mapped[datetime | None]
    totp_last_counter: Mapped[int | None] = mapped_column(BigInteger)
    # Written into every session of the account at login and checked on each request:
    # raising it ends them all (accounts.credentials.end_sessions).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # The version of the information shown before sign-up (R.55-1) that a family adult last
    # accepted, and when (accounts.information); None for agents and until accepted.
    information_version: Mapped[str | None] = mapped_column(String(20))
    information_accepted_at: Mapped[datetime | None]

    foyer: Mapped[Foyer | None] = relationship()
    memberships: Mapped[list[AgentService]] = relationship(
        back_populates="account", cascade="all, delete-orphan"
    )


class AgentService(Base):
    """An agent's membership of a service, as agent or supervisor."""

    __tablename__ = "agent_services"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), primary_key=True)
    is_supervisor: Mapped[bool] = mapped_column(Boolean, default=False)

    account: Mapped[Account] = relationship(back_populates="memberships")
    service: Mapped[Service] = relationship()


class FamilyCode(Base):
    """A family code and its one-time code, handed out by the town to activate an account.

    Only an argon2 hash of the one-time code is stored; `used_at` makes the pair single use.
    """

    __tablename__ = "family_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    foyer_id: Mapped[int] = mapped_column(ForeignKey("foyers.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    one_time_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # The agent who handed it out at the counter, named to the adults asked to confirm.
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))


class JoinRequest(Base):
    """An adult who used a family code of a foyer that already has an account.

    Until an adult of the foyer accepts, the new account belongs to no foyer
    (`Account.foyer_id` is None) and so reaches nothing of it; refused, it is closed.
    The row stays once decided: who decided, when, and how (accounts.joining).
    """

    __tablename__ = "join_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), unique=True
    )
    foyer_id: Mapped[int] = mapped_column(ForeignKey("foyers.id", ondelete="CASCADE"), index=True)
    family_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("family_codes.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    accepted: Mapped[bool | None]


class LoginFailures(Base):
    """Recent failed logins of one account or one client address (accounts.throttle).

    The key is a keyed hash of the e-mail address or the IP address: neither is stored.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    # Rows are forgotten some time after their last failure: the purge reads this index.
    last_failure_at: Mapped[datetime] = mapped_column(index=True)


class AdminJournalEntry(Base):
    """One administrative change: who, when, on what, and the target's state before and after.

    `before` and `after` are JSON objects of the fields that matter to a reader (names,
    services, flags); never a password, a token or a second-factor secret.
    """

    __tablename__ = "admin_journal"
    # The journal page lists an entity's changes, newest first.
    __table_args__ = (Index("ix_admin_journal_entity_id_at", "entity_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    # The entity the change belongs to; None for an installation-wide change.
    entity_id: Mapped[int | None] = mapped_column(ForeignKey("entities.id"))
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(60))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)


class FederatedIdentity(Base):
    """A family account's link to an identity of FranceConnect (its `sub`, pairwise per portal).

    One identity opens one account, and an account has at most one identity per provider.
    """

    __tablename__ = "federated_identities"
    __table_args__ = (
        UniqueConstraint("provider", "subject", name="uq_federated_identities_subject"),
        UniqueConstraint("provider", "account_id", name="uq_federated_identities_account"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class InformationText(Base):
    """A version of the information shown before sign-up (R.55-1) published by an
    administrator, in Markdown; never updated nor deleted (accounts.information)."""

    __tablename__ = "information_versions"

    # The version's number: the built-in versions (templates) come first, these follow.
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    text: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime]
    published_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
