"""The Snakemake workflow (Snakefile, workflows/): a sharded run equals whole-file runs.

Each test runs the real `snakemake` on a cohort generated at test time, in a temporary
working folder, with the local profile; the results are compared with direct whole-file
`genomekit freq`/`sample-qc`/`relate`/`pca` runs on the same samples, and the BAM steps and
the release with direct `genomekit bam-qc`/`fingerprint`/`release` runs on the same inputs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pysam
import pytest
from polars.testing import assert_frame_equal

from tests.conftest import ROOT, need_tool

yaml = pytest.importorskip("yaml")  # comes with snakemake (the 'test' extra)

BIN = Path(sys.executable).parent
GENOMEKIT = str(BIN / "genomekit")
SNAKEMAKE_TIMEOUT = 600  # seconds; a hung run is killed (snakemake ignores SIGTERM at times)


def need_snakemake() -> None:
    try:
        import snakemake  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("snakemake is not installed; it is in the 'test' extra")
        pytest.skip("snakemake not installed (pip install -e '.[test]')")


def env() -> dict:
    """The environment of a run: the venv's genomekit and snakemake first on PATH."""
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    return e


def snakemake(workdir: Path, *args: str, check: bool = True,
              timeout: int = SNAKEMAKE_TIMEOUT) -> subprocess.CompletedProcess:
    """Run snakemake on the project's Snakefile in WORKDIR, killed after TIMEOUT seconds."""
    cmd = ["timeout", "-s", "KILL", str(timeout), sys.executable, "-m", "snakemake",
           "--snakefile", str(ROOT / "Snakefile"), *args]
    proc = subprocess.run(cmd, cwd=workdir, env=env(), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        out = proc.stdout + proc.stderr
        raise AssertionError(f"snakemake exited {proc.returncode}:\n{out[-6000:]}")
    return proc


def genomekit(*args: str) -> None:
    subprocess.run([GENOMEKIT, *args], check=True, capture_output=True, env=env(),
                   stdin=subprocess.DEVNULL)


def simulate(folder: Path, samples: int = 150, sites: int = 3000, seed: int = 3) -> dict:
    """A cohort with GT:AD:DP:GQ, half calls, male hets and many-allele sites."""
    folder.mkdir(parents=True, exist_ok=True)
    prefix = folder / "cohort"
    genomekit("simulate", "--out", str(prefix), "--samples", str(samples), "--sites",
              str(sites), "--seed", str(seed), "--fields", "GT,AD,DP,GQ", "--half-calls",
              "0.01", "--male-het", "0.01", "--many-allele-sites", "2", "-q")
    return {"vcf": f"{prefix}.vcf.gz", "pops": f"{prefix}.pops.tsv"}


def write_sheet(pops: str, path: Path, every: int = 10,
                bams: dict[str, str] | None = None) -> list[str]:
    """A sample sheet from a pops TSV: columns shuffled, an extra column, consent spelled
    several ways; every EVERY-th sample without consent; the bam column from BAMS
    ({sample: path}), empty for the others. Returns the withdrawn samples."""
    rows = pl.read_csv(pops, separator="\t")
    no = ["false", "FALSE", "no", "0"]
    yes = ["true", "True", "yes", "1"]
    consent, withdrawn = [], []
    for i, name in enumerate(rows["sample"]):
        if i % every == every - 1:
            consent.append(no[i % 4])
            withdrawn.append(name)
        else:
            consent.append(yes[i % 4])
    sheet = rows.with_columns(
        consent=pl.Series(consent),
        bam=pl.Series([(bams or {}).get(name) for name in rows["sample"]], dtype=pl.String),
        notes=pl.lit("ok"),
    ).select("consent", "sample", "sex", "notes", "population", "bam")
    sheet.write_csv(path, separator="\t")
    return withdrawn


def write_config(path: Path, **values) -> Path:
    path.write_text(yaml.safe_dump(values, sort_keys=False))
    return path


# One thread per job, so that two small jobs share the 2 cores (results never depend on it).
ONE_THREAD = ["--set-threads", "freq_shard=1", "sample_qc_shard=1", "relate_tile=1", "pca=1",
              "pca_project=1", "bam_qc=1", "fingerprint=1"]
FREQ_FILTERS = {"min_gq": 20, "min_dp": 10, "min_ab": 0.2, "hwe_midp": True}


def whole_file_runs(vcf: str, pops: str, excluded: Path, out: Path) -> Path:
    """Direct whole-file runs of freq, sample-qc and relate: the reference results."""
    common = ["--exclude-samples", str(excluded), "-q"]
    genomekit("freq", vcf, "--pops", pops, "--build", "GRCh38", "--min-gq", "20",
              "--min-dp", "10", "--min-ab", "0.2", "--hwe-midp", "-o", str(out / "whole"),
              *common)
    genomekit("sample-qc", vcf, "--pops", pops, "-o", str(out / "whole"), *common)
    genomekit("relate", vcf, "--unrelated", "-o", str(out / "whole"), *common)
    genomekit("pca", vcf, "-S", str(out / "whole.unrelated.txt"), "-o", str(out / "whole"),
              *common)
    genomekit("pca", vcf, "--project", str(out / "whole.pca_loadings.parquet"), "-o",
              str(out / "whole.all"), *common)
    return out / "whole"


def assert_results_equal(results: Path, whole: Path, cohort: str = "cohort") -> None:
    """Every table exactly, PCA included: pca runs on one BLAS thread whatever
    OPENBLAS_NUM_THREADS snakemake sets, and several input files are read in the chunks of
    their concatenation."""
    def table(path) -> pl.DataFrame:
        path = str(path)
        return pl.read_csv(path, separator="\t") if path.endswith(".tsv") else \
            pl.read_parquet(path)

    for kind in ("freq.parquet", "sample_qc.parquet", "relate.parquet", "pca_scores.parquet",
                 "pca_loadings.parquet", "pca_eigenval.tsv", "all.pca_projected.parquet"):
        assert_frame_equal(table(f"{whole}.{kind}"), table(results / f"{cohort}.{kind}"),
                           check_exact=True)
    assert (results / f"{cohort}.unrelated.txt").read_text() == \
        Path(f"{whole}.unrelated.txt").read_text()
    assert "<html" in (results / f"{cohort}.report.html").read_text()[:2000].lower()


def simulate_bams(work: Path, cohort: dict, samples: list[str], swap: tuple[str, str],
                  span: int = 50_000) -> dict[str, str]:
    """BAMs of SAMPLES with reads over SPAN bp per contig, the reads of the SWAP pair swapped,
    and bams/spans.bed, the spans with reads. Returns {sample: path relative to WORK}."""
    genomekit("simulate-bams", cohort["vcf"], "--out-dir", str(work / "bams"), "--samples",
              ",".join(samples), "--swap", ",".join(swap), "--sexes", cohort["pops"],
              "--depth", "8", "--span", str(span), "-q")
    first = {}
    with pysam.VariantFile(cohort["vcf"]) as vcf:
        for rec in vcf:
            first.setdefault(rec.chrom, rec.pos)
    with pysam.AlignmentFile(str(work / "bams" / f"{samples[0]}.bam")) as bam:
        length = dict(zip(bam.references, bam.lengths))
    # Reads are drawn from 1 kb before a contig's first site (genomekit.simulate_bam).
    (work / "bams/spans.bed").write_text("".join(
        f"{chrom}\t{pos - 1001}\t{min(pos - 1001 + span, length[chrom])}\n"
        for chrom, pos in first.items()))
    return {name: f"bams/{name}.bam" for name in samples}


# The release policy of sharded_run (small groups and cells for a cohort of 135).
RELEASE = {"enabled": True, "min_group_size": 10, "min_cell": 3, "min_ac": 1, "af_digits": 3,
           "sites_vcf": True}


@pytest.fixture(scope="module")
def sharded_run(tmp_path_factory):
    """One workflow run: 150 samples, 3000 sites, 300 kb shards (24 per table), 3 tiles;
    BAMs of five samples with consent (the reads of two swapped) and the bam path of a sample
    without consent, which names no file; the release step."""
    need_snakemake()
    work = tmp_path_factory.mktemp("workflow")
    cohort = simulate(work / "data")
    names = pl.read_csv(cohort["pops"], separator="\t")["sample"].to_list()
    with_bams, swap = names[:5], (names[1], names[3])
    bams = simulate_bams(work, cohort, with_bams, swap)
    # names[9] has no consent (write_sheet: every 10th): its BAM is never read.
    withdrawn = write_sheet(cohort["pops"], work / "data" / "samples.tsv",
                            bams={**bams, names[9]: "bams/withdrawn.bam"})
    assert names[9] in withdrawn and not set(with_bams) & set(withdrawn)
    config = write_config(
        work / "config.yaml", vcf="data/cohort.vcf.gz", samples="data/samples.tsv",
        out="results", cohort="study", shard_size=300_000, freq=FREQ_FILTERS,
        relate={"tiles": 3}, bam_qc={"by": "bams/spans.bed", "thresholds": [1, 5, 10]},
        fingerprint={"maf": 0.1}, release=RELEASE)
    snakemake(work, "--profile", str(ROOT / "workflows/profiles/local"), "--cores", "2",
              *ONE_THREAD, "--configfile", str(config))
    excluded = work / "excluded.txt"
    excluded.write_text("".join(f"{s}\n" for s in withdrawn))
    whole = whole_file_runs(cohort["vcf"], cohort["pops"], excluded, work)
    return {"work": work, "results": work / "results", "whole": whole, "withdrawn": withdrawn,
            "vcf": cohort["vcf"], "bams": bams, "swap": swap}


def test_sharded_run_equals_whole_file(sharded_run):
    results, whole = sharded_run["results"], sharded_run["whole"]
    assert_results_equal(results, whole, cohort="study")
    # Really sharded: several shards per contig, some of them empty.
    plan = (results / "shards/cohort/plan.bed").read_text().splitlines()
    assert len(plan) == 24 and sum(line.startswith("chr1\t") for line in plan) == 2
    assert len(list((results / "shards/cohort/regions").glob("*.bed"))) == 24
    assert len(list((results / "shards/cohort/freq").glob("*.freq.parquet"))) == 24
    heights = [pl.read_parquet(p).height
               for p in (results / "shards/cohort/freq").glob("*.freq.parquet")]
    assert 0 in heights and sum(heights) == pl.read_parquet(f"{whole}.freq.parquet").height


def test_bam_steps_and_release_equal_direct_runs(sharded_run):
    """bam-qc per BAM gathered, fingerprint and release equal single direct runs on the same
    BAMs (in sheet order), cohort file and freq table."""
    work, results = sharded_run["work"], sharded_run["results"]
    bams, direct = sharded_run["bams"], work / "direct"
    subprocess.run([GENOMEKIT, "bam-qc", *bams.values(), "--by", "bams/spans.bed",
                    "--thresholds", "1,5,10", "-o", str(direct), "-q"], check=True, cwd=work,
                   env=env(), stdin=subprocess.DEVNULL)
    manifest = work / "manifest.tsv"
    manifest.write_text("".join(f"{name}\t{work / bam}\n" for name, bam in bams.items()))
    genomekit("fingerprint", sharded_run["vcf"], "--manifest", str(manifest), "--maf", "0.1",
              "--exclude-samples", str(work / "excluded.txt"), "-o", str(direct), "-q")
    genomekit("release", f"{sharded_run['whole']}.freq.parquet", "--min-group-size", "10",
              "--min-cell", "3", "--min-ac", "1", "--af-digits", "3", "--sites-vcf", "-o",
              str(direct), "-q")
    for kind in ("bam_qc", "coverage_dist", "regions", "fingerprint"):
        assert_frame_equal(pl.read_parquet(f"{direct}.{kind}.parquet"),
                           pl.read_parquet(results / f"study.{kind}.parquet"), check_exact=True)
    released = results / "release/study.release"
    assert_frame_equal(pl.read_parquet(f"{direct}.release.parquet"),
                       pl.read_parquet(f"{released}.parquet"), check_exact=True)
    assert sorted(p.name for p in (results / "release").iterdir()) == \
        ["study.release.bcf", "study.release.bcf.csi", "study.release.json",
         "study.release.parquet"]
    with pysam.VariantFile(f"{direct}.release.bcf") as a, \
            pysam.VariantFile(f"{released}.bcf") as b:
        assert [str(r) for r in a] == [str(r) for r in b]
    # The gathered summary says what the single run's does, but its command line.
    ours = json.loads((results / "study.bam_qc.json").read_text())
    theirs = json.loads(Path(f"{direct}.bam_qc.json").read_text())
    own = {"command_line", "outputs", "elapsed_seconds"}
    assert {k: v for k, v in theirs.items() if k not in own} == \
        {k: v for k, v in ours.items() if k not in own | {"gathered_from"}}
    assert ours["outputs"] == [str(results / f"study.{kind}") for kind in
                               ("bam_qc.parquet", "coverage_dist.parquet", "regions.parquet",
                                "bam_qc.json")]
    # One bam-qc job per BAM of a sample with consent.
    assert sorted(p.name for p in (results / "bam_qc").glob("*.bam_qc.parquet")) == \
        sorted(f"{name}.bam_qc.parquet" for name in bams)


def test_swap_is_found(sharded_run):
    fp = pl.read_parquet(sharded_run["results"] / "study.fingerprint.parquet")
    a, b = sharded_run["swap"]
    assert fp["declared_sample"].to_list() == list(sharded_run["bams"])
    swapped = fp.filter(pl.col("swap"))
    assert dict(zip(swapped["declared_sample"], swapped["best_sample"])) == {a: b, b: a}
    assert set(swapped["result"]) == {"swap"}
    assert set(fp.filter(~pl.col("swap"))["result"]) == {"match"}
    summary = json.loads((sharded_run["results"] / "study.fingerprint.json").read_text())
    assert {s["declared_sample"]: s["reads_of"] for s in summary["swaps"]} == {a: b, b: a}
    # The report has the BAM steps' and the release's sections, and MultiQC files.
    results = sharded_run["results"]
    html = (results / "study.report.html").read_text()
    titles = re.findall(r"<h2[^>]*>([^<]+)", html)
    assert {"Coverage", "Sample identity", "Release summary"} <= set(titles), titles
    assert "2 swap" in html
    assert (results / "study_genomekit_bamqc_mqc.tsv").exists()
    assert (results / "study_genomekit_coverage_mqc.json").exists()


def test_consent_false_samples_are_excluded(sharded_run):
    results, withdrawn = sharded_run["results"], sharded_run["withdrawn"]
    assert len(withdrawn) == 15
    lines = (results / "samples/excluded.txt").read_text().splitlines()
    assert [s for s in lines if not s.startswith("#")] == withdrawn
    qc = pl.read_parquet(results / "study.sample_qc.parquet")
    assert qc.height == 135 and not set(withdrawn) & set(qc["sample"])
    kept = set(pl.read_csv(sharded_run["work"] / "data/cohort.pops.tsv", separator="\t")
               ["sample"]) - set(withdrawn)
    assert set(qc["sample"]) == kept
    pairs = pl.read_parquet(results / "study.relate.parquet")
    assert not set(withdrawn) & (set(pairs["IID1"]) | set(pairs["IID2"]))
    freq = pl.read_parquet(results / "study.freq.parquet")
    assert freq["AN"].max() <= 2 * 135
    # BAMs: the withdrawn sample's is in the sheet but read by no step (it names no file).
    manifest = (results / "samples/bams.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in manifest[1:]] == list(sharded_run["bams"])
    fp = json.loads((results / "study.fingerprint.json").read_text())
    assert fp["n_samples"] == 135


def test_every_job_has_log_and_benchmark(sharded_run):
    results = sharded_run["results"]
    logs = {p.relative_to(results / "logs").as_posix() for p in (results / "logs").rglob("*.log")}
    bench = {p.relative_to(results / "benchmarks").as_posix()
             for p in (results / "benchmarks").rglob("*.tsv")}
    expected = {"sample_lists", "shard_plan/cohort", "freq_merge", "sample_qc_merge",
                "relate_merge", "relate/1", "relate/2", "relate/3", "pca", "pca_project",
                "report", "bam_manifest", "bam_qc_merge", "fingerprint", "release"}
    expected |= {f"{k}/cohort/{i:06d}" for k in ("freq", "sample_qc") for i in range(1, 25)}
    expected |= {f"bam_qc/{name}" for name in sharded_run["bams"]}
    assert {p.removesuffix(".log") for p in logs} == expected
    assert {p.removesuffix(".tsv") for p in bench} == expected
    # The CLI's own summary line ends up in the rule's log.
    assert "genomekit freq:" in (results / "logs/freq/cohort/000001.log").read_text()


def test_rerun_has_nothing_to_do(sharded_run):
    proc = snakemake(sharded_run["work"], "--profile", str(ROOT / "workflows/profiles/local"),
                     "--cores", "1", "--configfile", "config.yaml", "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_one_file_per_chromosome(tmp_path):
    """Several input files (per chromosome, mixed BCF and VCF.gz): same results."""
    need_snakemake()
    bcftools = need_tool("bcftools")
    cohort = simulate(tmp_path / "data", samples=80, sites=1500, seed=11)
    withdrawn = write_sheet(cohort["pops"], tmp_path / "data/samples.tsv", every=7)
    parts = {"chr1": "cohort.chr1.bcf", "chr2": "cohort.chr2.vcf.gz",
             "chrX,chrY": "cohort.sex.bcf"}
    for regions, name in parts.items():
        path = str(tmp_path / "data" / name)
        fmt = "b" if name.endswith(".bcf") else "z"
        subprocess.run([bcftools, "view", "-r", regions, f"-O{fmt}", "-o", path,
                        cohort["vcf"]], check=True)
        subprocess.run([bcftools, "index", *([] if fmt == "b" else ["-t"]), path], check=True)
    config = write_config(
        tmp_path / "config.yaml", vcf=[f"data/{n}" for n in parts.values()],
        samples="data/samples.tsv", out="results", shard_size=1_000_000,
        freq=FREQ_FILTERS, relate={"tiles": 2})
    snakemake(tmp_path, "--profile", str(ROOT / "workflows/profiles/local"), "--cores", "2",
              *ONE_THREAD, "--configfile", str(config))
    excluded = tmp_path / "excluded.txt"
    excluded.write_text("".join(f"{s}\n" for s in withdrawn))
    whole = whole_file_runs(cohort["vcf"], cohort["pops"], excluded, tmp_path)
    assert_results_equal(tmp_path / "results", whole)
    assert sorted(p.name for p in (tmp_path / "results/shards").iterdir()) == \
        ["cohort.chr1", "cohort.chr2", "cohort.sex"]
    # No BAM in the sheet and release not enabled (the default): no such step ran.
    left = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert not [name for name in left if re.search("bam|fingerprint|coverage|release", name)]
    assert not list((tmp_path / "results").rglob("*release*"))
    titles = re.findall(r"<h2[^>]*>([^<]+)", (tmp_path / "results/cohort.report.html").read_text())
    assert "Sample QC metrics" in titles
    assert not {"Coverage", "Sample identity", "Release summary"} & set(titles), titles
    # relate and pca read the three files in config order, as one.
    files = [str(tmp_path / "data" / name) for name in parts.values()]
    for summary in ("relate/tiles/1.relate.json", "cohort.pca.json", "cohort.all.pca.json"):
        inputs = json.loads((tmp_path / "results" / summary).read_text())["inputs"]
        assert [i["path"] for i in inputs] == files, summary


@pytest.fixture
def tiny(tmp_path):
    """A dry-run setting: a small cohort and a valid sheet and config to spoil."""
    need_snakemake()
    cohort = simulate(tmp_path / "data", samples=30, sites=200, seed=5)
    write_sheet(cohort["pops"], tmp_path / "data/samples.tsv")
    cfg = {"vcf": "data/cohort.vcf.gz", "samples": "data/samples.tsv"}
    return tmp_path, cfg


def dry_run(work: Path, cfg: dict, check: bool = False) -> subprocess.CompletedProcess:
    write_config(work / "config.yaml", **cfg)
    return snakemake(work, "--profile", str(ROOT / "workflows/profiles/local"), "--cores", "1",
                     "-n", "--configfile", "config.yaml", check=check)


def lints(text: str) -> list[str]:
    """The lint titles of `snakemake --lint` text output (its JSON mode prints text)."""
    return re.findall(r"^\s+\* (.+?):\s*$", text, flags=re.M)


def test_lint_is_clean(tiny):
    """`snakemake --lint` has no advice for the workflow: no lint listed, exit status 0."""
    work, cfg = tiny
    write_config(work / "config.yaml", **cfg)
    proc = snakemake(work, "--lint", "--configfile", "config.yaml", check=False)
    out = proc.stdout + proc.stderr
    assert not lints(out) and "Lints for" not in out, out[-6000:]
    assert proc.returncode == 0, out[-6000:]


def test_lint_advice_is_seen(tmp_path):
    """What test_lint_is_clean relies on: advice makes --lint exit 1, and lints() reads it."""
    need_snakemake()
    (tmp_path / "Snakefile").write_text(
        'rule a:\n    output:\n        "a.txt",\n    shell:\n        "touch {output}"\n')
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "-s", "Snakefile"],
                          cwd=tmp_path, env=env(), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=SNAKEMAKE_TIMEOUT)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert set(lints(out)) == {"No log directive defined",
                               "Specify a conda environment or container for each rule."}, out


# A stand-in for conda, which this machine does not have: it answers snakemake's checks and
# does what `conda env create --file F` does with F's pip section (conda/env/installers/
# pip.py): write the requirements to a file in F's folder and run pip from that folder; here
# `pip install --dry-run --report`, so nothing is installed. Conda packages are only listed.
FAKE_CONDA = """\
import json, os, subprocess, sys

import yaml

args = sys.argv[1:]
if args == ["info", "--json"]:
    print(json.dumps({"conda_prefix": os.path.dirname(os.path.dirname(__file__)),
                      "platform": "linux-64"}))
elif args == ["--version"]:
    print("conda 24.9.2")
elif args[:2] == ["config", "--get"]:
    print(json.dumps({"get": {"channel_priority": "strict"}}))
elif args[:2] == ["env", "create"]:
    spec = args[args.index("--file") + 1].strip('"')
    prefix = args[args.index("--prefix") + 1].strip('"')
    env = yaml.safe_load(open(spec))
    pip = [x for dep in env["dependencies"] if isinstance(dep, dict) for x in dep["pip"]]
    folder = os.path.dirname(os.path.abspath(spec))
    with open(os.path.join(folder, "condaenv.requirements.txt"), "w") as fh:
        fh.write("\\n".join(pip))
    report = os.path.join(os.environ["FAKE_CONDA_LOG"], "pip-report.json")
    subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps",
                    "--quiet", "--report", report, "-r", "condaenv.requirements.txt"],
                   cwd=folder, check=True)
    with open(os.path.join(os.environ["FAKE_CONDA_LOG"], "conda.json"), "w") as fh:
        json.dump({"spec": spec, "conda": [d for d in env["dependencies"] if isinstance(d, str)],
                   "channels": env["channels"]}, fh)
    os.makedirs(os.path.join(prefix, "bin"))
"""


def test_conda_environment_installs_this_checkout(tiny):
    """With --sdm conda every rule runs in workflows/envs/genomekit.yaml: python, bcftools,
    htslib, and pip installs genomekit from this checkout, from whatever folder snakemake
    runs in (it copies the file to .snakemake/conda/ first, so a relative path would not do)."""
    work, cfg = tiny
    write_config(work / "config.yaml", **cfg)
    bin_dir = work / "fake-conda" / "bin"
    bin_dir.mkdir(parents=True)
    conda = bin_dir / "conda"
    conda.write_text(f"#!{sys.executable}\n{FAKE_CONDA}")
    conda.chmod(0o755)
    e = env()
    e["PATH"] = f"{bin_dir}{os.pathsep}{e['PATH']}"
    e["FAKE_CONDA_LOG"] = str(work)
    e.pop("GENOMEKIT_SOURCE", None)
    cmd = ["timeout", "-s", "KILL", str(SNAKEMAKE_TIMEOUT), sys.executable, "-m", "snakemake",
           "--snakefile", str(ROOT / "Snakefile"), "--configfile", "config.yaml", "--cores",
           "1", "--sdm", "conda", "--conda-create-envs-only"]
    proc = subprocess.run(cmd, cwd=work, env=e, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    created = json.loads((work / "conda.json").read_text())
    assert Path(created["spec"]).parent == work / ".snakemake" / "conda"
    assert {"python =3.11", "bcftools =1.21", "htslib =1.21", "pip"} <= set(created["conda"])
    assert created["channels"][:2] == ["conda-forge", "bioconda"]
    report = json.loads((work / "pip-report.json").read_text())
    [install] = report["install"]
    assert install["metadata"]["name"] == "genomekit"
    assert install["download_info"]["url"] == ROOT.as_uri()
    assert install["download_info"]["dir_info"] == {"editable": True}
    # One environment, for every rule but the Python one (run:, in snakemake's own process).
    assert out.count("Creating conda environment") == 1


def test_dry_run_and_schema_defaults(tiny):
    work, cfg = tiny
    proc = dry_run(work, cfg, check=True)
    out = proc.stdout + proc.stderr
    # Shards are known after the checkpoint only; the rest of the DAG is listed.
    for rule in ("sample_lists", "shard_plan", "relate_tile", "relate_merge", "pca",
                 "pca_project", "report"):
        assert rule in out


def test_dry_run_of_bam_steps_and_release(tiny):
    """A bam-qc job per BAM of a sample with consent; fingerprint reads the cohort file that
    config fingerprint.vcf names; release only when enabled, with the policy's options."""
    work, cfg = tiny
    data = work / "data"
    for ext in ("", ".tbi"):
        shutil.copy(data / f"cohort.vcf.gz{ext}", data / f"second.vcf.gz{ext}")
    path = data / "samples.tsv"
    sheet = pl.read_csv(path, separator="\t", infer_schema=False)
    names = sheet["sample"].to_list()
    bams = {names[0]: "bams/a.bam", names[1]: "bams/b.bam", names[9]: "bams/withdrawn.bam"}
    sheet.with_columns(bam=pl.col("sample").replace_strict(bams, default=None)).write_csv(
        path, separator="\t")
    (work / "bams").mkdir()
    for bam in ("a.bam", "b.bam"):  # empty: a dry run reads none
        (work / "bams" / bam).touch()
    cfg = {**cfg, "vcf": ["data/cohort.vcf.gz", "data/second.vcf.gz"],
           "fingerprint": {"vcf": "second"}}

    def jobs(out: str) -> dict[str, int]:
        table = out.split("Job stats:", 1)[1]
        return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, flags=re.M)}

    out = "".join(dry_run(work, cfg, check=True).stdout)
    counts = jobs(out)
    assert counts["bam_qc"] == 2 and counts["bam_qc_merge"] == 1 and "release" not in counts
    assert "genomekit fingerprint data/second.vcf.gz --manifest" in out
    assert "withdrawn" not in out
    cfg["release"] = {"enabled": True, "min_ac": 2, "af_digits": 4, "sites_vcf": True}
    out = dry_run(work, cfg, check=True).stdout
    assert jobs(out)["release"] == 1
    assert "genomekit release results/cohort.freq.parquet --min-group-size 20 --min-cell 5" \
        " --min-ac 2 --af-digits 4 --sites-vcf --out results/release/cohort" in out


