#!/usr/bin/env python3
"""Benchmark `genomekit freq` against its peers on seeded simulated cohorts.

What it measures: the wall time (seconds) and peak resident set size (ru_maxrss,
the same figure GNU time's %M reports) of one whole command run, at equal
thread counts (every count of ``--threads``, default 1 and 2), for

* ``genomekit freq IN --pops POPS --out ... --threads T --force --quiet``
  (writes the Parquet table and JSON summary), on VCF.gz and on BCF;
* ``plink2 --vcf/--bcf IN --vcf-half-call missing --update-sex ... --split-par hg38
  --freq counts --hardy --missing --threads T`` (reads the VCF/BCF directly);
* ``bcftools +fill-tags IN -Ou -o /dev/null --threads T -- -t AC,AN,AF,...``
  (the INFO tags genomekit computes; binary output thrown away), on VCF.gz and BCF,
  by default at the largest thread count only (``--bcftools-threads``).

Every command is repeated --repeats times, interleaved (A, B, C, A, B, C, ...), and
the median wall time and the largest peak RSS are reported; ratios compare runs at the
same thread count on the same input format. genomekit's timed runs use a warm Numba
cache; a separate first run per input format with NUMBA_CACHE_DIR pointing at a fresh,
empty directory gives the cold-cache (compile included) time. genomekit's Python
bytecode is written first, as pip writes it when it installs a package. The OS page
cache is not dropped: every tool reads inputs that are already cached.

Scaling (``--scaling SAMPLESxSITES,...``): for each cohort size, one untimed warm-up
and ``--scaling-repeats`` timed runs of genomekit freq (VCF.gz and BCF) and plink2
(VCF.gz) at the largest thread count: wall time, peak RSS and genotypes per second.
The size equal to the main cohort reuses the main runs.

The targets of the report: genomekit/plink2 wall on VCF.gz <= 0.5 at 2 threads and
<= 0.7 at 1 thread; genomekit/bcftools +fill-tags on VCF.gz <= 0.1; genomekit faster
on BCF than on VCF.gz at every thread count; genomekit peak RSS <= 1 GB at 10,000
samples, whatever the number of sites.

Cohorts come from `genomekit simulate` and are cached under benchmarks/data/, keyed
by samples, sites and seed. Results go to benchmarks/results/freq.md and freq.json.
Peer tools that are missing or fail are reported, not fatal: the exit status is
non-zero only when genomekit itself (simulate or freq) fails.

Run from the repository root: ``.venv/bin/python benchmarks/bench_freq.py``
(smoke run: ``--samples 500 --sites 2000 --repeats 1 --scaling 300x1000,500x2000
--out-dir /tmp/bench --work-dir /tmp/bench/work``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    REPO,
    Case,
    Timer,
    cached_data,
    compile_bytecode,
    cpu_model,
    execute,
    fmt_num,
    genomekit_exe,
    genomekit_python,
    loadavg,
    mb,
    mem_total_gib,
    missing_tool,
    new_partial,
    now_iso,
    pick_timer,
    publish,
    ratio,
    rel,
    require_positive,
    run_text,
    which,
)

FILL_TAGS = "AC,AN,AF,AC_Het,AC_Hom,AC_Hemi,HWE,ExcHet,F_MISSING,NS"
RSS_TARGET_MB = 1024.0  # "<= 1 GB", with MB = 2**20 bytes as everywhere in this report
RSS_TARGET_SAMPLES = 10_000
PLINK_TARGETS = {2: 0.5, 1: 0.7}  # threads -> largest genomekit/plink2 wall ratio on VCF.gz
BCFTOOLS_TARGET = 0.1  # largest genomekit/bcftools +fill-tags wall ratio on VCF.gz
FORMATS = (("vcf.gz", "cohort.vcf.gz"), ("bcf", "cohort.bcf"))
FILES = dict(FORMATS)
PLINK_SPLIT_PAR = "hg38"  # genomekit's default build is GRCh38
DEFAULT_SCALING = "2000x100000,10000x40000,50000x8000"


# --------------------------------------------------------------------------- data


def run_relayed(cmd: list[str], env: dict, timeout: float | None,
                label: str) -> tuple[int | None, str]:
    """Run ``cmd``, echoing its output (progress lines) as it comes and a note every minute
    of silence; returns the exit status (None when it timed out) and the output's tail."""
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", start_new_session=True)
    seen: list[str] = []
    last = [time.monotonic()]

    def relay() -> None:
        for line in proc.stdout:
            line = line.rstrip().split("\r")[-1]
            if line.strip():
                seen.append(line[:300])
                last[0] = time.monotonic()
                print(f"[bench]   {line[:300]}", flush=True)

    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    start = time.monotonic()
    rc: int | None = None
    while rc is None:
        now = time.monotonic()
        if timeout and now - start > timeout:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            break
        try:
            rc = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            if time.monotonic() - last[0] >= 60:
                last[0] = time.monotonic()
                print(f"[bench]   {label}: running for {time.monotonic() - start:.0f} s",
                      flush=True)
    reader.join(5)
    return rc, "\n".join(seen[-12:])


def cohort_key(samples: int, sites: int, seed: int) -> str:
    return f"cohort-n{samples}-m{sites}-seed{seed}"


