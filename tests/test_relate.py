"""`genomekit relate`: kernels against tests/naive.py, the table against plink2
--make-king-table, planted relatives, threads, tiles, the unrelated set, errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import cyvcf2
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from genomekit.commands import relate
from genomekit.genome import is_autosome
from genomekit.kernels import king as kk
from genomekit.simulate_pedigree import simulate_pedigree, write_pedigree
from genomekit.tables.relate import RELATE_SCHEMA, degree_labels
from tests import naive
from tests.conftest import (
    DATA,
    assert_one_error_line,
    cli,
    need_tool,
    random_biallelic_genotypes,
    split_by_contig,
)

EDGE = DATA / "edge_cases.vcf"
ALL = -math.inf  # --min-kinship that reports every pair with a defined kinship


def read_table(prefix, fmt="parquet") -> pl.DataFrame:
    if fmt == "tsv":
        return pl.read_csv(f"{prefix}.relate.tsv", separator="\t", null_values="NA",
                           schema=RELATE_SCHEMA)
    return pl.read_parquet(f"{prefix}.relate.parquet")


def run_relate(vcf, tmp_path, name="out", **kwargs) -> tuple[pl.DataFrame, dict]:
    """Run relate through the command layer; return its table and summary."""
    prefix = str(Path(tmp_path) / name)
    kwargs.setdefault("quiet", True)
    kwargs.setdefault("force", True)
    summary = relate.run([str(v) for v in vcf] if isinstance(vcf, list) else str(vcf), prefix,
                         **kwargs)
    return read_table(prefix, kwargs.get("fmt", "parquet")), summary


@pytest.fixture(scope="session")
def pedigree(tmp_path_factory):
    """117 samples: 100 founders, 3 duplicates, 6 families of 2 children, 2 grandchildren;
    2000 sites on chr1-chr3 (about 5% multi-allelic)."""
    folder = tmp_path_factory.mktemp("pedigree")
    return write_pedigree(simulate_pedigree(100, 2000, seed=5), str(folder / "ped"))


# Kernels against the plain-Python reference.

def packed_counts(gt, splits, row_block, col_block):
    """All pair counts via _PackedMatrix (appended in pieces) and king_tile in tiles."""
    matrix = relate._PackedMatrix(gt.shape[1])
    bounds = [0, *splits, gt.shape[0]]
    for a, b in zip(bounds[:-1], bounds[1:]):
        matrix.append(gt, np.arange(a, b, dtype=np.int64))
    packed = matrix.finish()
    n = gt.shape[1]
    got = {}
    for r0 in range(0, n, row_block):
        r1 = min(r0 + row_block, n)
        for c0 in range(0, n, col_block):
            c1 = min(c0 + col_block, n)
            counts = kk.king_tile(packed, r0, r1, c0, c1)
            kin = kk.kinship(counts)
            for r in range(r0, r1):
                for c in range(c0, c1):
                    if c < r:
                        got[(r, c)] = (tuple(int(x) for x in counts[:, r - r0, c - c0]),
                                       kin[r - r0, c - c0])
                    else:
                        assert not counts[:, r - r0, c - c0].any()
    return got, matrix.n_called


@pytest.mark.parametrize("seed,n_var,n_smp,splits,blocks", [
    (0, 150, 23, [70], (5, 7)),
    (1, 64, 9, [], (9, 9)),
    (2, 200, 31, [1, 63, 129], (4, 16)),
    (3, 3, 5, [1], (2, 3)),
])
def test_king_kernels_match_naive(seed, n_var, n_smp, splits, blocks):
    rng = np.random.default_rng(seed)
    gt = random_biallelic_genotypes(rng, n_var, n_smp)
    got, n_called = packed_counts(gt, splits, *blocks)
    want = naive.king_counts(gt.tolist())
    assert set(got) == set(want)
    for pair, (counts, kin) in got.items():
        assert counts == want[pair], pair
        ref = naive.king_kinship(*want[pair][1:])
        assert (math.isnan(kin) and math.isnan(ref)) or kin == pytest.approx(ref, abs=1e-12)
    calls = [[naive.diploid_dosage(c) for c in row] for row in gt.tolist()]
    assert n_called.tolist() == [sum(row[s] is not None for row in calls) for s in range(n_smp)]


def test_diploid_counts_match_naive():
    rng = np.random.default_rng(4)
    gt = random_biallelic_genotypes(rng, 40, 17)
    variants = np.array([0, 5, 6, 39, 12], np.int64)
    n_called, n_alt, bad = kk.diploid_counts(gt, variants)
    want = naive.diploid_counts(gt[variants].tolist())
    assert list(zip(n_called.tolist(), n_alt.tolist())) == want
    assert bad.tolist() == [-1, -1]
    gt[6, 3, 1] = 2  # an allele a biallelic record does not have
    assert kk.diploid_counts(gt, variants)[2].tolist() == [6, 3]


def test_autosomes():
    assert all(map(is_autosome, ["1", "chr1", "chr22", "CHR7", "chr01"]))
    assert not any(map(is_autosome, ["chr0", "chr23", "26", "chrX", "Y", "chrM", "MT",
                                            "chrUn_KI270302v1", "chr1_KI270706v1_random"]))


def test_degree_labels():
    kin = np.array([0.5, 0.354, 0.3539, 0.177, 0.1, 0.0884, 0.05, 0.0442, 0.0441, -0.3])
    assert degree_labels(kin).tolist() == [
        "duplicate", "duplicate", "first", "first", "second", "second", "third", "third",
        "unrelated", "unrelated"]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 400), st.integers(1, 25))
def test_tile_rows_cover_and_balance(n, count):
    bounds = [relate.tile_rows(n, i, count) for i in range(1, count + 1)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds[:-1], bounds[1:]))
    pairs = [(hi * (hi - 1) - lo * (lo - 1)) // 2 for lo, hi in bounds]
    # Whole rows only: a tile is off its share by less than one row (n - 1 pairs).
    share = n * (n - 1) / 2 / count
    assert all(abs(p - share) <= max(n - 1, 0) for p in pairs)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 30).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60),
    st.lists(st.integers(0, 100), min_size=n, max_size=n))))
def test_select_unrelated_is_independent_and_maximal(case):
    n, edges, n_called = case
    idx1 = np.array([a for a, _ in edges], np.int64)
    idx2 = np.array([b for _, b in edges], np.int64)
    keep = relate.select_unrelated(n, idx1, idx2, np.array(n_called))
    kept = set(keep)
    related = {frozenset(e) for e in edges if e[0] != e[1]}
    assert not any(e <= kept for e in related)
    for s in set(range(n)) - kept:
        assert any(frozenset((s, k)) in related for k in kept), s


def test_select_unrelated_prefers_fewer_relatives_then_more_calls():
    # A parent (0) with three children (1, 2, 3): dropping the parent keeps three samples.
    keep = relate.select_unrelated(4, np.array([1, 2, 3]), np.array([0, 0, 0]),
                                   np.array([10, 10, 10, 10]))
    assert keep == [1, 2, 3]
    # A duplicate pair: the copy with more calls stays.
    assert relate.select_unrelated(2, np.array([1]), np.array([0]), np.array([5, 9])) == [1]
    assert relate.select_unrelated(2, np.array([1]), np.array([0]), np.array([9, 9])) == [0]


# End to end.

def reference_rows(path, maf, samples=None):
    """The relate table at --min-kinship -inf, record by record with cyvcf2 + tests/naive.py."""
    vcf = cyvcf2.VCF(str(path), samples=samples)
    names = list(vcf.samples)
    kept = []
    for rec in vcf:
        name = rec.CHROM.removeprefix("chr")
        if not (name.isdigit() and 1 <= int(name) <= 22) or len(rec.ALT) != 1:
            continue
        gt = rec.genotype.array()[:, :-1].tolist()
        n_called, n_alt = naive.diploid_counts([gt])[0]
        minor = min(n_alt, 2 * n_called - n_alt)
        if maf == 0 or (n_called and minor / (2 * n_called) >= maf * (1 - 2.0 ** -44)):
            kept.append(gt)
    rows = []
    for (r, c), (nsnp, hethet, ibs0, het1, het2) in sorted(naive.king_counts(kept).items()):
        kin = naive.king_kinship(hethet, ibs0, het1, het2)
        if not math.isnan(kin):
            rows.append({"IID1": names[r], "IID2": names[c], "NSNP": nsnp, "HETHET": hethet,
                         "IBS0": ibs0, "KINSHIP": kin})
    return rows, len(kept)


def assert_matches_reference(df, rows):
    assert df.height == len(rows)
    for got, want in zip(df.to_dicts(), rows):
        for key, value in want.items():
            if key == "KINSHIP":
                assert got[key] == pytest.approx(value, abs=1e-12), (got, want)
            else:
                assert got[key] == value, (got, want)


@pytest.mark.parametrize("maf", [0.0, 0.1])
def test_small_cohort_matches_reference(make_cohort, tmp_path, maf):
    # chrX/chrY, multi-allelic records, half calls and haploid male calls are all skipped
    # or missing as documented.
    cohort = make_cohort("relsmall", n_samples=40, n_sites=300, seed=11, half_call_rate=0.02)
    df, summary = run_relate(cohort["vcf"], tmp_path, min_kinship=ALL, maf=maf)
    rows, n_kept = reference_rows(cohort["vcf"], maf)
    assert summary["n_variants"] == n_kept > 0
    assert_matches_reference(df, rows)
    skipped = summary["variants_skipped"]
    assert skipped["non_autosomal"] > 0 and skipped["not_biallelic"] > 0
    assert (skipped["below_maf"] > 0) == (maf > 0)
    assert summary["n_records"] == 300 == n_kept + sum(skipped.values())


def test_edge_cases_match_reference(tmp_path):
    df, summary = run_relate(EDGE, tmp_path, min_kinship=ALL, maf=0.0)
    rows, n_kept = reference_rows(EDGE, 0.0)
    assert summary["n_variants"] == n_kept == 3  # 'half', 'phased', 'mixed'
    assert_matches_reference(df, rows)
    assert summary["n_pairs"] == 10
    assert summary["n_pairs_undefined"] == 10 - df.height


def run_plink2_king(vcf, out: Path, maf: float) -> pl.DataFrame:
    exe = need_tool("plink2")
    cmd = [exe, "--vcf", vcf, "--max-alleles", "2", "--maf", str(maf), "--vcf-half-call",
           "missing", "--make-king-table", "counts", "--threads", "1", "--memory", "1024",
           "--out", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    return pl.read_csv(f"{out}.kin0", separator="\t", infer_schema=False).rename(
        {"#IID1": "IID1"})


def test_matches_plink2(pedigree, tmp_path):
    df, summary = run_relate(pedigree["vcf"], tmp_path, min_kinship=ALL)
    p = run_plink2_king(pedigree["vcf"], tmp_path / "plink", 0.01)
    kin = p["KINSHIP"].cast(pl.Float64)
    defined = kin.is_finite()
    assert summary["n_pairs"] == p.height
    assert summary["n_pairs_undefined"] == (~defined).sum()
    p = p.filter(defined)
    # Same pairs in the same order (IID1 the later sample), same counts.
    assert df["IID1"].to_list() == p["IID1"].to_list()
    assert df["IID2"].to_list() == p["IID2"].to_list()
    for col in ("NSNP", "HETHET", "IBS0"):
        assert df[col].to_list() == p[col].cast(pl.Int64).to_list(), col
    # plink2 prints 6 significant digits.
    diff = (df["KINSHIP"] - p["KINSHIP"].cast(pl.Float64)).abs().max()
    assert diff < 1e-6


def test_planted_relatives_get_their_degree(pedigree, tmp_path):
    df, summary = run_relate(pedigree["vcf"], tmp_path)
    truth = pl.read_csv(pedigree["pairs"], separator="\t")
    found = {frozenset((r["IID1"], r["IID2"])): r for r in df.to_dicts()}
    for p in truth.to_dicts():
        row = found.get(frozenset((p["sample1"], p["sample2"])))
        assert row is not None, p
        if p["degree"] == "second":
            # 2000 unlinked sites: second-degree estimates scatter across the 3rd/2nd bound.
            assert row["degree"] in ("second", "third"), (p, row)
        else:
            assert row["degree"] == p["degree"], (p, row)
    planted = {frozenset((p["sample1"], p["sample2"])) for p in truth.to_dicts()}
    close = [k for k, r in found.items() if r["degree"] in ("duplicate", "first")]
    assert all(k in planted for k in close)
    assert summary["degrees"]["duplicate"] == 3
    assert sum(summary["degrees"].values()) == df.height == summary["n_pairs_reported"]
    assert (df["KINSHIP"] >= 0.0442).all()


def test_threads_chunks_and_blocks_do_not_change_results(pedigree, tmp_path, monkeypatch):
    base, s1 = run_relate(pedigree["vcf"], tmp_path, "t1", min_kinship=-0.05, threads=1)
    other, s2 = run_relate(pedigree["vcf"], tmp_path, "t2", min_kinship=-0.05, threads=2,
                           chunk_variants=37)
    assert_frame_equal(base, other)
    monkeypatch.setattr(relate, "ROW_BLOCK", 7)
    monkeypatch.setattr(relate, "COL_BLOCK", 11)
    small, s3 = run_relate(pedigree["vcf"], tmp_path, "t3", min_kinship=-0.05, threads=2)
    assert_frame_equal(base, small)
    assert base.height > 1000
    for key in ("n_variants", "n_pairs", "n_pairs_reported", "degrees", "sample_n_called"):
        assert s1[key] == s2[key] == s3[key]


@pytest.mark.parametrize("options", [{}, {"threads": 2, "chunk_variants": 37}])
def test_per_chromosome_files_equal_their_concatenation(pedigree, tmp_path, options):
    """Several files are read as the file `bcftools concat` makes of them (BCF and VCF.gz
    parts: both decoders), chunks spanning two files included."""
    parts, joined = split_by_contig(pedigree["vcf"], tmp_path, {
        "chr1": "p1.bcf", "chr2": "p2.vcf.gz", "chr3": "p3.bcf"})
    a, sa = run_relate(parts, tmp_path, "parts", min_kinship=-0.05, unrelated=True, **options)
    b, sb = run_relate(joined, tmp_path, "joined", min_kinship=-0.05, unrelated=True, **options)
    assert_frame_equal(a, b, check_exact=True)
    assert a.height > 1000
    for key in ("n_records", "n_variants", "variants_skipped", "degrees", "sample_n_called",
                "n_unrelated"):
        assert sa[key] == sb[key], key
    assert sa["n_records"] == 2000
    assert ((tmp_path / "parts.unrelated.txt").read_text()
            == (tmp_path / "joined.unrelated.txt").read_text())
    assert [i["path"] for i in sa["inputs"]] == [str(Path(p).resolve()) for p in parts]


def test_files_with_other_samples_are_refused(pedigree, tmp_path):
    """Each file must list the samples of the first in its order: one line naming the file
    and the first difference."""
    bcftools = need_tool("bcftools")
    parts, _ = split_by_contig(pedigree["vcf"], tmp_path, {"chr1": "p1.bcf", "chr2": "p2.bcf"})
    samples = list(cyvcf2.VCF(parts[1]).samples)
    edits = {"fewer.bcf": ["-s", f"^{samples[4]}"],
             "swapped.bcf": ["-s", ",".join([samples[1], samples[0], *samples[2:]])]}
    for name, args in edits.items():
        subprocess.run([bcftools, "view", *args, "-Ob", "-o", str(tmp_path / name), parts[1]],
                       check=True)
    assert_one_error_line(tmp_path, ["relate", parts[0], str(tmp_path / "fewer.bcf"), "-o",
                                     "{tmp}/x"], 1,
                          f"fewer.bcf: has {len(samples) - 1} samples, and {parts[0]} has "
                          f"{len(samples)}: sample 5 is '{samples[5]}' here and '{samples[4]}'")
    assert_one_error_line(tmp_path, ["relate", parts[0], str(tmp_path / "swapped.bcf"), "-o",
                                     "{tmp}/x"], 1,
                          f"swapped.bcf: has the samples of {parts[0]} in another order: "
                          f"sample 1 is '{samples[1]}' here and '{samples[0]}' there")


@pytest.mark.parametrize("count", [3, 7])
def test_tiles_concatenate_to_whole(pedigree, tmp_path, count):
    whole, summary = run_relate(pedigree["vcf"], tmp_path, "whole", min_kinship=0.0,
                                unrelated=True)
    tiles = [run_relate(pedigree["vcf"], tmp_path, f"tile{i}", min_kinship=0.0,
                        tile=f"{i}/{count}")[0] for i in range(1, count + 1)]
    assert all(t.height > 0 for t in tiles)
    assert_frame_equal(whole, pl.concat(tiles))
    # merge(): any order of the prefixes, the untiled outputs.
    prefixes = [str(tmp_path / f"tile{i}") for i in range(count, 0, -1)]
    merged = relate.merge(prefixes, str(tmp_path / "merged"), unrelated=True)
    assert_frame_equal(whole, read_table(tmp_path / "merged"))
    assert ((tmp_path / "merged.unrelated.txt").read_text()
            == (tmp_path / "whole.unrelated.txt").read_text())
    for key in ("n_pairs", "n_pairs_reported", "degrees", "n_unrelated"):
        assert merged[key] == summary[key]


def test_merge_refuses_incomplete_or_mixed_tiles(pedigree, tmp_path):
    from genomekit.errors import InputError, UsageError

    for i in (1, 2):
        run_relate(pedigree["vcf"], tmp_path, f"a{i}", tile=f"{i}/2")
    run_relate(pedigree["vcf"], tmp_path, "b2", tile="2/2", maf=0.05)
    with pytest.raises(UsageError, match="missing"):
        relate.merge([str(tmp_path / "a1")], str(tmp_path / "m"))
    with pytest.raises(InputError, match="not from the same run"):
        relate.merge([str(tmp_path / "a1"), str(tmp_path / "b2")], str(tmp_path / "m"))
    run_relate(pedigree["vcf"], tmp_path, "whole")
    with pytest.raises(InputError, match="--tile"):
        relate.merge([str(tmp_path / "whole")], str(tmp_path / "m"))
    assert not list(tmp_path.glob("m.*"))


def test_unrelated_set_is_unrelated_and_maximal(pedigree, tmp_path):
    df, summary = run_relate(pedigree["vcf"], tmp_path, unrelated=True)
    kept = (tmp_path / "out.unrelated.txt").read_text().split()
    assert len(kept) == summary["n_unrelated"]
    samples = list(cyvcf2.VCF(pedigree["vcf"]).samples)
    assert kept == [s for s in samples if s in set(kept)]  # VCF order
    pairs = {frozenset(p) for p in df.select("IID1", "IID2").iter_rows()}
    assert not any(p <= set(kept) for p in pairs)
    for s in set(samples) - set(kept):
        assert any(frozenset((s, k)) in pairs for k in kept), s
    # Each duplicate pair keeps one of the two.
    dups = df.filter(pl.col("degree") == "duplicate")
    assert all(len({a, b} & set(kept)) == 1 for a, b in dups.select("IID1", "IID2").iter_rows())


def test_sample_selection(pedigree, tmp_path):
    samples = list(cyvcf2.VCF(pedigree["vcf"]).samples)
    withdrawn = samples[::5]
    (tmp_path / "withdrawn.txt").write_text("\n".join(withdrawn) + "\n")
    (tmp_path / "keep.txt").write_text("\n".join(s for s in samples if s not in withdrawn))
    a, sa = run_relate(pedigree["vcf"], tmp_path, "a", min_kinship=ALL,
                       exclude_samples_file=str(tmp_path / "withdrawn.txt"))
    b, _ = run_relate(pedigree["vcf"], tmp_path, "b", min_kinship=ALL,
                      samples_file=str(tmp_path / "keep.txt"))
    assert_frame_equal(a, b)
    assert sa["n_samples"] == len(samples) - len(withdrawn)
    assert not set(withdrawn) & (set(a["IID1"]) | set(a["IID2"]))


def test_region_restricts_variants(pedigree, tmp_path):
    df, summary = run_relate(pedigree["vcf"], tmp_path, "r", region="chr2", min_kinship=ALL)
    n_chr2 = sum(1 for rec in cyvcf2.VCF(pedigree["vcf"]) if rec.CHROM == "chr2")
    assert summary["n_records"] == n_chr2
    whole, _ = run_relate(pedigree["vcf"], tmp_path, "w", min_kinship=ALL)
    assert (df["NSNP"] < whole["NSNP"]).all()


def test_tsv_equals_parquet(pedigree, tmp_path):
    a, _ = run_relate(pedigree["vcf"], tmp_path, "a")
    b, _ = run_relate(pedigree["vcf"], tmp_path, "b", fmt="tsv")
    assert_frame_equal(a, b, check_exact=False, rel_tol=1e-15)


@pytest.mark.parametrize("name", ["sites_only.vcf", "header_only.vcf"])
def test_no_genotypes(tmp_path, name, capsys):
    df, summary = run_relate(DATA / name, tmp_path, quiet=False, unrelated=True)
    assert df.height == 0 and list(df.columns) == list(RELATE_SCHEMA)
    assert summary["n_variants"] == 0
    assert "no autosomal biallelic variant" in capsys.readouterr().err
    n = summary["n_samples"]
    assert len((tmp_path / "out.unrelated.txt").read_text().split()) == n


def test_summary_json(pedigree, tmp_path):
    _, summary = run_relate(pedigree["vcf"], tmp_path, "s", tile="2/3")
    on_disk = json.loads((tmp_path / "s.relate.json").read_text())
    assert on_disk["tile"] == {"index": 2, "count": 3, "rows": list(relate.tile_rows(117, 2, 3))}
    assert on_disk["n_samples"] == 117 and on_disk["n_records"] == 2000
    assert on_disk["packed_bytes"] == 117 * 16 * -(-on_disk["n_variants"] // 64)
    assert len(on_disk["sample_n_called"]) == 117
    assert on_disk["version"] and on_disk["elapsed_seconds"] >= 0



def test_cli_subprocess_run(pedigree, tmp_path):
    out = tmp_path / "c"
    r = cli("relate", pedigree["vcf"], "--out", str(out), "--threads", "2", "--format", "tsv",
            "--unrelated")
    assert r.returncode == 0, r.stderr
    assert "pairs reported" in r.stderr
    for suffix in (".relate.tsv", ".relate.json", ".unrelated.txt"):
        assert (tmp_path / f"c{suffix}").exists()
    r = cli("relate", pedigree["vcf"], "--out", str(out), "--format", "tsv")
    assert r.returncode == 2 and "exists" in r.stderr and "--force" in r.stderr


def test_help_compiles_nothing():
    code = ("import sys; from genomekit.cli import cli; from click.testing import CliRunner; "
            "r = CliRunner().invoke(cli, ['relate', '--help']); "
            "print(r.exit_code, 'numba' in sys.modules, '--min-kinship' in r.output)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.split() == ["0", "False", "True"]


@pytest.mark.parametrize("args,code,text", [
    (["relate", "/no/such.vcf", "-o", "x"], 1, "no such file"),
    (["relate", str(EDGE), "-o", "{tmp}/x", "--tile", "4/3"], 2, "--tile"),
    (["relate", str(EDGE), "-o", "{tmp}/x", "--tile", "two"], 2, "--tile"),
    (["relate", str(EDGE), "-o", "{tmp}/x", "--tile", "1/2", "--unrelated"], 2, "--unrelated"),
    (["relate", str(EDGE), "-o", "{tmp}/x", "--maf", "0.7"], 2, "--maf"),
    (["relate", str(EDGE), "-o", "{tmp}/x", "--min-kinship", "nan"], 2, "--min-kinship"),
    (["relate", str(EDGE), "-o", "{tmp}/x", "--threads", "0"], 2, "--threads"),
    (["relate", str(EDGE), "-o", "{tmp}/x", "-r", "chr1:1-100"], 1, "need an index"),
    (["relate", str(EDGE), "-o", "{tmp}/nodir/x"], 2, "does not exist"),
    (["relate", str(EDGE)], 2, "Missing option"),
])
def test_cli_errors_are_one_line(tmp_path, args, code, text):
    assert_one_error_line(tmp_path, args, code, text)


def test_allele_beyond_alt_is_an_error_with_location(tmp_path):
    bad = tmp_path / "bad.vcf"
    bad.write_text(EDGE.read_text().replace("0|1\t1|1\t0|0", "0|1\t1|2\t0|0", 1))
    r = cli("relate", str(bad), "-o", str(tmp_path / "o"))
    assert r.returncode == 1
    assert "bad.vcf:chr1:200" in r.stderr and "allele" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.vcf"]
    # The second of two files, in a chunk that holds records of both: the file is named.
    good = tmp_path / "good.vcf"
    good.write_text(EDGE.read_text())
    r = cli("relate", str(good), str(bad), "-o", str(tmp_path / "o"))
    assert r.returncode == 1
    assert f"{bad}:chr1:200" in r.stderr and "allele" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.vcf", "good.vcf"]
