"""Shard plans and `merge`: shard runs merge to exactly the whole-file run."""

from __future__ import annotations

import shutil

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from genomekit.commands import merge, shards
from genomekit.errors import InputError, UsageError
from tests.conftest import DATA, run_freq


def test_shards_merge_to_whole(cohort, tmp_path):
    plan = shards.run(cohort["vcf"], str(tmp_path / "plan.bed"), size=200_000)
    assert 8 < len(plan) < 60 and {r.chrom for r in plan} == {"chr1", "chr2", "chrX", "chrY"}
    whole = run_freq(cohort["vcf"], tmp_path, "whole", pops_file=cohort["pops"])
    tables = []
    for i, region in enumerate(plan):
        bed = tmp_path / f"s{i}.bed"
        bed.write_text(f"{region.chrom}\t{region.start - 1}\t{region.end or 2**31 - 1}\n")
        run_freq(cohort["vcf"], tmp_path, f"s{i}", pops_file=cohort["pops"],
                 regions_file=str(bed))
        tables.append(str(tmp_path / f"s{i}.freq.parquet"))
    summary = merge.run(tables, str(tmp_path / "merged"))
    merged = pl.read_parquet(tmp_path / "merged.freq.parquet")
    assert_frame_equal(whole, merged)
    assert summary["n_sites"] == 1500 and summary["n_alleles"] == whole.height


def test_plan_bed_reads_back(cohort, tmp_path):
    from genomekit.io.vcf import read_bed

    plan = shards.run(cohort["vcf"], str(tmp_path / "plan.bed"), size=10_000_000)
    assert len(plan) == 4  # every contig is shorter than 10 Mb
    # Adjacent shards merge back into one region per contig, from 1 to the open end.
    back = read_bed(str(tmp_path / "plan.bed"))
    assert [(r.chrom, r.start, r.end) for r in back] == [
        (c, 1, 2**31 - 1) for c in ("chr1", "chr2", "chrX", "chrY")]


def test_plan_needs_index_and_size(tmp_path):
    with pytest.raises(InputError, match="needs an index"):
        shards.plan(str(DATA / "edge_cases.vcf"), 1000)
    with pytest.raises(UsageError):
        shards.run(str(DATA / "edge_cases.vcf"), str(tmp_path / "x.bed"), size=0)


def test_merge_refuses_overlaps_and_disorder(cohort, tmp_path):
    a = run_freq(cohort["vcf"], tmp_path, "a", region="chr1:1-200000")
    b = run_freq(cohort["vcf"], tmp_path, "b", region="chr1:150000-")
    assert a.height and b.height
    pa, pb = str(tmp_path / "a.freq.parquet"), str(tmp_path / "b.freq.parquet")
    with pytest.raises(InputError, match="overlap"):
        merge.run([pa, pb], str(tmp_path / "m1"))
    run_freq(cohort["vcf"], tmp_path, "c", region="chr2")
    pc = str(tmp_path / "c.freq.parquet")
    with pytest.raises(InputError, match="appears again"):
        merge.run([pa, pc, pb], str(tmp_path / "m2"))
    assert not list(tmp_path.glob("m*"))  # nothing left behind
    run_freq(cohort["vcf"], tmp_path, "p", region="chr1", pops_file=cohort["pops"])
    with pytest.raises(InputError, match="columns differ"):
        merge.run([pc, str(tmp_path / "p.freq.parquet")], str(tmp_path / "m3"))


def test_merge_tsv_and_unknown_kind(cohort, tmp_path):
    run_freq(cohort["vcf"], tmp_path, "a", region="chr1", fmt="tsv")
    run_freq(cohort["vcf"], tmp_path, "b", region="chr2", fmt="tsv")
    merge.run([str(tmp_path / "a.freq.tsv"), str(tmp_path / "b.freq.tsv")],
              str(tmp_path / "m"), fmt="tsv")
    whole = run_freq(cohort["vcf"], tmp_path, "w", regions_file=None)
    merged = pl.read_csv(tmp_path / "m.freq.tsv", separator="\t", null_values="NA",
                         infer_schema_length=None)
    assert merged.height == whole.filter(pl.col("CHROM").is_in(["chr1", "chr2"])).height
    shutil.copy(tmp_path / "a.freq.tsv", tmp_path / "a.txt")
    with pytest.raises(UsageError, match="cannot tell"):
        merge.run([str(tmp_path / "a.txt")], str(tmp_path / "m4"))
