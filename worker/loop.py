"""The background worker: a loop that runs registered periodic jobs until told to stop.

Later issues register their jobs (timers, outbox, expiry); each job gets a fresh session
and the clock, and a failing job is logged and retried at its next turn without stopping
the others.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from coffre.clock import Clock
from worker.models import WorkerHeartbeat

log = logging.getLogger(__name__)

JobFunction = Callable[[Session, Clock], object]  # the result (a count) is ignored
MAX_BACKOFF_SECONDS = 60.0


@dataclass
class Job:
    name: str
    every: timedelta
    run: JobFunction
    next_run: datetime | None = None


@dataclass
class Worker:
    """Runs jobs in turn; `stop()` (a SIGTERM handler calls it) ends the loop cleanly."""

    sessions: sessionmaker[Session]
    clock: Clock
    tick_seconds: float = 1.0
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    jobs: list[Job] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)

    def register(self, name: str, every: timedelta, run: JobFunction) -> None:
        """Add a periodic job; it first runs at the next tick."""
        self.jobs.append(Job(name=name, every=every, run=run))

    def stop(self) -> None:
        """Ask the loop to finish its current job and return."""
        self._stopping.set()

    def run_forever(self) -> None:
        """Tick until stop() is called."""
        started = self.clock.now()
        log.info("worker %s started with jobs %s", self.name, [job.name for job in self.jobs])
        delay = self.tick_seconds
        while not self._stopping.is_set():
            try:
                self.tick(started)
                delay = self.tick_seconds
            except DBAPIError as exc:
                # The database is away: wait longer each time, then resume where we were.
                delay = min(max(delay * 2, 1.0), MAX_BACKOFF_SECONDS)
                log.warning(
                    "worker %s: database unavailable (%s), retry in %.0f s",
                    self.name,
                    type(exc.orig).__name__,
                    delay,
                )
            self._stopping.wait(delay)
        log.info("worker %s stopped", self.name)

    def tick(self, started: datetime) -> None:
        """Beat, then run every job that is due."""
        self._beat(started)
        for job in self.jobs:
            if self._stopping.is_set():
                return
            now = self.clock.now()
            if job.next_run is None or job.next_run <= now:
                self._run_job(job)
                job.next_run = now + job.every

    def _run_job(self, job: Job) -> None:
        with self.sessions() as session:
            try:
                job.run(session, self.clock)
            except Exception:
                # A job's failure must not stop the others; it is retried at its next turn.
                session.rollback()
                log.exception("worker job %s failed", job.name)

    def _beat(self, started: datetime) -> None:
        with self.sessions() as session:
            beat = session.get(WorkerHeartbeat, self.name)
            if beat is None:
                beat = WorkerHeartbeat(name=self.name, started_at=started, beat_at=self.clock.now())
                session.add(beat)
            beat.beat_at = self.clock.now()
            session.commit()
