#!/usr/bin/env python3
"""Benchmark `genomekit freq` against its peers on a seeded simulated cohort.

What it measures: the wall time (seconds) and peak resident set size (ru_maxrss,
the same figure GNU time's %M reports) of one whole command run, at equal
thread counts, for

* ``genomekit freq IN --pops POPS --out ... --threads T --force --quiet``
  (writes the Parquet table and JSON summary), on VCF.gz and on BCF;
* ``bcftools +fill-tags IN -Ou -o /dev/null --threads T -- -t AC,AN,AF,...``
  (the INFO tags genomekit computes; binary output thrown away), on VCF.gz and BCF;
* ``plink2 --vcf/--bcf IN --vcf-half-call missing --update-sex ... --split-par hg38
  --freq counts --hardy --missing --threads T`` (reads the VCF/BCF directly), for
  information.

Every command is repeated --repeats times, interleaved (A, B, C, A, B, C, ...), and
the median wall time and the largest peak RSS are reported. genomekit's timed runs
use a warm Numba cache; a separate first run per input format with NUMBA_CACHE_DIR
pointing at a fresh, empty directory gives the cold-cache (compile included) time.
The OS page cache is not dropped: every tool reads inputs that are already cached.

The cohort comes from `genomekit simulate` and is cached under benchmarks/data/,
keyed by samples, sites and seed. Results go to benchmarks/results/freq.md and
freq.json. Peer tools that are missing or fail are reported, not fatal: the exit
status is non-zero only when genomekit itself (simulate or freq) fails.

Run from the repository root: ``.venv/bin/python benchmarks/bench_freq.py``
(smoke run: ``--samples 500 --sites 2000 --repeats 1``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FILL_TAGS = "AC,AN,AF,AC_Het,AC_Hom,AC_Hemi,HWE,ExcHet,F_MISSING,NS"
RSS_TARGET_MB = 1024.0  # "< 1 GB", with MB = 2**20 bytes as everywhere in this report
RSS_TARGET_SAMPLES = 10_000
FORMATS = (("vcf.gz", "cohort.vcf.gz"), ("bcf", "cohort.bcf"))
PLINK_SPLIT_PAR = "hg38"  # genomekit's default build is GRCh38


# --------------------------------------------------------------------------- helpers


def rel(path: Path | str) -> str:
    """``path`` relative to the repository root when it lies inside it (commands run there)."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(REPO))
    except ValueError:
        return str(p)


