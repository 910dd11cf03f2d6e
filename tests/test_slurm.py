"""The workflow through the SLURM profile, on a real single-node SLURM cluster started here.

workflows/ci/slurm.sh starts munged, slurmctld and slurmd (installing them with apt-get
when missing) and stops them afterwards by their PID files. It needs root or passwordless
sudo and a machine without a SLURM cluster of its own: elsewhere the test is skipped, but
never in CI (CI=true), where it fails instead. Every snakemake run is bounded by
`timeout -s KILL`: snakemake does not always stop on SIGTERM while it waits for jobs.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import ROOT
from tests.test_workflow import (
    FREQ_FILTERS,
    RELEASE,
    assert_results_equal,
    env,
    need_snakemake,
    simulate,
    simulate_bams,
    snakemake,
    whole_file_runs,
    write_config,
    write_sheet,
    yaml,
)

SLURM_SH = ROOT / "workflows/ci/slurm.sh"
CANNOT_RUN_HERE = 3  # slurm.sh's exit status for: no root, no apt-get, a real cluster


def slurm_sh(action: str, state: Path, timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(["timeout", "-s", "KILL", str(timeout), "bash", str(SLURM_SH), action],
                          env={**env(), "GENOMEKIT_SLURM_DIR": str(state)}, text=True,
                          capture_output=True, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    need_snakemake()
    state = tmp_path_factory.mktemp("slurm-state")
    up = slurm_sh("up", state, timeout=600)
    if up.returncode == CANNOT_RUN_HERE:
        message = f"cannot start a SLURM test cluster here: {up.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if up.returncode != 0:
        slurm_sh("down", state, timeout=120)
        pytest.fail(f"slurm.sh up failed ({up.returncode}):\n{up.stdout}\n{up.stderr}")
    yield {"partition": "ci", "state": state}
    down = slurm_sh("down", state, timeout=120)
    assert down.returncode == 0, down.stderr


def ci_profile(folder: Path, partition: str) -> Path:
    """workflows/profiles/slurm as a site would fill it in, for the test cluster.

    Only the site's own values change: account and partition; squeue for job status (the
    test cluster has no accounting database, so sacct cannot answer; MinJobAge=600 keeps
    finished jobs visible to squeue); quick status checks; one thread per job so that two
    jobs share the 2-core node.
    """
    profile = yaml.safe_load((ROOT / "workflows/profiles/slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert set(profile["default-resources"]) == {"slurm_account", "slurm_partition"}
    profile["default-resources"] = {"slurm_account": "genomekit-ci",
                                    "slurm_partition": partition}
    profile["slurm-status-command"] = "squeue"
    profile["slurm-init-seconds-before-status-checks"] = 2
    profile["seconds-between-status-checks"] = 1
    profile["set-threads"] = {rule: 1 for rule in
                              ("freq_shard", "sample_qc_shard", "relate_tile", "pca",
                               "pca_project")}
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return folder


def job_states(run_id: str, wait: float = 60.0) -> list[str]:
    """States of the run's jobs, once none is still finishing (COMPLETING) or pending."""
    deadline = time.monotonic() + wait
    while True:
        states = subprocess.run(["squeue", "--states=all", "-h", "-n", run_id, "-o", "%T"],
                                capture_output=True, text=True, check=True).stdout.split()
        if not {"COMPLETING", "PENDING", "RUNNING"} & set(states) or time.monotonic() > deadline:
            return states
        time.sleep(1)


def test_demo_workflow_on_slurm(slurm_cluster, tmp_path):
    work = tmp_path
    cohort = simulate(work / "data", samples=200, sites=3000, seed=2)
    # As in `make demo`: BAMs for a few samples (two of them swapped) and the release.
    names = [line.split("\t")[0] for line in Path(cohort["pops"]).read_text().splitlines()[1:]]
    with_bams = names[:3]
    bams = simulate_bams(work, cohort, with_bams, (names[0], names[2]))
    withdrawn = write_sheet(cohort["pops"], work / "data/samples.tsv", every=20, bams=bams)
    assert not set(with_bams) & set(withdrawn)
    config = write_config(work / "config.yaml", vcf="data/cohort.vcf.gz",
                          samples="data/samples.tsv", out="results", shard_size=5_000_000,
                          freq=FREQ_FILTERS, relate={"tiles": 2},
                          bam_qc={"by": "bams/spans.bed"}, fingerprint={"maf": 0.1},
                          release=RELEASE)
    profile = ci_profile(work / "profile", slurm_cluster["partition"])
    proc = snakemake(work, "--profile", str(profile), "--configfile", str(config),
                     timeout=900)
    log = proc.stdout + proc.stderr
    assert "SLURM run ID" in log

    # The jobs went through SLURM: every one is still listed (MinJobAge), all completed.
    run_id = log.split("SLURM run ID: ", 1)[1].split()[0]
    jobs = job_states(run_id)
    n_shards = len((work / "results/shards/cohort/plan.bed").read_text().splitlines())
    assert n_shards == 4  # one per contig: the local tests cut contigs into several
    # freq and sample-qc per shard, their two merges, two relate tiles and their merge,
    # pca, its projection and the report; bam-qc per BAM and its gather, fingerprint and
    # release; sample_lists, shard_plan and bam_manifest are local rules (light work, on
    # the submitting host).
    assert jobs == ["COMPLETED"] * (2 * n_shards + 2 + 2 + 1 + 3 + len(with_bams) + 1 + 1 + 1)
    identity = pl.read_parquet(next((work / "results").rglob("*.fingerprint.parquet")))
    swapped = identity.filter(pl.col("swap"))
    assert sorted(swapped["declared_sample"].to_list()) == sorted([names[0], names[2]])
    assert list((work / "results").rglob("*.release.parquet"))

    excluded = work / "excluded.txt"
    excluded.write_text("".join(f"{s}\n" for s in withdrawn))
    whole = whole_file_runs(cohort["vcf"], cohort["pops"], excluded, work)
    assert_results_equal(work / "results", whole)
