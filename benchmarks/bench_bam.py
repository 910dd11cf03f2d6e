#!/usr/bin/env python3
"""Benchmark `genomekit bam-qc` against mosdepth and samtools flagstat.

On one simulated BAM (a male sample at --depth over the contigs of a `genomekit simulate`
cohort of --sites sites: 230,000 sites give about 51 Mb; `genomekit simulate-bams`
writes it with every kind of noise), at equal thread counts, one run of each command per
repeat, interleaved:

* ``genomekit bam-qc BAM --threads T`` (flag counts, depth distribution, per-chromosome
  means, karyotype; Parquet tables) vs ``mosdepth -n -t T`` (summary and distribution,
  no per-base output): the default depth rules (mate overlaps corrected) on both;
* the same with ``-x`` (fast mode) on both;
* ``samtools flagstat -@ T`` for information (genomekit computes its counts as well).

The target is genomekit at most as slow as mosdepth (wall ratio <= 1). Wall time and
peak RSS come from GNU time (or os.wait4); the report gives the median wall time, the
largest peak RSS, the ratios, and whether the two tools' depth figures agree, in
benchmarks/results/bam.md and bam.json. genomekit's timed runs use a warm Numba cache;
one first run with an empty cache gives the cold time. Run from the repository root:
``.venv/bin/python benchmarks/bench_bam.py`` (smoke: ``--sites 20000 --depth 5
--repeats 1``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _compare as compare  # noqa: E402
from _common import (  # noqa: E402
    REPO,
    Case,
    cached_data,
    execute,
    fmt_num,
    missing_tool,
    new_partial,
    now_iso,
    publish,
    rel,
    require_positive,
    run_text,
    which,
)

TARGET = 1.0  # genomekit / mosdepth wall time


def parse_args(argv=None):
    p = compare.parser(__doc__)
    p.add_argument("--sites", type=int, default=230_000,
                   help="sites of the simulated cohort (they set the contig lengths)")
    p.add_argument("--depth", type=float, default=30.0)
    compare.add_run_options(p, "bam")
    p.add_argument("--no-cold", action="store_true", help="skip the empty-cache run")
    p.add_argument("--regenerate", action="store_true")
    args = p.parse_args(argv)
    require_positive(p, args, ("sites", "threads", "repeats"))
    if args.depth <= 0:
        p.error("--depth must be positive")
    return args


def generate(args, gk: str, data_root: Path, timeout: float | None) -> tuple[Path, dict]:
    """The cached folder with the cohort VCF and one male sample's BAM, made when needed."""
    key = f"bam-m{args.sites}-d{args.depth:g}-seed{args.seed}"
    folder = data_root / key
    info = cached_data(folder, args.regenerate)
    if info is not None:
        return folder, info
    partial = new_partial(data_root, key)
    start = time.perf_counter()
    commands = [[rel(gk), "simulate", "--out", rel(partial / "cohort"), "--samples", "2",
                 "--sites", str(args.sites), "--seed", str(args.seed), "--force", "--quiet"]]
    try:
        for cmd in commands:
            print(f"[bench] {shlex.join(cmd)}", flush=True)
            subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, text=True,
                           timeout=timeout)
        rows = [ln.split("\t") for ln in (partial / "cohort.pops.tsv").read_text().splitlines()]
        sample = next((r[0] for r in rows[1:] if r[2] == "M"), rows[1][0])
        cmd = [rel(gk), "simulate-bams", rel(partial / "cohort.vcf.gz"), "--out-dir",
               rel(partial / "bams"), "--samples", sample, "--depth", f"{args.depth:g}",
               "--seed", str(args.seed), "--sexes", rel(partial / "cohort.pops.tsv"),
               "--threads", str(args.threads), "--quiet"]
        commands.append(cmd)
        print(f"[bench] {shlex.join(cmd)}", flush=True)
        subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, text=True,
                       timeout=timeout)
    except subprocess.CalledProcessError as e:
        shutil.rmtree(partial, ignore_errors=True)
        raise RuntimeError(f"data generation failed: {e.stderr.strip()[-2000:]}") from None
    except subprocess.TimeoutExpired:
        shutil.rmtree(partial, ignore_errors=True)
        raise RuntimeError(f"data generation timed out after {timeout} s") from None
    bam = f"bams/{sample}.bam"
    info = {
        "key": key, "sites": args.sites, "depth": args.depth, "seed": args.seed,
        "sample": sample, "bam": bam,
        "commands": [shlex.join(c).replace(rel(partial), rel(folder)) for c in commands],
        "generation_seconds": round(time.perf_counter() - start, 2),
        "genomekit_version": run_text([gk, "--version"]),
        "generated": now_iso(),
        "files": ["cohort.vcf.gz", "cohort.pops.tsv", bam, bam + ".bai",
                  "bams/reference.fa"],
    }
    return publish(partial, folder, info)


def first_line(cmd: list[str]) -> str | None:
    """The first line a command prints (bytes decoded leniently: samtools prints Latin-1)."""
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (r.stdout or r.stderr).decode(errors="replace").strip()
    return text.splitlines()[0] if text else None