def make_cohort(gk: str, samples: int, sites: int, seed: int, data_root: Path,
                timeout: float | None, regenerate: bool = False) -> tuple[Path, dict]:
    """The cached cohort folder for (samples, sites, seed), generating it when needed."""
    key = cohort_key(samples, sites, seed)
    folder = data_root / key
    info = cached_data(folder, regenerate)
    if info is not None:
        return folder, info
    partial = new_partial(data_root, key)
    cmd = [rel(gk), "simulate", "--out", rel(partial / "cohort"), "--samples", str(samples),
           "--sites", str(sites), "--seed", str(seed), "--bcf", "--force"]
    print(f"[bench] generating {key}: {shlex.join(cmd)}", flush=True)
    start = time.perf_counter()
    rc, output = run_relayed(cmd, dict(os.environ, GENOMEKIT_LOG_INTERVAL="15"), timeout,
                             f"generating {key}")
    elapsed = time.perf_counter() - start
    files = ["cohort.vcf.gz", "cohort.vcf.gz.tbi", "cohort.pops.tsv", "cohort.bcf",
             "cohort.bcf.csi"]
    absent = [f for f in files if not (partial / f).exists()]
    if rc != 0 or absent:
        shutil.rmtree(partial, ignore_errors=True)
        why = ("timed out" if rc is None else f"exit status {rc}" if rc
               else f"did not write {absent}")
        raise RuntimeError(f"genomekit simulate failed ({why}): {output[-2000:]}")
    print(f"[bench]   generated {key} in {elapsed:.0f} s", flush=True)
    info = {
        "key": key, "samples": samples, "sites": sites, "seed": seed,
        "command": shlex.join(cmd).replace(rel(partial), rel(folder)),
        "generation_seconds": round(elapsed, 2),
        "genomekit_version": run_text([gk, "--version"]),
        "generated": now_iso(),
        "files": files,
    }
    return publish(partial, folder, info)


def generate(args, gk: str, data_root: Path, timeout: float | None) -> tuple[Path, dict]:
    """The cohort of ``args.samples``, ``args.sites``, ``args.seed`` (honours --regenerate)."""
    return make_cohort(gk, args.samples, args.sites, args.seed, data_root, timeout,
                       args.regenerate)


