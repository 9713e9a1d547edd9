"""The back-to-school load: families deposit and submit, agents work their inboxes.

Run by `bench/load/run.sh` against gunicorn + the worker on a town filled by `generate.py`:

    locust -f bench/load/locustfile.py --headless --host http://127.0.0.1:8000 ...

Each step has its own name ("famille: déposer", "agent: boîte de réception"...) so Locust's
statistics give its latency. Families log in with the demo password; each agent user takes
its own account (the TOTP replay protection accepts one code per 30 s step per account) and
computes its codes from $VAR_DIR/bench-agents.json, written by the generator.
"""

from __future__ import annotations

import html
import io
import itertools
import json
import os
import random
import re
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyotp
from locust import FastHttpUser, HttpUser, between, constant, task
from locust.exception import StopUser

sys.path.insert(0, str(Path(__file__).resolve().parent))
from papers import photo_jpeg
from town import family_email

from demo.seed import DEMO_PASSWORD, demo_pdf

VAR_DIR = Path(os.environ.get("VAR_DIR", "var")).resolve()
FOYERS = int(os.environ.get("BENCH_FOYERS", "1000"))
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TASK_FORM = re.compile(
    r'action="(/agent/demandes/\d+/taches/\d+/(?:prendre|terminer))">\s*'
    r'<input type="hidden" name="version" value="(\d+)">'
)
SHARE = re.compile(r'name="partage"[^>]*value="(\d+)"')
RADIO = re.compile(r'type="radio" id="[^"]+" name="([^"]+)" value="([^"]+)"')

# What the steps' free fields need to go on (amount of a certificate, a validated quotient).
FIGURES = {"montant": "1450", "quotient": "640", "valide_jusqu_au": "2027-12-31"}

_lock = threading.Lock()
_families = itertools.count(1)
_agents: list[str] = []


def _next_family() -> int:
    with _lock:
        return (next(_families) - 1) % FOYERS + 1


def _next_agent() -> tuple[str, str]:
    with _lock:
        if not _agents:
            secrets = json.loads((VAR_DIR / "bench-agents.json").read_text(encoding="utf-8"))
            # Only the services that own procedure lanes have tasks to work.
            busy = ("petite-enfance", "scolaire", "accueil-mq")
            _agents.extend(e for e in secrets if any(f".{code}." in e for code in busy))
            random.shuffle(_agents)
        email = _agents.pop()
        secret = json.loads((VAR_DIR / "bench-agents.json").read_text(encoding="utf-8"))[email]
        return email, secret


def csrf(page: str) -> str:
    found = CSRF.search(page)
    return html.unescape(found.group(1)) if found else ""


def log_in_family(client: Any, number: int) -> str:
    """Log family `number` in; the page it lands on. Stops the user after 3 refusals."""
    for _attempt in range(3):  # a 503 (SQLite busy) is counted, then tried again
        page = client.get("/connexion", name="famille: page de connexion").text
        answer = client.post(
            "/connexion",
            data={"email": family_email(number), "password": DEMO_PASSWORD,
                  "csrf_token": csrf(page)},
            name="famille: connexion",
        )  # fmt: skip
        if answer.ok:
            return str(answer.text)
    raise StopUser()  # not logged in: its requests would only measure redirects


class FamilleRound:
    """A parent: logs in, deposits a tax notice, asks for its family quotient (a mixin: the
    client, requests' or geventhttpclient's, comes with the User class)."""

    client: Any

    def on_start(self) -> None:
        self.number = _next_family()
        log_in_family(self.client, self.number)

    def deposit_and_submit(self) -> None:
        document_id = self.deposit()
        if document_id is not None:
            self.submit(document_id)

    def deposit(self) -> int | None:
        page = self.client.get("/famille/coffre/ajouter", name="famille: formulaire de dépôt").text
        issued = (date.today() - timedelta(days=30)).isoformat()
        content, name = (
            (photo_jpeg("avis"), "avis.jpg") if random.random() < 0.5
            else (demo_pdf(f"Avis d'imposition {self.number}"), "avis.pdf")
        )  # fmt: skip
        with self.client.post(
            "/famille/coffre/ajouter",
            data={"type_code": "avis_imposition", "member_id": "", "issued_on": issued,
                  "csrf_token": csrf(page)},
            files={"fichier": (name, io.BytesIO(content))},
            name="famille: déposer un document",
            allow_redirects=False,
            catch_response=True,
        ) as response:  # fmt: skip
            if response.status_code != 303:
                response.failure(f"deposit answered {response.status_code}")
                return None
        vault = self.client.get("/famille/coffre", name="famille: coffre").text
        ids = [int(i) for i in re.findall(r"/famille/coffre/(\d+)/", vault)]
        return max(ids) if ids else None

    def submit(self, document_id: int) -> None:
        page = self.client.get("/famille/demarches", name="famille: démarches").text
        submit_quotient(self.client, csrf(page), document_id)


class Famille(FamilleRound, HttpUser):
    """The default mix's parent: 1–3 s between rounds."""

    weight = 3
    wait_time = between(1, 3)

    @task  # Locust collects the tasks of User classes only, not of their mixins
    def round(self) -> None:
        self.deposit_and_submit()


