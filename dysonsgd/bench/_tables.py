"""What the benchmarks share: the timer, and the result table (data; printed and written by the
runner, never by a benchmark)."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


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


def load_average() -> tuple[float, float, float]:
    """The 1-, 5- and 15-minute load averages (:func:`os.getloadavg`; NaN where unknown)."""
    try:
        return tuple(float(x) for x in os.getloadavg())
    except (OSError, AttributeError):  # not on every platform
        return (float("nan"),) * 3


def load_text(load: Sequence[float] | None = None) -> str:
    """``"load average 1.52 (1 min) on 2 cores"``, now or for a given (1, 5, 15)-minute triple."""
    one = (load if load is not None else load_average())[0]
    return f"load average {one:.2f} (1 min) on {os.cpu_count()} cores"


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


@dataclass
class Table:
    """One benchmark's result: a titled table, notes, when, on what, and under what load.

    ``load_start`` and ``load_end`` are the (1, 5, 15)-minute load averages when the
    benchmark started and ended (set by the runner): on a shared machine every absolute time
    and projection in the table depends on them, the side-by-side ratios much less.
    """

    name: str
    title: str
    columns: list[str]
    rows: list[list]
    notes: list[str] = field(default_factory=list)
    when: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    machine: str = field(
        default_factory=lambda: (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        )
    )
    load_start: tuple[float, float, float] | None = None
    load_end: tuple[float, float, float] | None = None

    def load_line(self) -> str:
        """The load the table was measured under, for the line under the table."""
        end = self.load_end if self.load_end is not None else load_average()
        start = f"{self.load_start[0]:.2f} at the start, " if self.load_start else ""
        return (
            f"Load average (1 min) {start}{end[0]:.2f} at the end, on {os.cpu_count()} cores: "
            "the absolute times and projections above were measured under this load (other "
            "processes share the cores); the ratios suffer less."
        )

    def markdown(self) -> str:
        md = f"## {self.title}\n\n{markdown_table(self.columns, self.rows)}\n\n"
        md += self.load_line() + "\n"
        if self.notes:
            md += "\n" + "\n".join(f"- {n}" for n in self.notes) + "\n"
        md += f"\n_{self.when}; {self.machine}_\n"
        return md

    def payload(self) -> dict:
        """The JSON form (what ``<name>.json`` holds)."""
        return {
            "name": self.name,
            "title": self.title,
            "columns": list(self.columns),
            "rows": [list(r) for r in self.rows],
            "notes": list(self.notes),
            "when": self.when,
            "machine": self.machine,
            "load_average": {"start": self.load_start, "end": self.load_end},
        }

    def write(self, out_dir: str | os.PathLike) -> list[Path]:
        """Write ``<out_dir>/<name>.md`` and ``.json`` (atomically, mode 0666 less the umask).

        Creates ``out_dir`` (not its parents) if it is missing. Returns the two paths.
        """
        from dysonsgd import _io

        d = Path(out_dir)
        d.mkdir(exist_ok=True)
        md, js = d / f"{self.name}.md", d / f"{self.name}.json"
        text = json.dumps(self.payload(), indent=1, default=float)
        _io.atomic_write_bytes(md, lambda fh: fh.write(self.markdown().encode()))
        _io.atomic_write_bytes(js, lambda fh: fh.write(text.encode()))
        return [md, js]