def plink_sex_file(folder: Path) -> Path:
    """plink2 --update-sex file (#IID, SEX 1/2/NA) derived from the genomekit sample sheet."""
    out = folder / "cohort.plink-sex.tsv"
    if out.exists():
        return out
    rows = ["#IID\tSEX"]
    lines = (folder / "cohort.pops.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    i_sample, i_sex = header.index("sample"), header.index("sex")
    for line in lines[1:]:
        cols = line.split("\t")
        if len(cols) > max(i_sample, i_sex):
            rows.append(f"{cols[i_sample]}\t{ {'M': '1', 'F': '2'}.get(cols[i_sex], 'NA')}")
    tmp = out.with_suffix(".tmp")
    tmp.write_text("\n".join(rows) + "\n")
    tmp.rename(out)
    return out


def count_records(bcftools: str | None, path: Path) -> int | None:
    if not bcftools:
        return None
    text = run_text([bcftools, "index", "-n", str(path)], stderr=False)
    try:
        return int(text) if text else None
    except ValueError:
        return None


def describe_cohort(folder: Path, info: dict, bcftools: str | None) -> dict:
    """What the report says about one cohort: where, how made, records and file sizes."""
    return {
        "folder": rel(folder), "samples": info.get("samples"), "sites": info.get("sites"),
        "cached": info.get("cached", False), "command": info.get("command"),
        "generation_seconds": info.get("generation_seconds"),
        "records": count_records(bcftools, folder / "cohort.bcf"),
        "file_bytes": {f: (folder / f).stat().st_size
                       for f in ("cohort.vcf.gz", "cohort.bcf", "cohort.pops.tsv")},
    }


@dataclass
class Size:
    """One cohort size of the scaling runs."""
    samples: int
    sites: int
    folder: Path | None = None
    cohort: dict | None = None  # describe_cohort()
    problem: str = ""  # why the cohort could not be made
    main: bool = False  # the main cohort: its runs are the main runs
    cases: list[Case] = field(default_factory=list)

    def records(self) -> int:
        return (self.cohort or {}).get("records") or self.sites


# --------------------------------------------------------------------------- commands


def freq_case(gk: str, folder: Path, fmt: str, threads: int, work: Path, cache: Path,
              tag: str = "") -> Case:
    """``genomekit freq`` on the cohort's ``fmt`` input; ``tag`` prefixes the case id."""
    cid = f"{tag}genomekit-{fmt}-t{threads}"
    prefix = work / cid.replace(".", "")
    cmd = [rel(gk), "freq", rel(folder / FILES[fmt]), "--pops", rel(folder / "cohort.pops.tsv"),
           "--out", rel(prefix), "--threads", str(threads), "--force", "--quiet"]
    return Case(cid, "genomekit", fmt, cmd, {"NUMBA_CACHE_DIR": rel(cache)},
                [Path(f"{prefix}.freq.parquet"), Path(f"{prefix}.freq.json")], threads=threads)


def plink2_case(plink2: str | None, folder: Path, fmt: str, threads: int, work: Path,
                tag: str = "") -> Case:
    cid = f"{tag}plink2-{fmt}-t{threads}"
    prefix = work / cid.replace(".", "")
    cmd = [plink2 or "plink2", "--vcf" if fmt == "vcf.gz" else "--bcf", rel(folder / FILES[fmt]),
           "--vcf-half-call", "missing", "--update-sex", rel(plink_sex_file(folder)),
           "--split-par", PLINK_SPLIT_PAR, "--freq", "counts", "--hardy", "--missing",
           "--threads", str(threads), "--out", rel(prefix)]
    case = Case(cid, "plink2", fmt, cmd, threads=threads,
                expect=[Path(f"{prefix}.{ext}") for ext in ("acount", "hardy", "smiss", "vmiss")])
    return missing_tool(case, plink2)


def bcftools_case(bcftools: str | None, folder: Path, fmt: str, threads: int,
                  tag: str = "") -> Case:
    cmd = [bcftools or "bcftools", "+fill-tags", rel(folder / FILES[fmt]), "-Ou", "-o",
           "/dev/null", "--threads", str(threads), "--", "-t", FILL_TAGS]
    return missing_tool(Case(f"{tag}bcftools-{fmt}-t{threads}", "bcftools", fmt, cmd,
                             threads=threads), bcftools)


def warm_up(cases: list[Case], timer: Timer, env: dict, logs: Path) -> None:
    """One untimed run of each genomekit case: fills the Numba cache and the page cache."""
    for c in cases:
        if c.tool == "genomekit" and c.status == "pending":
            print(f"[bench] warm-up (untimed): {c.command_line()}", flush=True)
            execute(c, timer, env, logs, "warmup")
            if c.status == "failed":
                print(f"[bench]   -> failed: {c.problem}", flush=True)


def timed_runs(cases: list[Case], repeats: int, timer: Timer, env: dict, logs: Path) -> None:
    """``repeats`` timed runs of every case still runnable, interleaved."""
    for rep in range(1, repeats + 1):
        for c in cases:
            if c.status in ("failed", "missing"):
                continue
            print(f"[bench] repeat {rep}/{repeats}: {c.id}", flush=True, end="")
            m = execute(c, timer, env, logs, f"r{rep}")
            c.runs.append(m)
            print(f" -> {c.status} {fmt_num(m.wall_s)} s {fmt_num(mb(m.maxrss_kib), 0)} MB",
                  flush=True)


def check_summary(c: Case, samples: int, sites: int) -> None:
    """Fail a genomekit case whose JSON summary does not describe the cohort it was given."""
    if c.tool != "genomekit" or c.status != "ok":
        return
    try:
        summary = json.loads(c.expect[1].read_text())
    except (OSError, json.JSONDecodeError) as e:
        c.status, c.problem = "failed", f"unreadable summary {rel(c.expect[1])}: {e}"
        return
    got = (summary.get("n_samples"), summary.get("n_sites"))
    if got != (samples, sites):
        c.status = "failed"
        c.problem = (f"summary {rel(c.expect[1])} reports n_samples={got[0]}, "
                     f"n_sites={got[1]}; expected {samples}, {sites}")


# --------------------------------------------------------------------------- machine info


def py_versions(gk: str) -> dict:
    """numpy/numba/cyvcf2/polars versions in genomekit's own interpreter."""
    python = genomekit_python(gk)
    code = ("import importlib.metadata as m, json, platform\n"
            "v = {'python': platform.python_version()}\n"
            "for p in ('numpy', 'numba', 'cyvcf2', 'pysam', 'polars', 'pyarrow'):\n"
            "    try: v[p] = m.version(p)\n"
            "    except Exception: v[p] = None\n"
            "print(json.dumps(v))")
    text = run_text([str(python), "-c", code])
    try:
        return json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}


# --------------------------------------------------------------------------- report


def no_ratio(gk: Case | None, peer: Case | None, name: str) -> str:
    if gk is None or gk.median_wall() is None:
        return "no ratio: genomekit failed"
    return f"no ratio: {name} {peer.status if peer else 'not run'}"


def find(cases: list[Case], tool: str, fmt: str, threads: int | None) -> Case | None:
    return next((c for c in cases if (c.tool, c.fmt, c.threads) == (tool, fmt, threads)), None)


def case_row(c: Case, gk: Case | None) -> dict:
    """One command's runs; ``gk`` is the genomekit case it is compared with (same input,
    same threads), None for genomekit itself."""
    ok = c.walls() and c.status == "ok"
    return {
        "id": c.id, "tool": c.tool, "format": c.fmt, "threads": c.threads,
        "status": c.status, "problem": c.problem or None,
        "command": c.command_line(),
        "wall_s": [m.wall_s for m in c.runs],
        "outer_wall_s": [round(m.outer_wall_s, 3) for m in c.runs],
        "maxrss_kib": [m.maxrss_kib for m in c.runs],
        "median_wall_s": c.median_wall(),
        "min_wall_s": min(c.walls()) if ok else None,
        "max_wall_s": max(c.walls()) if ok else None,
        "peak_rss_mb": mb(c.peak_rss_kib()),
        "ratio_wall_genomekit_over_peer": (
            ratio(gk.median_wall(), c.median_wall()) if gk else None),
        "ratio_rss_genomekit_over_peer": (
            ratio(mb(gk.peak_rss_kib()), mb(c.peak_rss_kib())) if gk else None),
    }