def cases_for(args, gk, mosdepth, samtools, bam: Path, work: Path) -> list[Case]:
    t = str(args.threads)
    inp = rel(bam)
    gk_out, gkx_out = work / "genomekit", work / "genomekit-fast"
    md_out, mdx_out = work / "mosdepth", work / "mosdepth-fast"
    cases = [
        Case("genomekit-default", "genomekit", "default",
             [rel(gk), "bam-qc", inp, "--out", rel(gk_out), "--threads", t, "--force",
              "--quiet"], expect=[Path(f"{gk_out}.bam_qc.parquet")]),
        Case("mosdepth-default", "mosdepth", "default",
             [mosdepth or "mosdepth", "-n", "-t", t, rel(md_out), inp],
             expect=[Path(f"{md_out}.mosdepth.summary.txt")]),
        Case("genomekit-fast", "genomekit", "fast",
             [rel(gk), "bam-qc", inp, "-x", "--out", rel(gkx_out), "--threads", t,
              "--force", "--quiet"], expect=[Path(f"{gkx_out}.bam_qc.parquet")]),
        Case("mosdepth-fast", "mosdepth", "fast",
             [mosdepth or "mosdepth", "-n", "-x", "-t", t, rel(mdx_out), inp],
             expect=[Path(f"{mdx_out}.mosdepth.summary.txt")]),
        Case("samtools-flagstat", "samtools", "flagstat",
             [samtools or "samtools", "flagstat", "-@", t, inp]),
    ]
    for c in cases:
        missing_tool(c, {"mosdepth": mosdepth, "samtools": samtools}.get(c.tool, gk))
    return cases


def agreement(work: Path) -> dict:
    """Whether genomekit's genome-wide depth equals mosdepth's, per mode."""
    import polars as pl

    out = {}
    for mode, gk_name, md_name in (("default", "genomekit", "mosdepth"),
                                   ("fast", "genomekit-fast", "mosdepth-fast")):
        try:
            row = pl.read_parquet(work / f"{gk_name}.bam_qc.parquet").row(0, named=True)
            total = next(ln.split("\t") for ln in
                         (work / f"{md_name}.mosdepth.summary.txt").read_text().splitlines()
                         if ln.startswith("total\t"))
        except (OSError, StopIteration, pl.exceptions.PolarsError):
            out[mode] = None
            continue
        out[mode] = {"genomekit": [row["genome_bases"], row["sum_depth"]],
                     "mosdepth": [int(total[1]), int(total[2])],
                     "equal": [row["genome_bases"], row["sum_depth"]] == [int(total[1]),
                                                                         int(total[2])]}
    return out


def render(res: dict) -> str:
    d = res["data"]
    L = ["# `genomekit bam-qc` benchmark", "",
         f"Generated by `benchmarks/bench_bam.py` on {res['date']}: one simulated BAM "
         f"({d['bam_mb']:.0f} MB, {d['records']:,} records, {d['genome_mb']:.1f} Mb of "
         f"contigs at {d['depth']:g}x, a male with every kind of noise; seed {d['seed']}), "
         f"{compare.conditions(res)}", "", *compare.table(res["rows"])]
    cold = res.get("cold")
    if cold:
        L += ["", f"genomekit with an empty Numba cache (compilation included): "
                  f"{fmt_num(cold['wall_s'])} s ({cold['status']})."]
    L += ["", "Depth figures (genome bases, summed depth) of genomekit and mosdepth:"]
    for mode, a in res["agreement"].items():
        L.append(f"- {mode}: " + ("not compared (a run failed)" if a is None else
                                  f"genomekit {a['genomekit']}, mosdepth {a['mosdepth']} — "
                                  + ("equal" if a["equal"] else "DIFFERENT")))
    L += compare.commands(res["rows"])
    L += ["", f"Data: `{d['commands'][0]}`; `{d['commands'][1]}`", "",
          f"Versions: {res['versions']}", ""]
    return "\n".join(L)


def main(argv=None) -> int:
    args = parse_args(argv)
    setup = compare.prepare(args, "bench_bam", generate)
    mosdepth, samtools = which("mosdepth", None), which("samtools", None)
    folder, info = setup.folder, setup.info
    bam = folder / info["bam"]
    cases = cases_for(args, setup.gk, mosdepth, samtools, bam, setup.work)
    cold = None
    if not args.no_cold:
        empty = setup.work / "numba-cache-cold"
        shutil.rmtree(empty, ignore_errors=True)
        c = Case("genomekit-cold", "genomekit", "default", cases[0].cmd,
                 expect=cases[0].expect)
        m = execute(c, setup.timer, dict(os.environ, NUMBA_CACHE_DIR=str(empty)), setup.logs,
                    "cold")
        cold = {"wall_s": m.wall_s, "status": c.status}
    for c in cases:  # warm-up: compile into the timed runs' cache, fill the page cache
        if c.status != "missing":
            execute(c, setup.timer, setup.env, setup.logs, "warmup")
            if c.status == "ok":
                c.status = "pending"
    compare.interleaved(cases, args.repeats, setup.timer, setup.env, setup.logs)
    rows = compare.rows(cases, lambda c: c.fmt if c.fmt != "flagstat" else "default",
                           lambda c: TARGET if c.tool == "mosdepth" else None, rss_runs=True)
    records = run_text([samtools, "view", "-c", str(bam)], stderr=False) if samtools else None
    fai = (folder / "bams" / "reference.fa.fai").read_text().splitlines()
    res = {
        "date": now_iso(), **compare.run_context(args, setup.timer, setup.load_start),
        "data": {**info, "depth": args.depth, "bam_mb": bam.stat().st_size / 2**20,
                 "records": int(records) if records else 0,
                 "genome_mb": sum(int(ln.split("\t")[1]) for ln in fai) / 1e6},
        "rows": rows, "cold": cold, "agreement": agreement(setup.work),
        "versions": {"genomekit": run_text([setup.gk, "--version"]),
                     "mosdepth": first_line([mosdepth, "--version"]) if mosdepth else None,
                     "samtools": first_line([samtools, "--version"]) if samtools else None},
    }
    compare.write_report(args.out_dir, "bam", res, render(res))
    return compare.genomekit_failed(cases)


if __name__ == "__main__":
    sys.exit(main())
