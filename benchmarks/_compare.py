"""The layer bench_qc.py and bench_bam.py share: one genomekit command against one peer per
comparison, at one thread count, with the same options, run loop and report layout.

Imported as ``import _compare as compare``; see _common.py for how the scripts import.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import _common as common


def parser(doc: str) -> argparse.ArgumentParser:
    """The parser of a comparison script, described by its docstring's first line."""
    return argparse.ArgumentParser(description=doc.splitlines()[0],
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)


def add_run_options(p: argparse.ArgumentParser, work: str) -> None:
    """--seed, --threads, --repeats, the folders (--work-dir under benchmarks/work/``work``),
    --timer and --timeout."""
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out-dir", type=Path, default=common.REPO / "benchmarks" / "results")
    p.add_argument("--data-dir", type=Path, default=common.REPO / "benchmarks" / "data")
    p.add_argument("--work-dir", type=Path,
                   default=common.REPO / "benchmarks" / "work" / work)
    p.add_argument("--timer", choices=("auto", "gnu-time", "wait4"), default="auto")
    p.add_argument("--timeout", type=float, default=3600.0)


@dataclass
class Setup:
    """What a comparison run starts from."""
    timer: common.Timer
    gk: str  # the genomekit executable
    work: Path
    logs: Path
    load_start: list[float] | None
    folder: Path  # the generated data
    info: dict  # its manifest
    env: dict  # the environment of the timed runs (their own Numba cache)


def prepare(args, prog: str, generate) -> Setup:
    """The timer, genomekit, the work and log folders, the load average at the start, the
    data (``generate(args, gk, data_root, timeout)``) and the timed runs' environment. Exits
    with status 1, after saying why, when genomekit cannot be found or the data cannot be
    made."""
    timer = common.pick_timer(args.timer, args.timeout or None)
    gk = common.genomekit_exe(None)
    if not gk:
        print(f"{prog}: genomekit executable not found", file=sys.stderr)
        sys.exit(1)
    common.compile_bytecode(gk)
    work = args.work_dir.resolve()
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    load_start = common.loadavg()
    try:
        folder, info = generate(args, gk, args.data_dir.resolve(), args.timeout or None)
    except RuntimeError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        sys.exit(1)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(work / "numba-cache"))
    return Setup(timer, gk, work, logs, load_start, folder, info, env)


def interleaved(cases: list[common.Case], repeats: int, timer: common.Timer, env: dict,
                logs: Path) -> None:
    """``repeats`` timed runs of every case still runnable, one of each per repeat."""
    for rep in range(1, repeats + 1):
        for c in cases:
            if c.status in ("failed", "missing"):
                continue
            m = common.execute(c, timer, env, logs, f"r{rep}")
            c.runs.append(m)
            print(f"[bench] {rep}/{repeats} {c.id}: {c.status} {common.fmt_num(m.wall_s)} s "
                  f"{common.fmt_num(common.mb(m.maxrss_kib), 0)} MB", flush=True)


def rows(cases: list[common.Case], compared_with, target, rss_runs: bool = False) -> list[dict]:
    """The results' lines, one a command (``rss_runs``: with every run's peak RSS). A peer's
    line has the ratio of wall times of the genomekit case of comparison
    ``compared_with(peer)`` to its own and, when ``target(peer)`` is not None, that target
    (genomekit / peer wall at most it) and whether the ratio meets it."""
    out = []
    for c in cases:
        row = {"comparison": c.fmt, "tool": c.tool, "status": c.status, "problem": c.problem,
               "command": c.command_line(), "wall_s": [m.wall_s for m in c.runs]}
        if rss_runs:
            row["maxrss_kib"] = [m.maxrss_kib for m in c.runs]
        row.update(median_wall_s=c.median_wall(), peak_rss_mb=common.mb(c.peak_rss_kib()))
        if c.tool != "genomekit":
            gk_case = next(g for g in cases
                           if g.tool == "genomekit" and g.fmt == compared_with(c))
            r = common.ratio(gk_case.median_wall(), c.median_wall())
            row["ratio"] = r
            limit = target(c)
            if limit is not None:
                row.update(target=f"≤ {limit}",
                           verdict="n/a" if r is None else "met" if r <= limit else "NOT met")
        out.append(row)
    return out


def run_context(args, timer: common.Timer, load_start: list[float] | None) -> dict:
    return {"threads": args.threads, "repeats": args.repeats, "timer": timer.kind,
            "nproc": os.cpu_count(), "cpu": common.cpu_model(), "loadavg_start": load_start,
            "loadavg_end": common.loadavg()}


def conditions(res: dict) -> str:
    """The report's sentence on threads, repeats, statistics and load."""
    return (f"{res['threads']} thread(s) for every tool, {res['repeats']} interleaved "
            f"repeat(s); median wall time, largest peak RSS. Load average at start "
            f"{res['loadavg_start']}, at end {res['loadavg_end']} on {res['nproc']} CPUs "
            f"({res['cpu']}): other work on the machine makes single runs noisy; the ratios "
            "compare runs made side by side.")


def table(rows: list[dict]) -> list[str]:
    L = ["| comparison | tool | median wall (s) | peak RSS (MB) | genomekit / peer wall "
         "| target | verdict |", "|---|---|---:|---:|---:|---:|---|"]
    fmt = common.fmt_num
    for r in rows:
        L.append(f"| {r['comparison']} | {r['tool']} | {fmt(r['median_wall_s'])} | "
                 f"{fmt(r['peak_rss_mb'], 0)} | {fmt(r.get('ratio'))} | "
                 f"{r.get('target') or ''} | {r.get('verdict') or ''} |")
    return L


def commands(rows: list[dict]) -> list[str]:
    L = ["", "## Commands", ""]
    L += [f"- `{r['command']}`" + (f" — {r['status']}: {r['problem']}" if r["problem"] else "")
          for r in rows]
    return L


def write_report(out_dir: Path, name: str, res: dict, markdown: str,
                 into: Path | None = None) -> None:
    """``name``.json and ``name``.md in ``out_dir`` (made when needed), or in ``into``
    instead when given (a partial run, whose report must not replace a whole run's)."""
    out = out_dir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    out = into or out
    (out / f"{name}.json").write_text(json.dumps(res, indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown)
    print(f"[bench] wrote {common.rel(out / f'{name}.md')}")


def genomekit_failed(cases: list[common.Case]) -> int:
    """The exit status of a run: 1 when a genomekit command did not succeed."""
    return 1 if any(c.tool == "genomekit" and c.status != "ok" for c in cases) else 0
