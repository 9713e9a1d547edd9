from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from coffre.clock import Clock, FrozenClock
from worker.loop import Worker
from worker.models import WorkerHeartbeat


def test_due_jobs_run_and_a_failing_job_does_not_stop_the_others(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    worker = Worker(sessions=sessions, clock=clock, name="test-worker")
    ran: list[str] = []

    def failing(_session: Session, _clock: Clock) -> None:
        raise RuntimeError("boom")

    worker.register("failing", timedelta(minutes=1), failing)
    worker.register("counting", timedelta(minutes=5), lambda s, c: ran.append("counting"))

    worker.tick(clock.now())
    worker.tick(clock.now())
    clock.advance(timedelta(minutes=5))
    worker.tick(clock.now())

    assert ran == ["counting", "counting"]


def test_worker_records_its_heartbeat(sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    worker = Worker(sessions=sessions, clock=clock, name="beating")
    started = clock.now()
    worker.tick(started)
    clock.advance(timedelta(seconds=30))
    worker.tick(started)

    with sessions() as session:
        beat = session.scalar(select(WorkerHeartbeat).where(WorkerHeartbeat.name == "beating"))
    assert beat is not None
    assert beat.started_at == started
    assert beat.beat_at == started + timedelta(seconds=30)


def test_stop_ends_the_loop(sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    worker = Worker(sessions=sessions, clock=clock, tick_seconds=0.01, name="stopping")
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    worker.stop()
    thread.join(timeout=5)

    assert not thread.is_alive()


def test_worker_command_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = dict(os.environ, ENV="test", VAR_DIR=str(tmp_path), FLASK_APP="web:create_app")
    flask = [sys.executable, "-m", "flask"]
    subprocess.run([*flask, "db", "upgrade"], env=env, check=True, capture_output=True)
    worker = subprocess.Popen(
        [*flask, "worker", "--tick", "0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for_heartbeat(tmp_path / "portail.db")
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=15)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0
    assert "stopped" in output


def _wait_for_heartbeat(database: Path) -> None:
    import sqlite3

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if database.exists():
            with sqlite3.connect(database) as connection:
                if connection.execute("SELECT count(*) FROM worker_heartbeats").fetchone()[0]:
                    return
        time.sleep(0.1)
    raise AssertionError("the worker never recorded a heartbeat")