def ratio_target(name: str, limit: float, num: Case | None, den: Case | None, den_name: str,
                 absent: str, strict: bool = False) -> dict:
    """A wall-time ratio target: num/den <= limit (< limit when ``strict``)."""
    value = ratio(num.median_wall(), den.median_wall()) if num and den else None
    note = absent if not (num and den) else None if value is not None else no_ratio(
        num, den, den_name)
    met = None if value is None else (value < limit if strict else value <= limit)
    return {"target": name, "limit": f"{'<' if strict else '≤'} {limit:g}", "value": value,
            "unit": "", "met": met, "note": note}


def build_targets(args, cases: list[Case], cold: list[Case], sizes: list[Size]) -> list[dict]:
    targets = []
    for t, limit in sorted(PLINK_TARGETS.items(), reverse=True):
        targets.append(ratio_target(
            f"genomekit freq / plink2 --freq --hardy --missing wall, VCF.gz, {t} thread(s)",
            limit, find(cases, "genomekit", "vcf.gz", t), find(cases, "plink2", "vcf.gz", t),
            "plink2", f"not measured: no run at {t} thread(s) (--threads)"))
    tb = max(args.bcftools_threads) if args.bcftools_threads else None
    targets.append(ratio_target(
        f"genomekit freq / bcftools +fill-tags wall, VCF.gz, {tb or '—'} thread(s)",
        BCFTOOLS_TARGET, find(cases, "genomekit", "vcf.gz", tb),
        find(cases, "bcftools", "vcf.gz", tb), "bcftools",
        "not measured: bcftools not run (--bcftools-threads none)"))
    for t in args.threads:
        targets.append(ratio_target(
            f"genomekit freq wall, BCF / VCF.gz, {t} thread(s)", 1.0,
            find(cases, "genomekit", "bcf", t), find(cases, "genomekit", "vcf.gz", t),
            "genomekit on VCF.gz", "not measured", strict=True))
    # Every genomekit run at the target's sample count, whatever its number of sites.
    at_size: list[tuple[str, Case]] = []
    if args.samples == RSS_TARGET_SAMPLES:
        at_size += [(f"{args.sites:,}", c) for c in cases + cold if c.tool == "genomekit"]
    for s in sizes:
        if s.samples == RSS_TARGET_SAMPLES and not s.main:
            at_size += [(f"{s.sites:,}", c) for c in s.cases if c.tool == "genomekit"]
    peaks = [c.peak_rss_kib() for _, c in at_size if c.peak_rss_kib() is not None]
    peak = mb(max(peaks)) if peaks else None
    sites = sorted({s for s, _ in at_size}, key=lambda x: int(x.replace(",", "")))
    note = (f"not assessed: no genomekit run at {RSS_TARGET_SAMPLES:,} samples" if not at_size
            else "no successful genomekit run" if peak is None else
            f"largest of {len(peaks)} runs at {RSS_TARGET_SAMPLES:,} samples × "
            f"{' and '.join(sites)} sites")
    targets.append({
        "target": f"genomekit freq peak RSS at {RSS_TARGET_SAMPLES:,} samples",
        "limit": f"≤ {RSS_TARGET_MB:.0f} MB", "value": peak, "unit": " MB",
        "met": None if peak is None else peak <= RSS_TARGET_MB, "note": note,
    })
    return targets


def scaling_rows(s: Size) -> list[dict]:
    """The scaling table's rows for one cohort size."""
    base = {"samples": s.samples, "sites": s.sites, "records": s.records(),
            "cohort": (s.cohort or {}).get("folder"), "main_run": s.main, "timed_runs": None}
    if s.problem:
        return [dict(base, tool="simulate", format="—", status="failed", problem=s.problem,
                     command=None, median_wall_s=None, peak_rss_mb=None,
                     genotypes_per_s=None, ratio_wall_genomekit_over_plink2=None)]
    plink = find(s.cases, "plink2", "vcf.gz", s.cases[0].threads if s.cases else None)
    rows = []
    for c in s.cases:
        wall = c.median_wall()
        rows.append(dict(
            base, id=c.id, tool=c.tool, format=c.fmt, threads=c.threads, status=c.status,
            problem=c.problem or None, command=c.command_line(), timed_runs=len(c.runs),
            wall_s=[m.wall_s for m in c.runs], maxrss_kib=[m.maxrss_kib for m in c.runs],
            median_wall_s=wall, peak_rss_mb=mb(c.peak_rss_kib()),
            genotypes_per_s=s.samples * s.records() / wall if wall else None,
            ratio_wall_genomekit_over_plink2=(
                ratio(wall, plink.median_wall())
                if c.tool == "genomekit" and c.fmt == "vcf.gz" and plink else None)))
    return rows


