"""What the benchmark scripts share: running and timing commands, the cache of generated
data, machine facts, report helpers.

Imported by benchmarks/bench_freq.py, bench_qc.py, bench_bam.py and _compare.py. The scripts
are run from the repository root as ``.venv/bin/python benchmarks/bench_x.py`` and put this
folder first on sys.path, so ``from _common import ...`` works from any directory.
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


def genomekit_python(gk: str) -> Path:
    """The interpreter beside the genomekit executable ``gk`` (its venv), else this one."""
    python = Path(gk).parent / "python"
    return python if python.exists() else Path(sys.executable)


def compile_bytecode(gk: str) -> None:
    """Write the bytecode (.pyc) of the genomekit package that ``gk`` runs, as pip does
    when it installs a package: with PYTHONDONTWRITEBYTECODE set (or an unwritable
    checkout) every timed run would otherwise compile each module from source first.
    Quiet; a failure only leaves the runs as they would have been."""
    python = genomekit_python(gk)
    code = ("import compileall, os, genomekit\n"
            "compileall.compile_dir(os.path.dirname(genomekit.__file__), quiet=2)")
    subprocess.run([str(python), "-c", code], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)


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
    threads: int | None = None

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



def missing_tool(case: Case, exe: str | None) -> Case:
    if not exe:
        case.status, case.problem = "missing", f"{case.tool} not found on PATH"
    return case



def pick_timer(kind: str, timeout: float | None) -> Timer:
    gnu = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
    if gnu and "GNU" not in (run_text([gnu, "--version"]) or ""):
        gnu = None
    if kind == "gnu-time" and not gnu:
        sys.exit("bench_freq: --timer gnu-time but /usr/bin/time is not GNU time")
    if kind == "auto":
        kind = "gnu-time" if gnu else "wait4"
    return Timer(kind, gnu, timeout)



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



# --------------------------------------------------------------------------- report


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def now_iso() -> str:
    """The local date and time, to the second, as the reports give it."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


# --------------------------------------------------------------------------- options


def require_positive(p: argparse.ArgumentParser, args, names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")


# --------------------------------------------------------------------------- data cache


def cached_data(folder: Path, regenerate: bool) -> dict | None:
    """The manifest of a generated data folder when it is complete (and not --regenerate)."""
    manifest = folder / "manifest.json"
    if manifest.exists() and not regenerate:
        info = json.loads(manifest.read_text())
        if all((folder / f).exists() for f in info.get("files", [])):
            info["cached"] = True
            return info
    return None


def new_partial(data_root: Path, key: str) -> Path:
    """An empty folder, private to this process, to generate the data ``key`` in."""
    data_root.mkdir(parents=True, exist_ok=True)
    partial = data_root / f".{key}.partial{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    return partial


def publish(partial: Path, folder: Path, info: dict) -> tuple[Path, dict]:
    """Write the manifest into ``partial`` and move it to ``folder`` in one rename."""
    (partial / "manifest.json").write_text(json.dumps(info, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    info["cached"] = False
    return folder, info