@pytest.mark.parametrize(("change", "message"), [
    ({"shard_size": 0}, "shard_size"),
    ({"shard_sise": 1000}, "shard_sise"),
    ({"build": "hg19"}, "hg19"),
    ({"relate": {"tiles": 0}}, "tiles"),
    ({"pca": {"thin_r2": 2}}, "thin_r2"),
    ({"vcf": ["data/cohort.vcf.gz", "other/cohort.vcf.gz"]}, "different names"),
    ({"fingerprint": {"vcf": "data/other.vcf.gz"}}, "not one of the files of vcf"),
    ({"release": {"enabled": True, "min_cell": -1}}, "min_cell"),
])
def test_bad_config_is_refused(tiny, change, message):
    work, cfg = tiny
    proc = dry_run(work, {**cfg, **change})
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and message in out, out[-3000:]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda s: s.with_columns(consent=pl.lit("maybe")), "maybe"),
    (lambda s: s.drop("consent"), "'consent' is a required property"),
    (lambda s: s.with_columns(sex=pl.lit("X")), "'X' does not match"),
    (lambda s: s.with_columns(population=pl.lit("East Asian")), "East Asian"),
    (lambda s: pl.concat([s, s.head(2)]), "listed twice"),
    (lambda s: s.with_columns(bam=pl.lit("one.bam")), "BAM(s) listed for two samples: one.bam"),
])
def test_bad_sample_sheet_is_refused(tiny, edit, message):
    work, cfg = tiny
    path = work / "data/samples.tsv"
    edit(pl.read_csv(path, separator="\t", infer_schema=False)).write_csv(path, separator="\t")
    proc = dry_run(work, cfg)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and message in out, out[-3000:]