def build_results(args, ctx: dict, cases: list[Case], cold: list[Case],
                  sizes: list[Size], scaling_ctx: dict) -> dict:
    rows = [case_row(c, None if c.tool == "genomekit" else
                     find(cases, "genomekit", c.fmt, c.threads)) for c in cases]
    cold_rows = []
    for c in cold:
        w = find(cases, "genomekit", c.fmt, c.threads)
        cold_wall = c.runs[0].wall_s if c.runs and c.status == "ok" else None
        cold_rows.append({
            "id": c.id, "format": c.fmt, "threads": c.threads, "status": c.status,
            "problem": c.problem or None,
            "command": c.command_line(), "cold_wall_s": cold_wall,
            "cold_peak_rss_mb": mb(c.runs[0].maxrss_kib) if cold_wall is not None else None,
            "warm_median_wall_s": w.median_wall() if w else None,
            "cold_minus_warm_s": (cold_wall - w.median_wall()
                                  if cold_wall is not None and w and w.median_wall() else None),
        })
    scaling = []
    for s in sizes:
        scaling += scaling_rows(s)
    ctx = dict(ctx)
    timer_kind = ctx.pop("timer_kind", None)
    return {"benchmark": "genomekit freq vs plink2 and bcftools +fill-tags", **ctx,
            "config": {"samples": args.samples, "sites": args.sites, "seed": args.seed,
                       "threads": args.threads, "bcftools_threads": args.bcftools_threads,
                       "repeats": args.repeats, "timer": timer_kind,
                       "scaling": [f"{s.samples}x{s.sites}" for s in sizes],
                       "scaling_repeats": args.scaling_repeats},
            "targets": build_targets(args, cases, cold, sizes),
            "results": rows, "genomekit_cold_vs_warm": cold_rows,
            "scaling": {**scaling_ctx, "rows": scaling,
                        "cohorts": [s.cohort for s in sizes if s.cohort and not s.main]}}


def verdict(t: dict) -> str:
    if t["met"] is True:
        return "**met**"
    if t["met"] is False:
        return "**NOT met**"
    return t.get("note") or "n/a"


TOOL_NAMES = {"genomekit": "genomekit freq", "bcftools": "bcftools +fill-tags",
              "plink2": "plink2", "simulate": "genomekit simulate"}


def cohort_lines(data: dict) -> list[str]:
    L = [f"- `{data['folder']}` ({'cached' if data['cached'] else 'generated now'}, "
         f"generation took {data.get('generation_seconds', '?')} s when made); records in "
         f"the BCF index: {data.get('records') or 'unknown'}",
         f"  - generator: `{data['command']}`"]
    sizes = ", ".join(f"`{name}` {size / 1024**2:,.1f} MB"
                      for name, size in data["file_bytes"].items())
    L.append(f"  - {sizes}")
    return L


