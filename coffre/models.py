"""The vault's tables: foyers and their members (documents come with the vault issue)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coffre.db import Base


class MemberRole(StrEnum):
    ADULTE = "adulte"
    ENFANT = "enfant"


class Foyer(Base):
    """A household: one or more responsible adults and their children."""

    __tablename__ = "foyers"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    address_line: Mapped[str] = mapped_column(String(300), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime]

    members: Mapped[list[FoyerMember]] = relationship(
        back_populates="foyer", cascade="all, delete-orphan", order_by="FoyerMember.id"
    )


class FoyerMember(Base):
    """An adult or a child of a foyer."""

    __tablename__ = "foyer_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    foyer_id: Mapped[int] = mapped_column(ForeignKey("foyers.id", ondelete="CASCADE"), index=True)
    role: Mapped[MemberRole] = mapped_column(
        Enum(
            MemberRole, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]
        )
    )
    first_name: Mapped[str] = mapped_column(String(120))
    last_name: Mapped[str] = mapped_column(String(120))
    birth_date: Mapped[date | None]

    foyer: Mapped[Foyer] = relationship(back_populates="members")
