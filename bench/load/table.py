"""Print Locust stats CSVs side by side as the Markdown table of bench/README.md.

    .venv/bin/python bench/load/table.py SQLite=/tmp/a/results/stats_stats.csv \
        PostgreSQL=/tmp/b/results/stats_stats.csv
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def read(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8") as source:
        return {f"{row['Type']} {row['Name']}".strip(): row for row in csv.DictReader(source)}


def cell(row: dict[str, str] | None) -> str:
    if row is None:
        return "– | – | – | –"
    failures = int(row["Failure Count"])
    return (
        f"{float(row['Requests/s']):.2f} | {row['50%']} | {row['95%']} | "
        f"{failures}/{row['Request Count']}"
    )


def main(args: list[str]) -> int:
    runs = [(label, read(Path(path))) for label, path in (arg.split("=", 1) for arg in args)]
    steps = list(dict.fromkeys(name for _label, stats in runs for name in stats))
    head = " | ".join(f"{label} req/s | p50 ms | p95 ms | failed" for label, _stats in runs)
    print(f"| step | {head} |")
    print("|---" * (1 + 4 * len(runs)) + "|")
    for step in steps:
        print(f"| {step} | " + " | ".join(cell(stats.get(step)) for _l, stats in runs) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