def render_markdown(res: dict) -> str:
    cfg, data, mach, ver = res["config"], res["data"], res["machine"], res["versions"]
    sc = res["scaling"]
    threads = ", ".join(str(t) for t in cfg["threads"])
    bt = ", ".join(str(t) for t in cfg["bcftools_threads"]) or "not run"
    L = []
    L.append("# `genomekit freq` benchmark")
    L.append("")
    L.append(f"Generated by `benchmarks/bench_freq.py` on {res['date']}. "
             f"Main cohort: {cfg['samples']:,} samples × {cfg['sites']:,} sites "
             f"(seed {cfg['seed']}); genomekit and plink2 at {threads} thread(s), "
             f"bcftools at {bt}; every tool at the same thread count as the runs it is "
             f"compared with; {cfg['repeats']} interleaved repeat(s) per command; median "
             f"wall time, largest peak RSS. Timer: {cfg['timer']}.")
    L.append("")
    L.append("> **Provisional numbers.** Other processes may have been using the CPUs during "
             f"this run (load average at start {mach.get('loadavg_start')}, at end "
             f"{mach.get('loadavg_end')}, on {mach.get('nproc')} CPUs). "
             "The OS page cache was not dropped.")
    L.append("")
    L.append("## Targets")
    L.append("")
    L.append("| target | limit | value | verdict |")
    L.append("|---|---|---:|---|")
    for t in res["targets"]:
        digits = 0 if t["unit"] else 2
        value = fmt_num(t["value"], digits) + (t["unit"] if t["value"] is not None else "")
        extra = f" ({t['note']})" if t["met"] is not None and t.get("note") else ""
        L.append(f"| {t['target']} | {t['limit']} | {value} | {verdict(t)}{extra} |")
    L.append("")
    L.append("Wall-time ratios are genomekit's median divided by the other command's median, "
             "on the same input at the same thread count; below 1 means genomekit is faster.")
    L.append("")
    L.append("## Results")
    L.append("")
    L.append("| tool | input | threads | median wall (s) | min–max (s) | peak RSS (MB) "
             "| genomekit / peer wall | genomekit / peer RSS | status |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in res["results"]:
        span = (f"{r['min_wall_s']:.2f}–{r['max_wall_s']:.2f}"
                if r["min_wall_s"] is not None else "—")
        L.append(f"| {TOOL_NAMES[r['tool']]} | {r['format']} | {r['threads']} "
                 f"| {fmt_num(r['median_wall_s'])} "
                 f"| {span} | {fmt_num(r['peak_rss_mb'], 0)} "
                 f"| {fmt_num(r['ratio_wall_genomekit_over_peer'])} "
                 f"| {fmt_num(r['ratio_rss_genomekit_over_peer'])} | {r['status']} |")
    L.append("")
    L.append("Ratios are genomekit's median wall time (peak RSS) on the same input format at "
             "the same thread count divided by the peer's; below 1 means genomekit is faster "
             "(smaller). MB = 2^20 bytes (ru_maxrss / 1024). bcftools' time includes "
             "re-encoding every full record as uncompressed BCF (`-Ou`, thrown away in "
             "/dev/null); genomekit's includes writing its Parquet table; plink2's includes "
             "its VCF-to-pgen conversion.")
    L.append("")
    L.append("### genomekit: cold vs warm Numba cache")
    L.append("")
    L.append("| input | threads | first run, empty NUMBA_CACHE_DIR (s) | peak RSS (MB) "
             "| warm median (s) | cold − warm (s) | status |")
    L.append("|---|---:|---:|---:|---:|---:|---|")
    if not res["genomekit_cold_vs_warm"]:
        L.append("| — | | skipped (--no-cold) | | | | |")
    for r in res["genomekit_cold_vs_warm"]:
        L.append(f"| {r['format']} | {r['threads']} | {fmt_num(r['cold_wall_s'])} "
                 f"| {fmt_num(r['cold_peak_rss_mb'], 0)} | {fmt_num(r['warm_median_wall_s'])} "
                 f"| {fmt_num(r['cold_minus_warm_s'])} | {r['status']} |")
    L.append("")
    L.append("The cold figure is a single run (Numba compiles and caches the kernels in it); "
             "under concurrent load, cold − warm mixes compile time with timing noise.")
    L.append("")
    L.append("## Scaling")
    L.append("")
    if not sc["rows"]:
        L.append("Skipped (--no-scaling).")
        L.append("")
    else:
        L.append(f"At {sc['threads']} thread(s), after one untimed warm-up run of genomekit "
                 f"per input; median of the timed runs (load average at start "
                 f"{sc.get('loadavg_start')}, at end {sc.get('loadavg_end')}).")
        L.append("")
        L.append("| samples × records | tool | input | median wall (s) | peak RSS (MB) "
                 "| M genotypes/s | genomekit / plink2 wall | timed runs | status |")
        L.append("|---|---|---|---:|---:|---:|---:|---|---|")
        for r in sc["rows"]:
            gps = r["genotypes_per_s"]
            runs = "—" if r["timed_runs"] is None else (
                f"main run, {r['timed_runs']}" if r["main_run"] else str(r["timed_runs"]))
            L.append(f"| {r['samples']:,} × {r['records']:,} | {TOOL_NAMES[r['tool']]} "
                     f"| {r['format']} | {fmt_num(r['median_wall_s'])} "
                     f"| {fmt_num(r['peak_rss_mb'], 0)} "
                     f"| {fmt_num(gps / 1e6 if gps else None, 1)} "
                     f"| {fmt_num(r['ratio_wall_genomekit_over_plink2'])} "
                     f"| {runs} | {r['status']} |")
        L.append("")
        L.append("Genotypes per second = samples × records / median wall time, whole command "
                 "included (start-up, reading, writing). The genomekit / plink2 ratio compares "
                 "the two on the same VCF.gz. Rows marked \"main run\" are the main runs above.")
        L.append("")
    problems = [r for r in res["results"] + res["genomekit_cold_vs_warm"] if r["problem"]]
    problems += [r for r in sc["rows"] if r["problem"] and not r["main_run"]]
    problems_extra = res.get("problems", [])
    if problems or problems_extra:
        L.append("## Problems")
        L.append("")
        for p in problems_extra:
            L.append(f"- {p}")
        for r in problems:
            name = r.get("id") or f"cohort {r['samples']}x{r['sites']}"
            L.append(f"- `{name}` ({r['status']}):")
            L.append("")
            L.append("  ```")
            L.extend(f"  {ln}" for ln in r["problem"].splitlines())
            L.append("  ```")
        L.append("")
    L.append("## Data")
    L.append("")
    L.append(f"Main cohort: {cfg['samples']:,} samples; sites requested: {cfg['sites']:,}.")
    L.append("")
    L.extend(cohort_lines(data))
    if sc.get("cohorts"):
        L.append("")
        L.append("Scaling cohorts (same generator and seed):")
        L.append("")
        for c in sc["cohorts"]:
            L.extend(cohort_lines(c))
    L.append("")
    L.append("## Machine")
    L.append("")
    L.append(f"- CPU: {mach['cpu_model']}; nproc: {mach['nproc']} (usable by this process: "
             f"{mach['cpus_usable']}); memory: {mach['mem_total_gib']} GiB")
    L.append(f"- OS: {mach['os']}; date: {res['date']}")
    L.append(f"- genomekit: {ver.get('genomekit') or 'unknown'}, git {ver.get('genomekit_git')} "
             f"({', '.join(f'{k} {v}' for k, v in ver.get('python_packages', {}).items() if v)})")
    L.append(f"- bcftools: {ver.get('bcftools') or 'not found'}")
    L.append(f"- plink2: {ver.get('plink2') or 'not found'}")
    L.append("")
    L.append("## Command lines")
    L.append("")
    L.append("Run from the repository root. genomekit's timed runs share a Numba cache directory "
             "warmed by an untimed run first; the cold runs each get a fresh empty one.")
    L.append("")
    L.append("```sh")
    for r in res["results"]:
        L.append(r["command"])
    for r in res["genomekit_cold_vs_warm"]:
        L.append(r["command"] + "   # cold")
    for r in sc["rows"]:
        if r["command"] and not r["main_run"]:
            L.append(r["command"] + "   # scaling")
    L.append("```")
    L.append("")
    return "\n".join(L)


# --------------------------------------------------------------------------- main


def int_list(text: str) -> list[int]:
    """'1,2' -> [1, 2] (sorted, without duplicates); ValueError unless all are >= 1."""
    values = sorted({int(v) for v in text.split(",") if v.strip()})
    if not values or values[0] < 1:
        raise ValueError(text)
    return values


def size_list(text: str) -> list[tuple[int, int]]:
    """'2000x100000,10000x40000' -> [(2000, 100000), (10000, 40000)] (samples, sites)."""
    sizes = []
    for item in text.split(","):
        if item.strip():
            samples, sites = (int(v) for v in item.lower().split("x"))
            if samples < 1 or sites < 1:
                raise ValueError(item)
            if (samples, sites) not in sizes:
                sizes.append((samples, sites))
    return sizes


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Time genomekit freq against plink2 and bcftools +fill-tags.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--samples", type=int, default=10_000, help="main cohort's samples")
    p.add_argument("--sites", type=int, default=40_000, help="main cohort's sites")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", default="1,2",
                   help="thread counts, comma-separated: genomekit and plink2 run at each")
    p.add_argument("--bcftools-threads", default="largest",
                   help="thread counts for bcftools +fill-tags (slow): 'largest' of --threads, "
                        "'all', 'none', or a comma-separated subset of --threads")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per command")
    p.add_argument("--scaling", default=DEFAULT_SCALING,
                   help="cohort sizes SAMPLESxSITES, comma-separated, for the scaling runs "
                        "(genomekit on VCF.gz and BCF, plink2 on VCF.gz, largest --threads)")
    p.add_argument("--no-scaling", action="store_true", help="skip the scaling runs")
    p.add_argument("--scaling-repeats", type=int, default=1,
                   help="timed runs per command and size in the scaling runs")
    p.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results",
                   help="where freq.md and freq.json are written")
    p.add_argument("--data-dir", type=Path, default=REPO / "benchmarks" / "data",
                   help="cache of generated cohorts")
    p.add_argument("--work-dir", type=Path, default=REPO / "benchmarks" / "work" / "freq",
                   help="scratch outputs and logs of the timed commands")
    p.add_argument("--timer", choices=("auto", "gnu-time", "wait4"), default="auto",
                   help="auto: /usr/bin/time when it is GNU time, else os.wait4")
    p.add_argument("--timeout", type=float, default=3600.0,
                   help="seconds before one command is killed (0: never)")
    p.add_argument("--no-cold", action="store_true", help="skip the cold Numba cache runs")
    p.add_argument("--regenerate", action="store_true", help="ignore the cached cohorts")
    p.add_argument("--genomekit", help="genomekit executable (default: the venv's)")
    p.add_argument("--bcftools", help="bcftools executable (default: from PATH)")
    p.add_argument("--plink2", help="plink2 executable (default: from PATH)")
    args = p.parse_args(argv)
    require_positive(p, args, ("samples", "sites", "repeats", "scaling_repeats"))
    try:
        args.threads = int_list(args.threads)
    except ValueError:
        p.error(f"--threads: expected thread counts >= 1 like 1,2, got {args.threads!r}")
    bt = args.bcftools_threads.strip().lower()
    if bt in ("largest", "all", "none"):
        args.bcftools_threads = {"largest": args.threads[-1:], "all": args.threads,
                                 "none": []}[bt]
    else:
        try:
            args.bcftools_threads = int_list(bt)
        except ValueError:
            p.error(f"--bcftools-threads: expected largest, all, none or counts like 2, "
                    f"got {args.bcftools_threads!r}")
        if not set(args.bcftools_threads) <= set(args.threads):
            p.error("--bcftools-threads: every count must also be in --threads (ratios are "
                    "taken at equal thread counts)")
    try:
        args.scaling = [] if args.no_scaling else size_list(args.scaling)
    except ValueError:
        p.error(f"--scaling: expected SAMPLESxSITES,... like {DEFAULT_SCALING}, "
                f"got {args.scaling!r}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    timeout = args.timeout or None
    timer = pick_timer(args.timer, timeout)
    date = now_iso()
    load_start = loadavg()
    problems: list[str] = []

    gk = genomekit_exe(args.genomekit)
    if not gk:
        print("bench_freq: genomekit executable not found", file=sys.stderr)
        return 1
    compile_bytecode(gk)
    bcftools = which("bcftools", args.bcftools)
    plink2 = which("plink2", args.plink2)
    versions = {
        "genomekit": run_text([gk, "--version"]),
        "python_packages": py_versions(gk),
        "bcftools": (run_text([bcftools, "--version"]) or "").splitlines()[0:2] if bcftools
        else None,
        "plink2": run_text([plink2, "--version"]) if plink2 else None,
    }
    commit = run_text(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], stderr=False)
    dirty = run_text(["git", "-C", str(REPO), "status", "--porcelain", "--", "genomekit"],
                     stderr=False)
    versions["genomekit_git"] = (
        f"{commit}{' + uncommitted changes in genomekit/' if dirty else ''}"
        if commit and not Path(rel(gk)).is_absolute() else f"n/a (genomekit from {gk})")
    if isinstance(versions["bcftools"], list):
        versions["bcftools"] = "; ".join(versions["bcftools"]) or None

    out_dir, work = args.out_dir.resolve(), args.work_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    # Only what this script made: --work-dir may point anywhere.
    for old in [logs, *work.glob("numba-cache-*")]:
        shutil.rmtree(old, ignore_errors=True)
    logs.mkdir(parents=True)

    # Every cohort first, so that generating one never overlaps a timed run.
    data_root = args.data_dir.resolve()
    try:
        folder, info = generate(args, gk, data_root, timeout)
    except RuntimeError as e:
        print(f"bench_freq: {e}", file=sys.stderr)
        return 1
    data = describe_cohort(folder, info, bcftools)
    sizes = [Size(n, m) for n, m in args.scaling]
    for i, s in enumerate(sizes, 1):
        if (s.samples, s.sites) == (args.samples, args.sites):
            s.folder, s.cohort, s.main = folder, data, True
            continue
        print(f"[bench] scaling cohort {i}/{len(sizes)}: {s.samples:,} samples × "
              f"{s.sites:,} sites", flush=True)
        try:
            s.folder, s_info = make_cohort(gk, s.samples, s.sites, args.seed, data_root,
                                           timeout, args.regenerate)
        except RuntimeError as e:
            s.problem = str(e)
            print(f"bench_freq: {e}", file=sys.stderr)
            continue
        s.cohort = describe_cohort(s.folder, s_info, bcftools)

    warm_cache = work / "numba-cache-warm"
    warm_cache.mkdir()
    cases: list[Case] = []
    for t in args.threads:
        for fmt, _ in FORMATS:
            cases.append(freq_case(gk, folder, fmt, t, work, warm_cache))
            if t in args.bcftools_threads:
                cases.append(bcftools_case(bcftools, folder, fmt, t))
            cases.append(plink2_case(plink2, folder, fmt, t, work))
    top = args.threads[-1]
    cold: list[Case] = []
    if not args.no_cold:
        for fmt, _ in FORMATS:
            c = freq_case(gk, folder, fmt, top, work, work / f"numba-cache-cold-{fmt}")
            c.id += "-cold"
            cold.append(c)

    base_env = dict(os.environ)
    base_env.pop("NUMBA_CACHE_DIR", None)
    base_env.pop("NUMBA_DISABLE_JIT", None)

    # Cold runs: a fresh, empty Numba cache each; not part of the medians.
    for c in cold:
        cache = REPO / c.env["NUMBA_CACHE_DIR"]
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        print(f"[bench] cold: {c.command_line()}", flush=True)
        c.runs.append(execute(c, timer, base_env, logs, "cold"))
        print(f"[bench]   -> {c.status} {fmt_num(c.runs[-1].wall_s)} s "
              f"{fmt_num(mb(c.runs[-1].maxrss_kib), 0)} MB", flush=True)
        shutil.rmtree(cache, ignore_errors=True)
    warm_up(cases, timer, base_env, logs)
    timed_runs(cases, args.repeats, timer, base_env, logs)
    for c in cases:  # genomekit's own summary against the cohort it was given
        check_summary(c, args.samples, data["records"] or args.sites)

    scaling_ctx = {"threads": top, "repeats": args.scaling_repeats, "loadavg_start": loadavg()}
    for i, s in enumerate(sizes, 1):
        if s.main:
            s.cases = [c for c in (find(cases, "genomekit", "vcf.gz", top),
                                   find(cases, "genomekit", "bcf", top),
                                   find(cases, "plink2", "vcf.gz", top)) if c]
            continue
        if s.problem:
            continue
        print(f"[bench] scaling {i}/{len(sizes)}: {s.samples:,} samples × {s.sites:,} sites",
              flush=True)
        tag = f"n{s.samples}-m{s.sites}-"
        s.cases = [freq_case(gk, s.folder, "vcf.gz", top, work, warm_cache, tag),
                   freq_case(gk, s.folder, "bcf", top, work, warm_cache, tag),
                   plink2_case(plink2, s.folder, "vcf.gz", top, work, tag)]
        warm_up(s.cases, timer, base_env, logs)
        timed_runs(s.cases, args.scaling_repeats, timer, base_env, logs)
        for c in s.cases:
            check_summary(c, s.samples, s.records())
    scaling_ctx["loadavg_end"] = loadavg()

    ctx = {
        "date": date,
        "timer_kind": timer.kind,
        "machine": {
            "nproc": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
            "cpu_model": cpu_model(), "mem_total_gib": mem_total_gib(),
            "os": f"{platform.system()} {platform.release()}",
            "loadavg_start": load_start, "loadavg_end": loadavg(),
        },
        "versions": versions, "data": data, "problems": problems,
    }
    res = build_results(args, ctx, cases, cold, sizes, scaling_ctx)
    (out_dir / "freq.json").write_text(json.dumps(res, indent=2) + "\n")
    (out_dir / "freq.md").write_text(render_markdown(res))
    print(f"[bench] wrote {rel(out_dir / 'freq.md')} and {rel(out_dir / 'freq.json')}")
    gk_failed = [c.id for c in cases + cold + [c for s in sizes for c in s.cases]
                 if c.tool == "genomekit" and c.status != "ok"]
    gk_failed += [f"simulate {s.samples}x{s.sites}" for s in sizes if s.problem]
    if gk_failed:
        print(f"bench_freq: genomekit failed: {', '.join(dict.fromkeys(gk_failed))}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