def run_text(cmd: list[str], timeout: float = 60, stderr: bool = True) -> str | None:
    """stdout (and stderr) of a quick command, or None when it cannot run or fails."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    except (OSError, subprocess.SubprocessError):
        return None
    return (r.stdout + (r.stderr if stderr else "")).strip() if r.returncode == 0 else None


def tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    # plink2 and progress bars rewrite lines with \r; keep what a terminal would show.
    rows = [r.split("\r")[-1] for r in text.splitlines()]
    return "\n".join([r[:300] for r in rows if r.strip()][-lines:])


def mb(kib: int | None) -> float | None:
    return None if kib is None else kib / 1024.0


def fmt_num(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def which(name: str, override: str | None) -> str | None:
    if override:
        return override if (shutil.which(override) or os.access(override, os.X_OK)) else None
    return shutil.which(name)


def genomekit_exe(override: str | None) -> str | None:
    if override:
        return which("genomekit", override)
    # Prefer the genomekit installed next to the interpreter running this script (the venv).
    beside = Path(sys.executable).parent / "genomekit"
    if beside.exists():
        return str(beside)
    venv = REPO / ".venv" / "bin" / "genomekit"
    if venv.exists():
        return str(venv)
    return shutil.which("genomekit")


# --------------------------------------------------------------------------- timing


@dataclass
class Measurement:
    rc: int
    wall_s: float | None  # as reported by the timer
    maxrss_kib: int | None
    outer_wall_s: float  # perf_counter around the whole child, for cross-checking
    timed_out: bool = False


class Timer:
    """Runs one command and returns its wall time and peak RSS.

    ``gnu-time``: under ``/usr/bin/time -f '%e %M' -o FILE``.
    ``wait4``: subprocess.Popen + os.wait4(pid), whose rusage.ru_maxrss is the peak RSS of
    the child (and of any descendants it waited for), in KiB on Linux. Linux carries the
    high-water mark across exec, so here it is at least this Python process's RSS at spawn
    time (~15-20 MB): fine for genomekit, an overestimate for small peers. GNU time, a
    small C program, does not have that floor, hence it is preferred.
    """

    def __init__(self, kind: str, gnu_time: str | None, timeout: float | None):
        self.kind = kind
        self.gnu_time = gnu_time
        self.timeout = timeout

    def run(self, cmd: list[str], env: dict, log_prefix: Path) -> Measurement:
        time_file = Path(f"{log_prefix}.time")
        full = cmd
        if self.kind == "gnu-time":
            full = [self.gnu_time, "-f", "%e %M", "-o", str(time_file), *cmd]
        timed_out = threading.Event()
        with open(f"{log_prefix}.stdout", "wb") as out, open(f"{log_prefix}.stderr", "wb") as err:
            start = time.perf_counter()
            try:
                proc = subprocess.Popen(full, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                        env=env, cwd=REPO, start_new_session=True)
            except OSError as e:
                err.write(f"cannot run {full[0]}: {e}\n".encode())
                return Measurement(127, None, None, 0.0)
            killer = None
            if self.timeout:
                def kill():
                    timed_out.set()
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                killer = threading.Timer(self.timeout, kill)
                killer.start()
            _, status, usage = os.wait4(proc.pid, 0)
            outer = time.perf_counter() - start
            if killer:
                killer.cancel()
            rc = os.waitstatus_to_exitcode(status)
            proc.returncode = rc  # already reaped; keep Popen from waiting again
        if self.kind == "gnu-time":
            wall, rss = None, None
            try:
                last = [ln for ln in time_file.read_text().splitlines() if ln.strip()][-1]
                wall_s, rss_s = last.split()
                wall, rss = float(wall_s), int(rss_s)
            except (OSError, IndexError, ValueError):
                pass
            if rc > 128 and timed_out.is_set():
                rc = -signal.SIGKILL
            return Measurement(rc, wall, rss, outer, timed_out.is_set())
        return Measurement(rc, outer, usage.ru_maxrss, outer, timed_out.is_set())


# --------------------------------------------------------------------------- benchmark cases


@dataclass
class Case:
    id: str
    tool: str
    fmt: str
    cmd: list[str]
    env: dict = field(default_factory=dict)  # extra environment shown in the command line
    expect: list[Path] = field(default_factory=list)  # outputs a successful run must leave
    status: str = "pending"  # ok | failed | missing | pending
    problem: str = ""
    runs: list[Measurement] = field(default_factory=list)

    def command_line(self) -> str:
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        return (prefix + " " if prefix else "") + shlex.join(self.cmd)

    def walls(self) -> list[float]:
        return [m.wall_s for m in self.runs if m.wall_s is not None]

    def median_wall(self) -> float | None:
        w = self.walls()
        return statistics.median(w) if w and self.status == "ok" else None

    def peak_rss_kib(self) -> int | None:
        r = [m.maxrss_kib for m in self.runs if m.maxrss_kib is not None]
        return max(r) if r and self.status == "ok" else None


def execute(case: Case, timer: Timer, base_env: dict, logs: Path, label: str) -> Measurement:
    for p in case.expect:
        if p.exists():
            p.unlink()
    env = dict(base_env, **case.env)
    m = timer.run(case.cmd, env, logs / f"{case.id}.{label}")
    missing = [p for p in case.expect if not p.exists()]
    if m.rc != 0 or missing or m.wall_s is None:
        case.status = "failed"
        why = ("timed out" if m.timed_out else f"exit status {m.rc}") if m.rc != 0 else (
            f"missing output {rel(missing[0])}" if missing else "no timing recorded")
        case.problem = f"{why}; stderr tail:\n{tail(logs / f'{case.id}.{label}.stderr')}"
    elif case.status == "pending":
        case.status = "ok"
    return m


# --------------------------------------------------------------------------- data


def generate(args, gk: str, data_root: Path, timeout: float | None) -> tuple[Path, dict]:
    """The cached cohort folder for (samples, sites, seed), generating it when needed."""
    key = f"cohort-n{args.samples}-m{args.sites}-seed{args.seed}"
    folder = data_root / key
    manifest = folder / "manifest.json"
    if manifest.exists() and not args.regenerate:
        info = json.loads(manifest.read_text())
        if all((folder / f).exists() for f in info.get("files", [])):
            info["cached"] = True
            return folder, info
    data_root.mkdir(parents=True, exist_ok=True)
    partial = data_root / f".{key}.partial{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    cmd = [rel(gk), "simulate", "--out", rel(partial / "cohort"), "--samples", str(args.samples),
           "--sites", str(args.sites), "--seed", str(args.seed), "--bcf", "--force"]
    print(f"[bench] generating {key}: {shlex.join(cmd)}", flush=True)
    start = time.perf_counter()
    try:
        r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        shutil.rmtree(partial, ignore_errors=True)
        raise RuntimeError(f"genomekit simulate timed out after {timeout} s") from None
    elapsed = time.perf_counter() - start
    files = ["cohort.vcf.gz", "cohort.vcf.gz.tbi", "cohort.pops.tsv", "cohort.bcf",
             "cohort.bcf.csi"]
    absent = [f for f in files if not (partial / f).exists()]
    if r.returncode != 0 or absent:
        shutil.rmtree(partial, ignore_errors=True)
        why = f"exit status {r.returncode}" if r.returncode else f"did not write {absent}"
        raise RuntimeError(f"genomekit simulate failed ({why}): {r.stderr.strip()[-2000:]}")
    info = {
        "key": key, "samples": args.samples, "sites": args.sites, "seed": args.seed,
        "command": shlex.join(cmd).replace(rel(partial), rel(folder)),
        "generation_seconds": round(elapsed, 2),
        "genomekit_version": run_text([gk, "--version"]),
        "generated": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "files": files,
    }
    (partial / "manifest.json").write_text(json.dumps(info, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    info["cached"] = False
    return folder, info


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


# --------------------------------------------------------------------------- machine info


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError):
        pass
    return None


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def py_versions(gk: str) -> dict:
    """numpy/numba/cyvcf2/polars versions in genomekit's own interpreter."""
    python = Path(gk).parent / "python"
    if not python.exists():
        python = Path(sys.executable)
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


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def no_ratio(gk: Case | None, peer: Case | None, name: str) -> str:
    if gk is None or gk.median_wall() is None:
        return "no ratio: genomekit failed"
    return f"no ratio: {name} {peer.status if peer else 'not run'}"


