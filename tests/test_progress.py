"""Progress: a bar with percentage and ETA on a terminal, dated log lines otherwise."""

from __future__ import annotations

import io

from genomekit.progress import Progress


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_bar_on_a_terminal():
    out = FakeTerminal()
    p = Progress("freq", total=100, stream=out, interval=0)
    p.update(50, "chr1:1000")
    p.close()
    text = out.getvalue()
    assert "\r" in text and "50%" in text and "ETA" in text and "chr1:1000" in text
    assert text.endswith("\n")


def test_log_lines_without_a_terminal():
    out = io.StringIO()
    p = Progress("freq", stream=out, interval=0)
    for i in range(3):
        p.update(10, f"chr1:{i}")
    p.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and all(ln.startswith("genomekit: ") for ln in lines)
    assert "\r" not in out.getvalue() and "30 records" in lines[-1]


def test_quiet_prints_nothing():
    out = FakeTerminal()
    p = Progress("freq", total=10, stream=out, interval=0, quiet=True)
    p.update(5)
    p.close()
    assert out.getvalue() == ""
