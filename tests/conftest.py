"""Shared fixtures: generated cohorts (seeded, made at test time) and a freq runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from genomekit.commands import freq as freq_command
from genomekit.simulate import cohort_config, write_cohort

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
DATA = Path(__file__).resolve().parent / "data"


def need_tool(name: str) -> str:
    """Path of a peer tool; skip locally when absent, fail in CI (which installs them)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; .ci/run installs it with apt-get")
        pytest.skip(f"{name} not installed")
    return path


def random_biallelic_genotypes(rng, n_var, n_smp):
    """Biallelic calls of every kind: diploid, ./., half, haploid, triploid (ploidy 3)."""
    freq = rng.uniform(0.0, 1.0, size=n_var)
    alleles = (rng.random((n_var, n_smp, 3)) < freq[:, None, None]).astype(np.int8)
    kind = rng.choice(5, size=(n_var, n_smp), p=[0.8, 0.05, 0.05, 0.05, 0.05])
    gt = alleles.copy()
    gt[:, :, 2] = -2
    gt[kind == 1, :2] = -1
    gt[kind == 2, 0] = -1
    gt[kind == 3, 1] = -2
    gt[kind == 4, 2] = alleles[kind == 4, 2]
    return gt


def split_by_contig(vcf, folder, parts) -> tuple[list[str], str]:
    """One file per group of contigs ({contigs: name}, BCF or VCF.gz by name) and the files
    joined again by `bcftools concat`: (the parts, the concatenated VCF.gz)."""
    bcftools = need_tool("bcftools")
    paths = []
    for contigs, name in parts.items():
        path = str(Path(folder) / name)
        fmt = "b" if name.endswith(".bcf") else "z"
        subprocess.run([bcftools, "view", "-r", contigs, f"-O{fmt}", "-o", path, str(vcf)],
                       check=True)
        paths.append(path)
    joined = str(Path(folder) / "concat.vcf.gz")
    subprocess.run([bcftools, "concat", "-Oz", "-o", joined, *paths], check=True,
                   capture_output=True)
    return paths, joined


@pytest.fixture(scope="session")
def make_cohort(tmp_path_factory):
    """Factory: make_cohort(name, **SimConfig fields, bcf=False) -> dict of paths (cached)."""
    cache: dict[tuple, dict] = {}

    def make(name: str = "cohort", bcf: bool = False, **kwargs) -> dict:
        key = (name, bcf, tuple(sorted(kwargs.items())))
        if key not in cache:
            folder = tmp_path_factory.mktemp(name)
            cfg = cohort_config(**kwargs)
            cache[key] = write_cohort(cfg, str(folder / name), bcf=bcf)
        return cache[key]

    return make


@pytest.fixture(scope="session")
def cohort(make_cohort):
    """300 samples, 1500 sites, multi-allelic sites, indels, chrX/chrY, GT:AD:DP:GQ."""
    return make_cohort("cohort", n_samples=300, n_sites=1500, seed=7,
                       fields=("GT", "AD", "DP", "GQ"), many_allele_sites=3, bcf=True)


@pytest.fixture(scope="session")
def bam_cohort(make_cohort):
    """The cohort the simulated BAMs come from: 12 samples, 1500 sites, chrX/chrY."""
    return make_cohort("bamcohort", n_samples=12, n_sites=1500, seed=11)


@pytest.fixture(scope="session")
def make_bams(bam_cohort, tmp_path_factory):
    """Factory: make_bams(name, samples, swap=None, sexes=None, **BamSimConfig fields) ->
    SimulatedBams (cached). Defaults for speed: 12x over 150 kb per contig, level-1
    compression."""
    from genomekit.simulate_bam import BamSimConfig, simulate_bams

    cache: dict = {}

    def make(name, samples, swap=None, sexes=None, **kwargs):
        key = (name, tuple(samples), swap, tuple(sorted((sexes or {}).items())),
               tuple(sorted(kwargs.items())))
        if key not in cache:
            kwargs = {"depth": 12.0, "span": 150_000, "compress_level": 1, **kwargs}
            folder = tmp_path_factory.mktemp(name)
            cache[key] = simulate_bams(bam_cohort["vcf"], str(folder), list(samples),
                                       config=BamSimConfig(**kwargs), swap=swap, sexes=sexes)
        return cache[key]

    return make


def run_freq(input_path, tmp_path, name="out", **kwargs) -> pl.DataFrame:
    """Run freq through the command layer and return its table."""
    prefix = str(Path(tmp_path) / name)
    kwargs.setdefault("quiet", True)
    kwargs.setdefault("force", True)
    fmt = kwargs.get("fmt", "parquet")
    freq_command.run(str(input_path), prefix, **kwargs)
    if fmt == "tsv":
        return pl.read_csv(prefix + ".freq.tsv", separator="\t", null_values="NA",
                           infer_schema_length=None)
    return pl.read_parquet(prefix + ".freq.parquet")


def cli(*args, **kwargs) -> subprocess.CompletedProcess:
    """Run the genomekit command line in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "genomekit", *args], capture_output=True,
                          text=True, **kwargs)


def assert_one_error_line(tmp_path, args, code, text):
    """The command fails with exit ``code``, one 'genomekit: error:' line containing ``text``,
    no traceback, and no output named x* left in ``tmp_path`` ('{tmp}' in args is tmp_path)."""
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = cli(*args)
    assert r.returncode == code, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genomekit: error: ") and text in lines[0]
    assert "Traceback" not in r.stderr
    assert not [p for p in Path(tmp_path).iterdir() if p.name.startswith(("x", ".x"))]