def build_results(args, ctx: dict, cases: list[Case], cold: list[Case]) -> dict:
    by_id = {c.id: c for c in cases}
    rows = []
    for c in cases:
        gk = by_id.get(f"genomekit-{c.fmt}")
        is_peer = c.tool != "genomekit"
        rows.append({
            "id": c.id, "tool": c.tool, "format": c.fmt, "threads": args.threads,
            "status": c.status, "problem": c.problem or None,
            "command": c.command_line(),
            "wall_s": [m.wall_s for m in c.runs],
            "outer_wall_s": [round(m.outer_wall_s, 3) for m in c.runs],
            "maxrss_kib": [m.maxrss_kib for m in c.runs],
            "median_wall_s": c.median_wall(),
            "min_wall_s": min(c.walls()) if c.walls() and c.status == "ok" else None,
            "max_wall_s": max(c.walls()) if c.walls() and c.status == "ok" else None,
            "peak_rss_mb": mb(c.peak_rss_kib()),
            "ratio_wall_genomekit_over_peer": (
                ratio(gk.median_wall(), c.median_wall()) if is_peer and gk else None),
            "ratio_rss_genomekit_over_peer": (
                ratio(mb(gk.peak_rss_kib()), mb(c.peak_rss_kib())) if is_peer and gk else None),
        })
    warm = {c.fmt: c for c in cases if c.tool == "genomekit"}
    cold_rows = []
    for c in cold:
        w = warm.get(c.fmt)
        cold_wall = c.runs[0].wall_s if c.runs and c.status == "ok" else None
        cold_rows.append({
            "id": c.id, "format": c.fmt, "status": c.status, "problem": c.problem or None,
            "command": c.command_line(), "cold_wall_s": cold_wall,
            "cold_peak_rss_mb": mb(c.runs[0].maxrss_kib) if cold_wall is not None else None,
            "warm_median_wall_s": w.median_wall() if w else None,
            "cold_minus_warm_s": (cold_wall - w.median_wall()
                                  if cold_wall is not None and w and w.median_wall() else None),
        })
    # Targets.
    targets = []
    for fmt, _ in FORMATS:
        peer = by_id.get(f"bcftools-{fmt}")
        r = (ratio(warm[fmt].median_wall(), peer.median_wall())
             if peer and fmt in warm else None)
        targets.append({
            "target": f"genomekit faster than bcftools +fill-tags on {fmt} (ratio < 1)",
            "value": r, "met": (r < 1) if r is not None else None,
            "note": None if r is not None else no_ratio(warm.get(fmt), peer, "bcftools"),
        })
    gk_peaks = [c.peak_rss_kib() for c in list(warm.values()) + cold]
    gk_peaks = [p for p in gk_peaks if p is not None]
    peak = mb(max(gk_peaks)) if gk_peaks else None
    at_size = args.samples == RSS_TARGET_SAMPLES
    targets.append({
        "target": f"genomekit peak RSS < 1 GB ({RSS_TARGET_MB:.0f} MB) at "
                  f"{RSS_TARGET_SAMPLES:,} samples",
        "value": peak,
        "met": (peak < RSS_TARGET_MB) if (peak is not None and at_size) else None,
        "note": None if at_size else (
            f"not assessed: this run has {args.samples:,} samples, the target is defined at "
            f"{RSS_TARGET_SAMPLES:,}"),
    })
    for fmt, _ in FORMATS:
        peer = by_id.get(f"plink2-{fmt}")
        r = (ratio(warm[fmt].median_wall(), peer.median_wall())
             if peer and fmt in warm else None)
        targets.append({"target": f"plink2 ratio on {fmt} (information only)", "value": r,
                        "met": None, "note": "information only" if r is not None else
                        no_ratio(warm.get(fmt), peer, "plink2")})
    ctx = dict(ctx)
    timer_kind = ctx.pop("timer_kind", None)
    return {"benchmark": "genomekit freq vs bcftools +fill-tags and plink2", **ctx,
            "config": {"samples": args.samples, "sites": args.sites, "seed": args.seed,
                       "threads": args.threads, "repeats": args.repeats, "timer": timer_kind},
            "results": rows, "genomekit_cold_vs_warm": cold_rows, "targets": targets}


