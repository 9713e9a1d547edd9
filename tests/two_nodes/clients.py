"""The load's users over HTTP: families that deposit and submit, agents that complete steps.

A user talks to one node; when that node stops answering, it moves to the other one for good,
as a load balancer would send it there. A request cut by the failure has an unknown outcome:
the user then looks (as a person would, on the surviving node) whether it took effect before
doing it again, so that a duplicate can only come from the portal itself.
"""

from __future__ import annotations

import hashlib
import html
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyotp
import requests

from coffre.clock import SystemClock, local_today

TIMEOUT = 30
SECOND_FACTOR = "/connexion/second-facteur"
CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


class NodeDown(Exception):
    """The node did not answer (refused or cut connection): the request's outcome is unknown."""


@dataclass
class Browser:
    """One user's cookies, sent to the node it is on; it fails over once its node is gone."""

    urls: list[str]
    node: int
    http: requests.Session = field(default_factory=requests.Session)
    token: str = field(default="", repr=False)  # the session's CSRF token, good on both nodes
    failovers: int = 0

    def send(self, method: str, path: str, **options: Any) -> requests.Response:
        """One request to the current node; NodeDown (after moving to the other) if cut."""
        url = self.urls[self.node] + path
        try:
            return self.http.request(method, url, allow_redirects=False, timeout=TIMEOUT, **options)
        except requests.ConnectionError as exc:
            self.node = 1 - self.node
            self.failovers += 1
            raise NodeDown(path) from exc

    def retrying(self, attempt: Callable[[], requests.Response]) -> requests.Response:
        """Run an idempotent step, again on the other node if its node was lost."""
        for _ in range(3):
            try:
                return attempt()
            except NodeDown:
                continue
        raise AssertionError("both nodes are down")

    def page(self, path: str) -> str:
        answer = self.retrying(lambda: self.send("GET", path))
        assert answer.status_code == 200, f"GET {path}: {answer.status_code}"
        text = html.unescape(answer.text)
        self.token = _csrf(text) or self.token
        return text

    def post(self, path: str, data: dict[str, str], **options: Any) -> int:
        """Post a form with the session's CSRF token (NodeDown if cut); the status code."""
        answer = self.send("POST", path, data={**data, "csrf_token": self.token}, **options)
        return answer.status_code

    def log_in(self, email: str, password: str) -> requests.Response:
        """The login form; the response (302 when signed in)."""
        self.page("/connexion")
        data = {"email": email, "password": password, "csrf_token": self.token}
        answer = self.retrying(lambda: self.send("POST", "/connexion", data=data))
        self.token = ""  # signing in starts a new session, with a new token
        return answer


def _csrf(page: str) -> str | None:
    match = CSRF.search(page)
    return match.group(1) if match else None


