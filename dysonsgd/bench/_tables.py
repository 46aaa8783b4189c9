"""Shared helpers of the benchmark scripts: ratio tables printed and written to results/."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def best_time(fn: Callable[[], object], *, repeat: int = 5, number: int = 1) -> float:
    """Best wall time of ``number`` calls of ``fn`` over ``repeat`` rounds, per call, seconds.

    The minimum is the least noisy estimate on a shared machine.
    """
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def _fmt(v) -> str:
    if isinstance(v, float):
        if v == 0 or 1e-3 <= abs(v) < 1e6:
            return f"{v:.4g}"
        return f"{v:.3e}"
    return str(v)


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_table(
    name: str,
    title: str,
    columns: list[str],
    rows: list[list],
    notes: Sequence[str] = (),
) -> str:
    """Print a result table and write ``results/<name>.json`` and ``results/<name>.md``.

    Returns the markdown text.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    md = f"## {title}\n\n{markdown_table(columns, rows)}\n"
    if notes:
        md += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    md += f"\n_{stamp}; {machine}_\n"
    (RESULTS / f"{name}.md").write_text(md)
    payload = {
        "name": name,
        "title": title,
        "columns": list(columns),
        "rows": [list(r) for r in rows],
        "notes": list(notes),
        "when": stamp,
        "machine": machine,
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=1, default=float))
    print(md)
    return md
