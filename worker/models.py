"""The worker's table: each worker process's last sign of life."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from coffre.db import Base


class WorkerHeartbeat(Base):
    """The last sign of life of each worker process, for the health page and operators."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]