def test_cohort_sample_missing_from_sheet_stops_the_run(tiny):
    """A cohort sample without a row has no recorded consent: nothing runs."""
    work, cfg = tiny
    path = work / "data/samples.tsv"
    sheet = pl.read_csv(path, separator="\t", infer_schema=False)
    # A typo in a withdrawn sample's name would otherwise leave the real sample in.
    sheet = sheet.with_columns(sample=pl.when(pl.col("sample") == "KOR00010")
                               .then(pl.lit("KOR0010")).otherwise(pl.col("sample")))
    sheet.write_csv(path, separator="\t")
    write_config(work / "config.yaml", **cfg, out="results")
    proc = snakemake(work, "--profile", str(ROOT / "workflows/profiles/local"), "--cores", "1",
                     "--configfile", "config.yaml", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "consent is unknown: KOR00010" in out, out[-3000:]
    assert "consent is unknown: KOR00010" in (work / "results/logs/sample_lists.log").read_text()
    assert not (work / "results/samples/pops.tsv").exists()
    assert not list((work / "results").glob("shards/*/freq/*"))


def test_example_config_is_valid():
    """workflows/config/config.yaml holds the schema's defaults (the profiles replace it
    with the user's file, and jobs read both, so the two must agree)."""
    example = yaml.safe_load((ROOT / "workflows/config/config.yaml").read_text())
    schema = yaml.safe_load((ROOT / "workflows/schemas/config.schema.yaml").read_text())
    for key, spec in schema["properties"].items():
        if key in ("vcf", "samples"):
            continue
        if spec.get("type") == "object":
            for sub, subspec in spec["properties"].items():
                assert example[key][sub] == subspec["default"], (key, sub)
        else:
            assert example[key] == spec["default"], key


def test_profiles_parse():
    for name in ("local", "slurm"):
        profile = yaml.safe_load((ROOT / f"workflows/profiles/{name}/config.yaml").read_text())
        assert profile["replace-workflow-config"] is True
    slurm = yaml.safe_load((ROOT / "workflows/profiles/slurm/config.yaml").read_text())
    assert slurm["executor"] == "slurm"
    assert set(slurm["default-resources"]) == {"slurm_account", "slurm_partition"}
    # Cluster settings live only in the slurm profile.
    for path in [ROOT / "Snakefile", *(ROOT / "workflows").rglob("*.smk"),
                 *(ROOT / "workflows/config").glob("*.yaml")]:
        text = path.read_text()
        assert "slurm_account" not in text and "slurm_partition" not in text, path
