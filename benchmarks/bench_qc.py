#!/usr/bin/env python3
"""Benchmark `genomekit sample-qc`, `relate` and `pca` against their peers.

On the seeded cohort of benchmarks/bench_freq.py (same cache under benchmarks/data/),
at equal thread counts, one run of the comparison per repeat, interleaved:

* ``genomekit sample-qc IN --pops POPS`` vs ``bcftools stats -s - IN`` (per-sample
  counts; target: genomekit <= 0.2x bcftools);
* ``genomekit relate IN`` (KING-robust, MAF >= 0.01, pairs >= 0.0442) vs ``plink2 --vcf IN
  --max-alleles 2 --maf 0.01 --make-king-table counts --king-table-filter 0.0442``
  (target: genomekit <= 1.0x plink2);
* ``genomekit pca IN`` (10 PCs, MAF >= 0.01) vs ``plink2 --vcf IN --max-alleles 2 --autosome
  --maf 0.01 --pca 10 approx`` (target: genomekit <= 1.0x plink2).

Wall time and peak RSS come from GNU time (or os.wait4); the report gives the median
wall time, the largest peak RSS and the genomekit/peer ratios, in
benchmarks/results/qc.md and qc.json. Run from the repository root:
``.venv/bin/python benchmarks/bench_qc.py`` (smoke: ``--samples 500 --sites 2000
--repeats 1``; one comparison: ``--only sample-qc``, reported in --work-dir).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_freq import (  # noqa: E402
    REPO,
    Case,
    cpu_model,
    execute,
    fmt_num,
    generate,
    genomekit_exe,
    loadavg,
    mb,
    pick_timer,
    ratio,
    rel,
    run_text,
    which,
)

# (comparison, peer name, target ratio of wall times)
TARGETS = {"sample-qc": ("bcftools stats -s -", 0.2), "relate": ("plink2 --make-king-table", 1.0),
           "pca": ("plink2 --pca approx", 1.0)}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--samples", type=int, default=10_000)
    p.add_argument("--sites", type=int, default=40_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--data-dir", type=Path, default=REPO / "benchmarks" / "data")
    p.add_argument("--work-dir", type=Path, default=REPO / "benchmarks" / "work" / "qc")
    p.add_argument("--timer", choices=("auto", "gnu-time", "wait4"), default="auto")
    p.add_argument("--timeout", type=float, default=3600.0)
    p.add_argument("--regenerate", action="store_true")
    p.add_argument("--only", choices=tuple(TARGETS), action="append",
                   help="run only this comparison (repeatable); its report then goes to "
                        "--work-dir, never over the results of a whole run")
    args = p.parse_args(argv)
    for name in ("samples", "sites", "threads", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    return args


def cases_for(args, gk, bcftools, plink2, folder: Path, work: Path) -> list[Case]:
    inp, pops, t = rel(folder / "cohort.vcf.gz"), rel(folder / "cohort.pops.tsv"), str(
        args.threads)
    qc, rl, king = work / "genomekit-sample-qc", work / "genomekit-relate", work / "plink2-king"
    pc, plpc = work / "genomekit-pca", work / "plink2-pca"
    cases = [
        Case("genomekit-sample-qc", "genomekit", "sample-qc",
             [rel(gk), "sample-qc", inp, "--pops", pops, "--out", rel(qc), "--threads", t,
              "--force", "--quiet"], expect=[Path(f"{qc}.sample_qc.parquet")]),
        Case("bcftools-sample-qc", "bcftools", "sample-qc",
             [bcftools or "bcftools", "stats", "-s", "-", "--threads", t, inp]),
        Case("genomekit-relate", "genomekit", "relate",
             [rel(gk), "relate", inp, "--out", rel(rl), "--threads", t, "--force", "--quiet"],
             expect=[Path(f"{rl}.relate.parquet")]),
        Case("plink2-relate", "plink2", "relate",
             [plink2 or "plink2", "--vcf", inp, "--vcf-half-call", "missing", "--max-alleles",
              "2", "--maf", "0.01", "--make-king-table", "counts", "--king-table-filter",
              "0.0442", "--threads", t, "--out", rel(king)],
             expect=[Path(f"{king}.kin0")]),
        Case("genomekit-pca", "genomekit", "pca",
             [rel(gk), "pca", inp, "--out", rel(pc), "--threads", t, "--force", "--quiet"],
             expect=[Path(f"{pc}.pca_scores.parquet")]),
        Case("plink2-pca", "plink2", "pca",
             [plink2 or "plink2", "--vcf", inp, "--vcf-half-call", "missing", "--max-alleles",
              "2", "--autosome", "--maf", "0.01", "--pca", "10", "approx", "--threads", t,
              "--out", rel(plpc)],
             expect=[Path(f"{plpc}.eigenvec")]),
    ]
    for c in cases:
        exe = {"bcftools": bcftools, "plink2": plink2}.get(c.tool, gk)
        if not exe:
            c.status, c.problem = "missing", f"{c.tool} not found on PATH"
    return cases


def render(res: dict) -> str:
    L = ["# `genomekit sample-qc`, `relate` and `pca` benchmark", "",
         f"Generated by `benchmarks/bench_qc.py` on {res['date']}: {res['samples']:,} samples × "
         f"{res['sites']:,} sites (seed {res['seed']}), {res['threads']} thread(s) for every "
         f"tool, {res['repeats']} interleaved repeat(s); median wall time, largest peak RSS. "
         f"Load average at start {res['loadavg_start']}, at end {res['loadavg_end']} on "
         f"{res['nproc']} CPUs ({res['cpu']}): other work on the machine makes single runs "
         "noisy; the ratios compare runs made side by side.", "",
         "| comparison | tool | median wall (s) | peak RSS (MB) | genomekit / peer wall "
         "| target | verdict |", "|---|---|---:|---:|---:|---:|---|"]
    for r in res["rows"]:
        L.append(f"| {r['comparison']} | {r['tool']} | {fmt_num(r['median_wall_s'])} | "
                 f"{fmt_num(r['peak_rss_mb'], 0)} | {fmt_num(r.get('ratio'))} | "
                 f"{r.get('target') or ''} | {r.get('verdict') or ''} |")
    L += ["", "## Commands", ""]
    L += [f"- `{r['command']}`" + (f" — {r['status']}: {r['problem']}" if r["problem"] else "")
          for r in res["rows"]]
    L += ["", f"Versions: {res['versions']}", ""]
    return "\n".join(L)


def main(argv=None) -> int:
    args = parse_args(argv)
    timer = pick_timer(args.timer, args.timeout or None)
    gk = genomekit_exe(None)
    if not gk:
        print("bench_qc: genomekit executable not found", file=sys.stderr)
        return 1
    bcftools, plink2 = which("bcftools", None), which("plink2", None)
    work = args.work_dir.resolve()
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    load_start = loadavg()
    try:
        folder, _ = generate(args, gk, args.data_dir.resolve(), args.timeout or None)
    except RuntimeError as e:
        print(f"bench_qc: {e}", file=sys.stderr)
        return 1
    cases = cases_for(args, gk, bcftools, plink2, folder, work)
    if args.only:
        cases = [c for c in cases if c.fmt in args.only]
    env = dict(os.environ, NUMBA_CACHE_DIR=str(work / "numba-cache"))
    for c in cases:  # warm-up: compile and fill the page cache, untimed
        if c.tool == "genomekit":
            execute(c, timer, env, logs, "warmup")
    for rep in range(1, args.repeats + 1):
        for c in cases:
            if c.status in ("failed", "missing"):
                continue
            m = execute(c, timer, env, logs, f"r{rep}")
            c.runs.append(m)
            print(f"[bench] {rep}/{args.repeats} {c.id}: {c.status} {fmt_num(m.wall_s)} s "
                  f"{fmt_num(mb(m.maxrss_kib), 0)} MB", flush=True)
    rows = []
    for c in cases:
        row = {"comparison": c.fmt, "tool": c.tool, "status": c.status, "problem": c.problem,
               "command": c.command_line(), "wall_s": [m.wall_s for m in c.runs],
               "median_wall_s": c.median_wall(), "peak_rss_mb": mb(c.peak_rss_kib())}
        if c.tool != "genomekit":
            gk_case = next(g for g in cases if g.tool == "genomekit" and g.fmt == c.fmt)
            peer, target = TARGETS[c.fmt]
            r = ratio(gk_case.median_wall(), c.median_wall())
            row.update(ratio=r, target=f"≤ {target}",
                       verdict=("n/a" if r is None else "met" if r <= target else "NOT met"))
        rows.append(row)
    res = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "samples": args.samples, "sites": args.sites, "seed": args.seed,
        "threads": args.threads, "repeats": args.repeats, "timer": timer.kind,
        "nproc": os.cpu_count(), "cpu": cpu_model(), "loadavg_start": load_start,
        "loadavg_end": loadavg(), "rows": rows,
        "versions": {"genomekit": run_text([gk, "--version"]),
                     "bcftools": (run_text([bcftools, "--version"]) or "").split("\n")[0]
                     if bcftools else None,
                     "plink2": run_text([plink2, "--version"]) if plink2 else None},
    }
    out = args.out_dir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.only:
        out = work  # a partial run never replaces the results of a whole one
    (out / "qc.json").write_text(json.dumps(res, indent=2) + "\n")
    (out / "qc.md").write_text(render(res))
    print(f"[bench] wrote {rel(out / 'qc.md')}")
    return 1 if any(c.tool == "genomekit" and c.status != "ok" for c in cases) else 0


if __name__ == "__main__":
    sys.exit(main())
