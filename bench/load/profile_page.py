"""Profile an agent page, or a family's submission, of a generated town with pyinstrument.

    VAR_DIR=/tmp/bench-sqlite .venv/bin/python bench/load/profile_page.py \
        [--agent agent.scolaire.12@bench.example] [--path /agent/taches] [--repeat 20]
    VAR_DIR=/tmp/bench-sqlite .venv/bin/python bench/load/profile_page.py --submission \
        [--family 7] [--repeat 20]
    VAR_DIR=/tmp/bench-sqlite .venv/bin/python bench/load/profile_page.py --family-page \
        [--family 7] [--path /famille/coffre] [--documents 300] [--repeat 20]

In-process (Flask test client), so that what is measured is the server's own work. An agent
logs in through the real password + TOTP pages (the secret comes from
$VAR_DIR/bench-agents.json; pick an agent the load test is not using at the same time); the
page is warmed once, then --repeat requests are profiled. With --submission, family number
--family logs in and --repeat times deposits a tax notice, then starts, fills, shares and
submits a quotient familial: the requests of the load test's family (and the pages its
POSTs lead to, which a browser and Locust follow), timed one by one. With --family-page,
family number --family logs in and --path is profiled (for its vault, /famille/coffre); with
--documents N, tax notices are deposited first until its vault holds N documents (the load
test's families deposit one a round, so theirs grow).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import time
from pathlib import Path

import pyotp
from flask.testing import FlaskClient
from pyinstrument import Profiler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from town import family_email

from demo.seed import DEMO_PASSWORD, demo_pdf
from web import create_app

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agent", default="agent.scolaire.12@bench.example")
    parser.add_argument("--path", default="/agent/taches")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--submission", action="store_true", help="a family's submission")
    parser.add_argument("--family", type=int, default=7, help="the bench family's number")
    parser.add_argument("--family-page", action="store_true", help="a family's page (--path)")
    parser.add_argument("--documents", type=int, default=0, help="fill the vault up to N first")
    args = parser.parse_args(argv)
    if args.submission:
        return _profile_submission(args.family, args.repeat)
    if args.family_page:
        path = args.path if args.path.startswith("/famille") else "/famille/coffre"
        return _profile_family_page(args.family, path, args.documents, args.repeat)
    var_dir = Path(os.environ.get("VAR_DIR", "var")).resolve()
    secret = json.loads((var_dir / "bench-agents.json").read_text(encoding="utf-8"))[args.agent]
    client = create_app().test_client()
    page = client.get("/connexion").get_data(as_text=True)
    login = {"email": args.agent, "password": DEMO_PASSWORD, "csrf_token": _csrf(page)}
    second = client.post("/connexion", data=login, follow_redirects=True)
    code = {"code": pyotp.TOTP(secret).now(), "csrf_token": _csrf(second.get_data(as_text=True))}
    if client.post("/connexion/second-facteur", data=code).status_code != 302:
        print("second factor refused (code already used this 30 s step?)", file=sys.stderr)
        return 1
    return _profile_page(client, args.path, args.repeat)


def _profile_page(client: FlaskClient, path: str, repeat: int) -> int:
    """Warm the page once, then profile `repeat` requests of it."""
    assert client.get(path).status_code == 200
    profiler = Profiler()
    began, began_cpu = time.perf_counter(), time.process_time()
    with profiler:
        for _ in range(repeat):
            client.get(path)
    mean = (time.perf_counter() - began) / repeat * 1000
    cpu = (time.process_time() - began_cpu) / repeat * 1000  # steadier on a shared machine
    print(f"{path}: {mean:.1f} ms a request, {cpu:.1f} ms of CPU (mean of {repeat}, profiled)")
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    return 0


def _profile_family_page(number: int, path: str, documents: int, repeat: int) -> int:
    client = _family_client(number)
    if client is None:
        return 1
    vault = client.get("/famille/coffre").get_data(as_text=True)
    held = len(set(re.findall(r"/famille/coffre/(\d+)/", vault)))
    for _ in range(documents - held):
        _deposit(client, number, _csrf(vault), {})
    if documents > held:
        print(f"family {number}: {documents - held} notices deposited ({documents} documents)")
    return _profile_page(client, path, repeat)


def _family_client(number: int) -> FlaskClient | None:
    """A test client logged in as bench family `number`; None if it could not log in."""
    client = create_app().test_client()
    page = client.get("/connexion").get_data(as_text=True)
    login = {"email": family_email(number), "password": DEMO_PASSWORD, "csrf_token": _csrf(page)}
    if client.post("/connexion", data=login).status_code != 302:
        print(f"family {number} could not log in", file=sys.stderr)
        return None
    return client


def _profile_submission(number: int, repeat: int) -> int:
    client = _family_client(number)
    if client is None:
        return 1
    timings: dict[str, float] = {}
    _submit_once(client, number, {})  # warm
    profiler = Profiler()
    began = time.perf_counter()
    with profiler:
        for _ in range(repeat):
            _submit_once(client, number, timings)
    mean = (time.perf_counter() - began) / repeat * 1000
    print(f"submission (deposit + 11 requests): {mean:.1f} ms (mean of {repeat}, profiled)")
    for step, seconds in timings.items():
        print(f"  {step:<28} {seconds / repeat * 1000:7.1f} ms")
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    return 0


def _submit_once(client: FlaskClient, number: int, timings: dict[str, float]) -> None:
    """The load test's family task: deposit a notice, then ask for a quotient familial."""

    def timed(step: str, method: str, path: str, expect: int, **kwargs: object) -> str:
        began = time.perf_counter()
        answer = client.open(path, method=method, **kwargs)  # type: ignore[arg-type]
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - began
        if answer.status_code != expect:
            raise SystemExit(f"{step}: {method} {path} answered {answer.status_code}")
        return answer.headers.get("Location", "") or answer.get_data(as_text=True)

    token = _csrf(timed("GET formulaire de dépôt", "GET", "/famille/coffre/ajouter", 200))
    _deposit(client, number, token, timings)
    vault = timed("GET coffre", "GET", "/famille/coffre", 200)
    document = max(int(i) for i in re.findall(r"/famille/coffre/(\d+)/", vault))
    timed("GET démarches", "GET", "/famille/demarches", 200)
    start = "/famille/demarches/quotient_familial/commencer"
    draft = timed("POST commencer", "POST", start, 303, data={"csrf_token": token})
    timed("  GET formulaire", "GET", draft, 200)
    base = draft.rsplit("/", 1)[0]
    fields = {"nombre_parts": "2", "revenu_fiscal_reference": "28000", "action": "continuer",
              "csrf_token": token}  # fmt: skip
    shares = timed("POST formulaire", "POST", f"{base}/formulaire", 303, data=fields)
    timed("  GET justificatifs", "GET", shares, 200)
    share = {"partage": str(document), "csrf_token": token}
    summary = timed("POST partager", "POST", f"{base}/justificatifs", 303, data=share)
    timed("  GET récapitulatif", "GET", summary, 200)
    timed("POST soumettre", "POST", f"{base}/deposer", 303, data={"csrf_token": token})


def _deposit(client: FlaskClient, number: int, token: str, timings: dict[str, float]) -> None:
    """Deposit a tax notice for the whole foyer, as the load test's families do."""
    notice = (io.BytesIO(demo_pdf(f"Avis {number}")), "avis.pdf")
    upload = {"type_code": "avis_imposition", "member_id": "", "issued_on": "2026-10-01",
              "csrf_token": token, "fichier": notice}  # fmt: skip
    began = time.perf_counter()
    answer = client.post("/famille/coffre/ajouter", data=upload)
    timings["POST déposer"] = timings.get("POST déposer", 0.0) + time.perf_counter() - began
    if answer.status_code != 303:
        raise SystemExit(f"deposit answered {answer.status_code}")


def _csrf(page: str) -> str:
    found = CSRF.search(page)
    return found.group(1) if found else ""


if __name__ == "__main__":
    sys.exit(main())