def verdict(t: dict) -> str:
    if t["met"] is True:
        return "**met**"
    if t["met"] is False:
        return "**NOT met**"
    return t.get("note") or "n/a"


def render_markdown(res: dict) -> str:
    cfg, data, mach, ver = res["config"], res["data"], res["machine"], res["versions"]
    L = []
    L.append("# `genomekit freq` benchmark")
    L.append("")
    L.append(f"Generated by `benchmarks/bench_freq.py` on {res['date']}. "
             f"{cfg['samples']:,} samples × {cfg['sites']:,} sites (seed {cfg['seed']}), "
             f"{cfg['threads']} thread(s) for every tool, {cfg['repeats']} interleaved "
             f"repeat(s) per command; median wall time, largest peak RSS. "
             f"Timer: {cfg['timer']}.")
    L.append("")
    L.append("> **Provisional numbers.** Other processes may have been using the CPUs during "
             f"this run (load average at start {mach.get('loadavg_start')}, at end "
             f"{mach.get('loadavg_end')}, on {mach.get('nproc')} CPUs). "
             "The OS page cache was not dropped.")
    L.append("")
    L.append("## Results")
    L.append("")
    L.append("| tool | input | threads | median wall (s) | min–max (s) | peak RSS (MB) "
             "| genomekit / peer wall | genomekit / peer RSS | status |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in res["results"]:
        tool = "genomekit freq" if r["tool"] == "genomekit" else (
            "bcftools +fill-tags" if r["tool"] == "bcftools" else "plink2")
        span = (f"{r['min_wall_s']:.2f}–{r['max_wall_s']:.2f}"
                if r["min_wall_s"] is not None else "—")
        L.append(f"| {tool} | {r['format']} | {r['threads']} | {fmt_num(r['median_wall_s'])} "
                 f"| {span} | {fmt_num(r['peak_rss_mb'], 0)} "
                 f"| {fmt_num(r['ratio_wall_genomekit_over_peer'])} "
                 f"| {fmt_num(r['ratio_rss_genomekit_over_peer'])} | {r['status']} |")
    L.append("")
    L.append("Ratios are genomekit's median wall time (peak RSS) on the same input format "
             "divided by the peer's; below 1 means genomekit is faster (smaller). "
             "MB = 2^20 bytes (ru_maxrss / 1024). bcftools' time includes re-encoding every "
             "full record as uncompressed BCF (`-Ou`, thrown away in /dev/null); genomekit's "
             "includes writing its Parquet table; plink2's includes its VCF-to-pgen conversion.")
    L.append("")
    L.append("### genomekit: cold vs warm Numba cache")
    L.append("")
    L.append("| input | first run, empty NUMBA_CACHE_DIR (s) | peak RSS (MB) "
             "| warm median (s) | cold − warm (s) | status |")
    L.append("|---|---:|---:|---:|---:|---|")
    if not res["genomekit_cold_vs_warm"]:
        L.append("| — | skipped (--no-cold) | | | | |")
    for r in res["genomekit_cold_vs_warm"]:
        L.append(f"| {r['format']} | {fmt_num(r['cold_wall_s'])} "
                 f"| {fmt_num(r['cold_peak_rss_mb'], 0)} | {fmt_num(r['warm_median_wall_s'])} "
                 f"| {fmt_num(r['cold_minus_warm_s'])} | {r['status']} |")
    L.append("")
    L.append("The cold figure is a single run (Numba compiles and caches the kernels in it); "
             "under concurrent load, cold − warm mixes compile time with timing noise.")
    L.append("")
    L.append("## Targets")
    L.append("")
    L.append("| target | value | verdict |")
    L.append("|---|---:|---|")
    for t in res["targets"]:
        unit = " MB" if "RSS" in t["target"] else ""
        digits = 0 if unit else 2
        L.append(f"| {t['target']} | {fmt_num(t['value'], digits)}{unit if t['value'] else ''} "
                 f"| {verdict(t)} |")
    L.append("")
    problems = [r for r in res["results"] + res["genomekit_cold_vs_warm"] if r["problem"]]
    problems_extra = res.get("problems", [])
    if problems or problems_extra:
        L.append("## Problems")
        L.append("")
        for p in problems_extra:
            L.append(f"- {p}")
        for r in problems:
            L.append(f"- `{r['id']}` ({r['status']}):")
            L.append("")
            L.append("  ```")
            L.extend(f"  {ln}" for ln in r["problem"].splitlines())
            L.append("  ```")
        L.append("")
    L.append("## Data")
    L.append("")
    L.append(f"- cohort: `{data['folder']}` ({'cached' if data['cached'] else 'generated now'}"
             f", generation took {data.get('generation_seconds', '?')} s when made)")
    L.append(f"- generator: `{data['command']}`")
    L.append(f"- samples: {cfg['samples']:,}; sites requested: {cfg['sites']:,}; "
             f"records in the BCF index: {data.get('records') or 'unknown'}")
    for name, size in data["file_bytes"].items():
        L.append(f"- `{name}`: {size / 1024**2:,.1f} MB ({size:,} bytes)")
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
    L.append("```")
    L.append("")
    return "\n".join(L)


# --------------------------------------------------------------------------- main


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Time genomekit freq against bcftools +fill-tags and plink2.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--samples", type=int, default=10_000)
    p.add_argument("--sites", type=int, default=40_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="threads for every tool")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per command")
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
    p.add_argument("--regenerate", action="store_true", help="ignore the cached cohort")
    p.add_argument("--genomekit", help="genomekit executable (default: the venv's)")
    p.add_argument("--bcftools", help="bcftools executable (default: from PATH)")
    p.add_argument("--plink2", help="plink2 executable (default: from PATH)")
    args = p.parse_args(argv)
    for name in ("samples", "sites", "threads", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    return args


def pick_timer(kind: str, timeout: float | None) -> Timer:
    gnu = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
    if gnu and "GNU" not in (run_text([gnu, "--version"]) or ""):
        gnu = None
    if kind == "gnu-time" and not gnu:
        sys.exit("bench_freq: --timer gnu-time but /usr/bin/time is not GNU time")
    if kind == "auto":
        kind = "gnu-time" if gnu else "wait4"
    return Timer(kind, gnu, timeout)


def main(argv=None) -> int:
    args = parse_args(argv)
    timeout = args.timeout or None
    timer = pick_timer(args.timer, timeout)
    date = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    load_start = loadavg()
    problems: list[str] = []

    gk = genomekit_exe(args.genomekit)
    if not gk:
        print("bench_freq: genomekit executable not found", file=sys.stderr)
        return 1
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

    try:
        folder, data = generate(args, gk, args.data_dir.resolve(), timeout)
    except RuntimeError as e:
        print(f"bench_freq: {e}", file=sys.stderr)
        return 1
    pops = folder / "cohort.pops.tsv"
    sex = plink_sex_file(folder)
    data = {
        "folder": rel(folder), "cached": data.get("cached", False),
        "command": data.get("command"), "generation_seconds": data.get("generation_seconds"),
        "records": count_records(bcftools, folder / "cohort.bcf"),
        "file_bytes": {f: (folder / f).stat().st_size
                       for f in ("cohort.vcf.gz", "cohort.bcf", "cohort.pops.tsv")},
    }

    warm_cache = work / "numba-cache-warm"
    warm_cache.mkdir()
    cases: list[Case] = []
    cold: list[Case] = []
    for fmt, fname in FORMATS:
        inp = rel(folder / fname)
        prefix = work / f"genomekit-{fmt.replace('.', '')}"
        gk_cmd = [rel(gk), "freq", inp, "--pops", rel(pops),
                  "--out", rel(prefix), "--threads", str(args.threads), "--force", "--quiet"]
        expect = [Path(f"{prefix}.freq.parquet"), Path(f"{prefix}.freq.json")]
        cases.append(Case(f"genomekit-{fmt}", "genomekit", fmt, gk_cmd,
                          {"NUMBA_CACHE_DIR": rel(warm_cache)}, expect))
        if not args.no_cold:
            cold_dir = work / f"numba-cache-cold-{fmt.replace('.', '')}"
            cold.append(Case(f"genomekit-{fmt}-cold", "genomekit", fmt, gk_cmd,
                             {"NUMBA_CACHE_DIR": rel(cold_dir)}, expect))
        bc = Case(f"bcftools-{fmt}", "bcftools", fmt,
                  [bcftools or "bcftools", "+fill-tags", inp, "-Ou", "-o", "/dev/null",
                   "--threads", str(args.threads), "--", "-t", FILL_TAGS])
        pl_prefix = work / f"plink2-{fmt.replace('.', '')}"
        pl = Case(f"plink2-{fmt}", "plink2", fmt,
                  [plink2 or "plink2", "--vcf" if fmt == "vcf.gz" else "--bcf", inp,
                   "--vcf-half-call", "missing", "--update-sex", rel(sex),
                   "--split-par", PLINK_SPLIT_PAR, "--freq", "counts", "--hardy", "--missing",
                   "--threads", str(args.threads), "--out", rel(pl_prefix)],
                  expect=[Path(f"{pl_prefix}.acount"), Path(f"{pl_prefix}.hardy"),
                          Path(f"{pl_prefix}.smiss"), Path(f"{pl_prefix}.vmiss")])
        for case, exe in ((bc, bcftools), (pl, plink2)):
            if not exe:
                case.status, case.problem = "missing", f"{case.tool} not found on PATH"
        cases += [bc, pl]

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
    # Warm the shared cache with one untimed run per genomekit case.
    for c in cases:
        if c.tool == "genomekit":
            print(f"[bench] warm-up (untimed): {c.command_line()}", flush=True)
            execute(c, timer, base_env, logs, "warmup")
            if c.status == "failed":
                print(f"[bench]   -> failed: {c.problem}", flush=True)
    # Timed runs, interleaved.
    for rep in range(1, args.repeats + 1):
        for c in cases:
            if c.status in ("failed", "missing"):
                continue
            print(f"[bench] repeat {rep}/{args.repeats}: {c.id}", flush=True, end="")
            m = execute(c, timer, base_env, logs, f"r{rep}")
            c.runs.append(m)
            print(f" -> {c.status} {fmt_num(m.wall_s)} s {fmt_num(mb(m.maxrss_kib), 0)} MB",
                  flush=True)

    # Cross-check genomekit's own summary against the cohort it was given.
    for c in cases:
        if c.tool != "genomekit" or c.status != "ok":
            continue
        try:
            summary = json.loads(c.expect[1].read_text())
        except (OSError, json.JSONDecodeError) as e:
            c.status, c.problem = "failed", f"unreadable summary {rel(c.expect[1])}: {e}"
            continue
        want_sites = data["records"] or args.sites
        got = (summary.get("n_samples"), summary.get("n_sites"))
        if got != (args.samples, want_sites):
            c.status = "failed"
            c.problem = (f"summary {rel(c.expect[1])} reports n_samples={got[0]}, "
                         f"n_sites={got[1]}; expected {args.samples}, {want_sites}")

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
    res = build_results(args, ctx, cases, cold)
    (out_dir / "freq.json").write_text(json.dumps(res, indent=2) + "\n")
    (out_dir / "freq.md").write_text(render_markdown(res))
    print(f"[bench] wrote {rel(out_dir / 'freq.md')} and {rel(out_dir / 'freq.json')}")
    gk_failed = [c.id for c in cases + cold if c.tool == "genomekit" and c.status != "ok"]
    if gk_failed:
        print(f"bench_freq: genomekit failed: {', '.join(gk_failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
