"""What the CLI tests share: one assertion of the CLI's user-mistake contract."""

from __future__ import annotations


def one_line_error(res, *fragments) -> None:
    """A user mistake: exit 2 and exactly one line ``Error: ...`` holding every fragment."""
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), res.output
    for f in fragments:
        assert f in lines[0], lines[0]