def submit_quotient(client: Any, token: str, document_id: int | None) -> None:
    """Start, fill, share and submit a quotient familial; the shared document is the one
    given, else the first the share page offers (the foyer's tax notice).

    Each POST is timed on its own, then the page its 303 leads to, which a browser asks for.
    """
    form = post_form(
        client, "/famille/demarches/quotient_familial/commencer", {"csrf_token": token},
        "commencer une demande",
    )  # fmt: skip
    if form is None:
        return
    client.get(form, name="famille: page formulaire")
    fields = {"nombre_parts": "2", "revenu_fiscal_reference": "28000", "action": "continuer",
              "csrf_token": token}  # fmt: skip
    shares = post_form(client, form, fields, "formulaire de la demande")
    if shares is None:
        return
    page = client.get(shares, name="famille: page justificatifs").text or ""
    if document_id is None:
        offered = SHARE.search(page)
        if offered is None:
            return
        document_id = int(offered.group(1))
    share = {"partage": str(document_id), "csrf_token": token}
    summary = post_form(client, shares, share, "partager les justificatifs")
    if summary is None:
        return
    client.get(summary, name="famille: page récapitulatif")
    base = form.rsplit("/", 1)[0]
    post_form(client, f"{base}/deposer", {"csrf_token": token}, "soumettre la demande")


def post_form(client: Any, path: str, data: dict[str, str], step: str) -> str | None:
    """POST a form without following its answer: the address of the page it leads to (a
    303), or None, the request counted as failed."""
    with client.post(
        path, data=data, name=f"famille: {step}", allow_redirects=False, catch_response=True
    ) as response:
        if response.status_code != 303:
            response.failure(f"{step} answered {response.status_code}")
            return None
        return str(response.headers["Location"])


class Rentree(FastHttpUser):
    """The back-to-school peak: a parent whose papers are already in the vault (the point of
    the vault) logs in once, then starts, fills, shares and submits, again and again.

    Not in the default mix: `CLASSES=Rentree bench/load/run.sh`. Only foyers of kind 0 hold a
    tax notice (`papers.PAPERS`), so these users take those. A FastHttpUser (geventhttpclient):
    Locust runs on the same 2 cores as the portal, and this client costs it less CPU a request.
    """

    weight = 1
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.number = 4 * ((_next_family() - 1) // 4 + 1)  # a foyer with a tax notice
        self.token = csrf(log_in_family(self.client, self.number))

    @task
    def submit(self) -> None:
        submit_quotient(self.client, self.token, None)


class AgentRound:
    """An agent of a busy service: inbox, a request, one of its documents, complete its step
    (a mixin, as `FamilleRound`)."""

    client: Any

    def on_start(self) -> None:
        email, secret = _next_agent()
        for _attempt in range(3):
            page = self.client.get("/connexion", name="agent: page de connexion").text
            second = self.client.post(
                "/connexion",
                data={"email": email, "password": DEMO_PASSWORD, "csrf_token": csrf(page)},
                name="agent: connexion (mot de passe)",
            )
            if not second.ok:
                continue
            answer = self.client.post(
                "/connexion/second-facteur",
                data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf(second.text)},
                name="agent: connexion (code TOTP)",
            )
            if answer.ok:
                return
            time.sleep(31)  # a refused code: the next one comes with the next 30 s step
        raise StopUser()

    def work_one(self) -> None:
        inbox = self.client.get("/agent/taches", name="agent: boîte de réception").text or ""
        ids = re.findall(r'href="/agent/demandes/(\d+)"', inbox)
        if not ids:
            return
        demande_id = random.choice(ids)
        url = f"/agent/demandes/{demande_id}"
        page = self.client.get(url, name="agent: ouvrir une demande").text or ""
        documents = re.findall(rf"{url}/documents/(\d+)", page)
        if documents:
            document = random.choice(documents)
            self.client.get(f"{url}/documents/{document}", name="agent: page du document")
            self.client.get(f"{url}/documents/{document}/contenu", name="agent: lire le document")
        self.complete_step(page)

    def complete_step(self, page: str) -> None:
        form = TASK_FORM.search(page)
        if form and form.group(1).endswith("/prendre"):
            claimed = self.client.post(
                form.group(1),
                data={"version": form.group(2), "csrf_token": csrf(page)},
                name="agent: prendre une étape",
            )
            page = claimed.text
            form = TASK_FORM.search(page)
        if not form or not form.group(1).endswith("/terminer"):
            return
        data = {"version": form.group(2), "csrf_token": csrf(page), "commentaire": "", **FIGURES}
        for field, value in RADIO.findall(page):
            data.setdefault(field, value)  # the first choice: deliver, validate, offer
        self.client.post(form.group(1), data=data, name="agent: terminer une étape")


class Agent(AgentRound, HttpUser):
    """The default mix's agent: 1–3 s between tasks."""

    weight = 1
    wait_time = between(1, 3)

    @task
    def round(self) -> None:
        self.work_one()


class PicFamille(FamilleRound, FastHttpUser):
    """The peak with everything at once (`CLASSES="PicFamille PicAgent"`): a parent who
    deposits a notice then submits, round after round, with no pause between rounds, so that
    what the portal answers, not a think time, sets the rate.

    On `FastHttpUser`, as `Rentree`: Locust shares the portal's cores.
    """

    weight = 1
    wait_time = constant(0)

    @task
    def round(self) -> None:
        self.deposit_and_submit()


class PicAgent(AgentRound, FastHttpUser):
    """The peak's agents, working their inboxes with no pause: 8 of the users, whatever their
    number (the busy services have 12 agents, each its own account)."""

    fixed_count = 8
    wait_time = constant(0)

    @task
    def round(self) -> None:
        self.work_one()
