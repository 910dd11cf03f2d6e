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


def test_shards_and_merge_cli(cohort, tmp_path):
    import subprocess
    import sys

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "genomekit", *args], capture_output=True,
                              text=True)

    r = cli("shards", cohort["vcf"], "--size", "5000000", "-o", str(tmp_path / "plan.bed"))
    assert r.returncode == 0, r.stderr
    assert len((tmp_path / "plan.bed").read_text().splitlines()) == 4
    for c in ("chr1", "chr2"):
        r = cli("freq", cohort["vcf"], "-r", c, "-o", str(tmp_path / c), "-q")
        assert r.returncode == 0, r.stderr
    r = cli("merge", str(tmp_path / "chr1.freq.parquet"), str(tmp_path / "chr2.freq.parquet"),
            "-o", str(tmp_path / "m"))
    assert r.returncode == 0, r.stderr
    r = cli("merge", str(tmp_path / "chr2.freq.parquet"), str(tmp_path / "chr1.freq.parquet"),
            str(tmp_path / "chr2.freq.parquet"), "-o", str(tmp_path / "bad"))
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "appears again" in r.stderr


def test_sample_qc_shards_merge_to_whole(cohort, tmp_path):
    from genomekit.commands import sample_qc

    def qc(name, **kwargs):
        sample_qc.run(cohort["vcf"], str(tmp_path / name), pops_file=cohort["pops"],
                      quiet=True, **kwargs)
        return str(tmp_path / f"{name}.sample_qc.parquet")

    whole = pl.read_parquet(qc("whole"))
    parts = [qc(f"p{i}", region=r) for i, r in
             enumerate(["chr1", "chr2", "chrX:1-2800000", "chrX:2800001-", "chrY"])]
    merge.run(parts, str(tmp_path / "m"))
    merged = pl.read_parquet(tmp_path / "m.sample_qc.parquet")
    assert_frame_equal(whole, merged, check_exact=False, rel_tol=1e-12)
    assert merged["n_called"].sum() > 0
    with pytest.raises(InputError, match="samples or columns differ"):
        keep = tmp_path / "keep.txt"
        keep.write_text("\n".join(whole["sample"].to_list()[:50]) + "\n")
        sample_qc.run(cohort["vcf"], str(tmp_path / "sub"), samples_file=str(keep),
                      region="chr2", quiet=True)
        merge.run([parts[0], str(tmp_path / "sub.sample_qc.parquet")], str(tmp_path / "m2"))


def test_relate_tiles_merge_through_merge(cohort, tmp_path):
    from genomekit.commands import relate

    whole = tmp_path / "whole"
    relate.run(cohort["vcf"], str(whole), min_kinship=-1.0, quiet=True)
    tiles = []
    for i in (1, 2, 3):
        relate.run(cohort["vcf"], str(tmp_path / f"t{i}"), min_kinship=-1.0, tile=f"{i}/3",
                   quiet=True)
        tiles.append(str(tmp_path / f"t{i}.relate.parquet"))
    merge.run(tiles[::-1], str(tmp_path / "m"))
    a = pl.read_parquet(str(whole) + ".relate.parquet")
    b = pl.read_parquet(tmp_path / "m.relate.parquet")
    assert a.height == 300 * 299 // 2
    assert_frame_equal(a, b)


def _sheet_counts(path) -> dict:
    """Samples per population and sex of a pops TSV that lists every sample of the VCF."""
    import csv
    from collections import Counter

    with open(path, newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))[1:]
    sexes = Counter({"F": "XX", "M": "XY"}.get(r[2], "unknown") for r in rows)
    return {"total": len(rows), "sex": {s: sexes[s] for s in ("XX", "XY", "unknown")},
            "population": dict(Counter(r[1] for r in rows)), "no_population": 0}


def test_merge_keeps_the_shards_sample_counts(cohort, tmp_path):
    import json

    want = _sheet_counts(cohort["pops"])
    tables = []
    for c in ("chr1", "chr2", "chrX", "chrY"):
        run_freq(cohort["vcf"], tmp_path, c, region=c, pops_file=cohort["pops"])
        tables.append(str(tmp_path / f"{c}.freq.parquet"))
        assert json.loads((tmp_path / f"{c}.freq.json").read_text())["sample_counts"] == want
    summary = merge.run(tables, str(tmp_path / "m"))
    on_disk = json.loads((tmp_path / "m.freq.json").read_text())
    assert summary["sample_counts"] == on_disk["sample_counts"] == want
    # A shard whose summary does not count them (an older genomekit): nothing to carry over.
    meta = json.loads((tmp_path / "chr2.freq.json").read_text())
    del meta["sample_counts"]
    (tmp_path / "chr2.freq.json").write_text(json.dumps(meta))
    summary = merge.run(tables, str(tmp_path / "old"))
    assert "sample_counts" not in summary
    assert "sample_counts" not in json.loads((tmp_path / "old.freq.json").read_text())
    assert_frame_equal(pl.read_parquet(tmp_path / "m.freq.parquet"),
                       pl.read_parquet(tmp_path / "old.freq.parquet"))


def test_merge_refuses_shards_of_other_samples(cohort, tmp_path):
    from tests.conftest import assert_one_error_line

    names = [line.split("\t")[0] for line in open(cohort["pops"]).read().splitlines()[1:]]
    (tmp_path / "keep.txt").write_text("\n".join(names[:-3]) + "\n")
    run_freq(cohort["vcf"], tmp_path, "a", region="chr1", pops_file=cohort["pops"])
    run_freq(cohort["vcf"], tmp_path, "b", region="chr2", pops_file=cohort["pops"],
             samples_file=str(tmp_path / "keep.txt"))
    a, b = str(tmp_path / "a.freq.parquet"), str(tmp_path / "b.freq.parquet")
    # Same columns: only the sample counts tell the shards apart.
    assert pl.read_parquet(a).columns == pl.read_parquet(b).columns
    assert_one_error_line(tmp_path, ["merge", a, b, "-o", "{tmp}/x"], 1,
                          f"{b}: counts other samples per population or sex than {a} "
                          "(samples: 300 vs 297)")
