"""Profile one agent page of a generated town with pyinstrument, in-process (Flask test client).

    VAR_DIR=/tmp/bench-sqlite .venv/bin/python bench/load/profile_page.py \
        [--agent agent.scolaire.12@bench.example] [--path /agent/taches] [--repeat 20]

Logs the agent in through the real password + TOTP pages (the secret comes from
$VAR_DIR/bench-agents.json; pick an agent the load test is not using at the same time), warms
the page once, then prints pyinstrument's text profile of --repeat requests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import pyotp
from pyinstrument import Profiler

from procedures.demo import DEMO_PASSWORD
from web import create_app

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agent", default="agent.scolaire.12@bench.example")
    parser.add_argument("--path", default="/agent/taches")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
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
    assert client.get(args.path).status_code == 200
    profiler = Profiler()
    began = time.perf_counter()
    with profiler:
        for _ in range(args.repeat):
            client.get(args.path)
    mean = (time.perf_counter() - began) / args.repeat * 1000
    print(f"{args.path}: {mean:.1f} ms a request (mean of {args.repeat}, profiled)")
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    return 0


def _csrf(page: str) -> str:
    found = CSRF.search(page)
    return found.group(1) if found else ""


if __name__ == "__main__":
    sys.exit(main())
