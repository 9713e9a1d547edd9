"""Two nodes of one portal as production runs them: gunicorn and `flask worker` processes.

Each process is started in a session of its own, so that killing a node (SIGKILL to its
process group: gunicorn's master and its workers at once) reaches every process of that node
and nothing else. Only the processes this module started are ever signalled, by their ids.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.stockage.conftest import free_port

FLASK = [sys.executable, "-m", "flask"]


@dataclass
class Process:
    """One started process (a session leader) and its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def kill_group(self) -> None:
        """SIGKILL the process and every process of its group (gunicorn's workers too)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=15)

    def stop(self) -> None:
        """SIGTERM the group, as systemd does; SIGKILL it if it does not end in time."""
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill_group()


@dataclass
class Cluster:
    """The processes of both nodes; `close()` ends those still running."""

    env: dict[str, str]
    logs: Path
    web: list[Process] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)

    def start_web(self, name: str) -> str:
        """A gunicorn master with two workers of four threads (as `make run`), on a free port."""
        port = free_port()
        command = [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "4"]
        command += ["--bind", f"127.0.0.1:{port}", "--graceful-timeout", "5"]
        command += ["--logger-class", "web.access_log.MaskingLogger", "web:create_app()"]
        self.web.append(self._start(name, command))
        url = f"http://127.0.0.1:{port}"
        self.urls.append(url)
        return url

    def start_worker(self, name: str) -> Process:
        """A `flask worker`, ticking every 0.2 s (its jobs keep their own periods)."""
        process = self._start(name, [*FLASK, "worker", "--tick", "0.2"])
        self.workers.append(process)
        return process

    def wait_until_serving(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        for url, process in zip(self.urls, self.web, strict=True):
            while not _healthy(url):
                if process.popen.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"{process.name} never served {url}: see {process.log}")
                time.sleep(0.2)

    def close(self) -> None:
        for process in [*self.workers, *self.web]:
            process.stop()

    def _start(self, name: str, command: list[str]) -> Process:
        log = self.logs / f"{name}.log"
        with log.open("ab") as output:
            popen = subprocess.Popen(
                command, env=self.env, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        return Process(name, popen, log)


def run_cli(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    """A `flask` command of the portal, as an operator runs it; its output is returned."""
    return subprocess.run(
        [*FLASK, *arguments], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:  # not listening yet, or still loading the app
        return False