@dataclass
class Family:
    """A family that deposits a proof of address then submits a demande with it, `count` times."""

    browser: Browser
    email: str
    password: str
    pdf: Callable[[int], bytes]
    deposited: dict[str, str] = field(default_factory=dict)  # confirmed: file name -> SHA-256
    submitted: list[int] = field(default_factory=list)  # demande ids the portal confirmed

    def run(self, count: int, procedure: str) -> None:
        assert self.browser.log_in(self.email, self.password).status_code == 302
        for number in range(count):
            filename = f"{self.email.split('@')[0]}-{number}.pdf"
            self.deposit(filename, 2000 + 7 * number)
            self.submit(procedure, filename)

    def deposit(self, filename: str, size: int) -> None:
        """Deposit once: after a cut request, only if the vault does not show the file."""
        content = self.pdf(size)
        while filename not in self.browser.page("/famille/coffre"):
            data = {"type_code": "justificatif_domicile", "member_id": ""}
            data["issued_on"] = local_today(SystemClock()).isoformat()
            files = {"fichier": (filename, content, "application/pdf")}
            try:
                status = self.browser.post("/famille/coffre/ajouter", data, files=files)
            except NodeDown:
                continue
            assert status == 303, f"deposit of {filename}: {status}"
        self.deposited[filename] = hashlib.sha256(content).hexdigest()

    def submit(self, procedure: str, filename: str) -> None:
        """Start a draft, fill it in, share the file, submit: once, whatever the node does."""
        demande_id = self._draft(procedure)
        base = f"/famille/demandes/{demande_id}"
        self._idempotent(
            f"{base}/formulaire", {"objet": f"Suivi de {filename}", "action": "continuer"}
        )
        page = self.browser.page(f"{base}/justificatifs")
        document = re.search(
            rf'name="partage" value="(\d+)"(?:(?!name="partage").)*?{re.escape(filename)}',
            page,
            re.DOTALL,
        )
        assert document, f"{filename} is not offered for demande {demande_id}"
        self._idempotent(f"{base}/justificatifs", {"partage": document.group(1)})
        while not self._is_submitted(base):
            try:
                status = self.browser.post(f"{base}/deposer", {})
            except NodeDown:
                continue
            assert status == 303, f"submitting demande {demande_id}: {status}"
        self.submitted.append(demande_id)

    def _draft(self, procedure: str) -> int:
        # A draft whose answer was cut is left behind, as a person would leave it: it is no
        # demande until submitted, and the worker expires forgotten drafts.
        path = f"/famille/demarches/{procedure}/commencer"
        answer = self.browser.retrying(lambda: self._post(path, {}))
        assert answer.status_code == 303, answer.status_code
        found = re.search(r"/famille/demandes/(\d+)/formulaire", answer.headers["Location"])
        assert found
        return int(found.group(1))

    def _idempotent(self, path: str, data: dict[str, str]) -> None:
        answer = self.browser.retrying(lambda: self._post(path, data))
        assert answer.status_code == 303, f"POST {path}: {answer.status_code}"

    def _post(self, path: str, data: dict[str, str]) -> requests.Response:
        return self.browser.send("POST", path, data={**data, "csrf_token": self.browser.token})

    def _is_submitted(self, base: str) -> bool:
        # The confirmation page exists once the demande has its number.
        answer = self.browser.retrying(lambda: self.browser.send("GET", f"{base}/confirmation"))
        assert answer.status_code in (200, 404), answer.status_code
        return answer.status_code == 200


ACTION = r'action="/agent/demandes/{demande}/taches/{task}/{verb}">\s*<input type="hidden" name="version" value="(\d+)">'  # noqa: E501


@dataclass
class Agent:
    """An agent who takes open steps and completes them through the demande's page."""

    browser: Browser
    email: str
    password: str
    totp_secret: str = field(repr=False)
    completed: list[int] = field(default_factory=list)
    conflicts: int = 0

    def log_in(self) -> None:
        assert (
            self.browser.log_in(self.email, self.password)
            .headers["Location"]
            .endswith(SECOND_FACTOR)
        )
        # The enrolment used the current step's code: the next one is in the window already.
        totp = pyotp.TOTP(self.totp_secret)
        data = {"code": totp.at(time.time() + totp.interval)}
        self.browser.page(SECOND_FACTOR)
        answer = self.browser.retrying(
            lambda: self.browser.send(
                "POST", SECOND_FACTOR, data={**data, "csrf_token": self.browser.token}
            )
        )
        assert answer.status_code == 302, f"second factor of {self.email}: {answer.status_code}"

    def work(
        self, open_steps: Callable[[], list[tuple[int, int]]], finished: Callable[[], bool]
    ) -> None:
        """Complete open steps until `finished()` says the work is over."""
        while not finished():
            steps = open_steps()
            if not steps:
                time.sleep(0.3)
                continue
            demande, task = random.choice(steps)
            self.act(demande, task)

    def act(self, demande: int, task: int) -> None:
        """Take the step if it is free, complete it if it is ours; a conflict is just counted."""
        path = f"/agent/demandes/{demande}"
        page = self.browser.page(path)
        for verb, data in (("terminer", {"suite": "acceptee"}), ("prendre", {})):
            found = re.search(ACTION.format(demande=demande, task=task, verb=verb), page)
            if found is None:
                continue
            target = f"{path}/taches/{task}/{verb}"
            try:
                status = self.browser.post(target, {**data, "version": found.group(1)})
            except NodeDown:
                return  # looked at again on the other node at the next turn
            if status == 409:
                self.conflicts += 1
            else:
                assert status == 303, f"{verb} task {task}: {status}"
                if verb == "terminer":
                    self.completed.append(task)
            return
