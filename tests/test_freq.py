"""`genomekit freq` end to end: numbers against a plain-Python reference, options, outputs."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import cyvcf2
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from genomekit.genome import site_classes
from genomekit.io.samples import read_pops
from tests import naive
from tests.conftest import DATA, assert_one_error_line, cli, run_freq

EDGE = DATA / "edge_cases.vcf"
EDGE_POPS = DATA / "edge_cases.pops.tsv"


def reference_table(path, pops_path=None, build="GRCh38", samples=None):
    """The freq table computed record by record with cyvcf2 and tests/naive.py."""
    vcf = cyvcf2.VCF(str(path), samples=samples)
    names = list(vcf.samples)
    sheet = read_pops(str(pops_path)) if pops_path else None
    pops = sheet.populations if sheet else ()
    sex = [sheet.sex.get(s, 0) if sheet else 0 for s in names]
    group = [pops.index(sheet.population[s]) if sheet and s in sheet.population else -1
             for s in names]
    rows = []
    for rec in vcf:
        na = len(rec.ALT) + 1
        gt = rec.genotype.array()[:, :-1].tolist() if names else []
        cls = site_classes(rec.CHROM, np.array([rec.POS]), build)[0]
        r = naive.count_alleles([gt], [na], [cls], sex, group, len(pops))[0]
        for a in range(1, na):
            p, exc = naive.hwe_exact(r["hwe_het"][a], r["hwe_hom"][a], r["n_diploid"])
            row = {
                "CHROM": rec.CHROM, "POS": rec.POS, "allele_index": a, "AC": r["ac"][a],
                "AN": r["an"], "n_called": r["n_called"], "n_missing": r["n_missing"],
                "n_het": r["ac_het"][a], "nhomalt": r["nhom"][a], "AC_Hom": r["ac_hom"][a],
                "n_hemi_alt": r["ac_hemi"][a], "n_male_het": r["n_male_het"],
                "AC_XY": r["ac_sex"][0][a], "AN_XY": r["an_sex"][0],
                "AC_XX": r["ac_sex"][1][a], "AN_XX": r["an_sex"][1],
                "HWE": p, "ExcHet": exc,
                "F_MISSING": r["n_missing"] / r["n_eligible"] if r["n_eligible"] else None,
                "AF": r["ac"][a] / r["an"] if r["an"] else None,
            }
            for g, pop in enumerate(pops):
                row[f"AC_{pop}"] = r["ac_grp"][g][a]
                row[f"AN_{pop}"] = r["an_grp"][g]
                row[f"nhomalt_{pop}"] = r["nhom_grp"][g][a]
            rows.append(row)
    return rows


def assert_matches_reference(df, ref):
    assert df.height == len(ref) > 0
    got = df.to_dicts()
    for g, r in zip(got, ref):
        for key, want in r.items():
            have = g[key]
            if isinstance(want, float):
                if math.isnan(want):
                    assert have is None or math.isnan(have), (key, g["POS"])
                else:
                    assert have == pytest.approx(want, rel=1e-6, abs=1e-12), (key, g["POS"])
            else:
                assert have == want, (key, g["CHROM"], g["POS"], g["allele_index"])


def test_edge_cases_match_reference(tmp_path):
    df = run_freq(EDGE, tmp_path, pops_file=str(EDGE_POPS))
    assert_matches_reference(df, reference_table(EDGE, EDGE_POPS))


def test_edge_cases_by_hand(tmp_path):
    df = run_freq(EDGE, tmp_path, pops_file=str(EDGE_POPS))
    row = {r["ID"] + str(r["allele_index"]): r for r in df.to_dicts()}
    # './1' and '0/.' are half calls: the called allele counts, the sample is NS and missing.
    assert (row["half1"]["AC"], row["half1"]["AN"], row["half1"]["n_called"]) == (4, 6, 4)
    assert row["half1"]["F_MISSING"] == pytest.approx(3 / 5)
    # Spanning deletion '*' is an allele like any other.
    assert (row["star2"]["AC"], row["star2"]["nhomalt"]) == (4, 1)
    # Two-digit allele indices.
    assert (row["many11"]["AC"], row["many10"]["AC"]) == (3, 2)
    # Mixed ploidy: '1' + '0/1' + '0/1/1' + '.' + '0' = 7 alleles.
    assert (row["mixed1"]["AN"], row["mixed1"]["AC"]) == (7, 4)
    # chrX outside the PAR: males haploid whether written '1' or '1/1'.
    for key in ("xhap1", "xdip1"):
        assert (row[key]["AN"], row[key]["AC"], row[key]["n_hemi_alt"]) == (8, 5, 1)
        assert (row[key]["AN_XY"], row[key]["AC_XY"]) == (2, 1)
    # Inside PAR1 males are diploid.
    assert (row["xpar1"]["AN"], row["xpar1"]["AN_XY"]) == (10, 4)
    # A male het outside the PAR is missing and counted in n_male_het.
    assert (row["xmalehet1"]["n_male_het"], row["xmalehet1"]["AN"]) == (1, 5)
    # chrY: females contribute nothing; unknown sex counts as written.
    assert (row["y1"]["AN"], row["y1"]["AC"], row["y1"]["AN_XX"]) == (3, 2, 0)
    assert "noalt" not in {r["ID"] for r in df.to_dicts()}
    assert row["many11"]["grpmax"] == "KOR"


def test_contig_names_without_chr(tmp_path):
    with_chr = run_freq(EDGE, tmp_path, "a", pops_file=str(EDGE_POPS))
    without = run_freq(DATA / "edge_cases.nochr.vcf", tmp_path, "b", pops_file=str(EDGE_POPS))
    assert_frame_equal(with_chr.drop("CHROM"), without.drop("CHROM"))


def test_cohort_matches_reference(cohort, tmp_path):
    df = run_freq(cohort["vcf"], tmp_path, pops_file=cohort["pops"])
    assert_matches_reference(df, reference_table(cohort["vcf"], cohort["pops"]))


def test_bcf_equals_vcf(cohort, tmp_path):
    a = run_freq(cohort["vcf"], tmp_path, "a", pops_file=cohort["pops"])
    b = run_freq(cohort["bcf"], tmp_path, "b", pops_file=cohort["pops"])
    assert_frame_equal(a, b)


def test_threads_and_chunking_do_not_change_results(cohort, tmp_path):
    base = run_freq(cohort["vcf"], tmp_path, "t1", pops_file=cohort["pops"], threads=1)
    for threads, chunk in ((2, 37), (3, 1), (1, 100000)):
        other = run_freq(cohort["vcf"], tmp_path, f"t{threads}", pops_file=cohort["pops"],
                         threads=threads, chunk_variants=chunk)
        assert_frame_equal(base, other)


def test_region_shards_concatenate_to_whole(cohort, tmp_path):
    whole = run_freq(cohort["vcf"], tmp_path, "whole", pops_file=cohort["pops"])
    pos = {c: whole.filter(pl.col("CHROM") == c)["POS"] for c in whole["CHROM"].unique()}
    regions = []
    for chrom in ("chr1", "chr2", "chrX", "chrY"):
        mid = int(pos[chrom][len(pos[chrom]) // 2])
        regions += [f"{chrom}:1-{mid}", f"{chrom}:{mid + 1}-"]
    parts = [run_freq(cohort["vcf"], tmp_path, f"r{i}", pops_file=cohort["pops"], region=r)
             for i, r in enumerate(regions)]
    assert all(p.height > 0 for p in parts)
    assert_frame_equal(whole, pl.concat(parts))


def test_bed_regions_merge_overlaps(cohort, tmp_path):
    whole = run_freq(cohort["vcf"], tmp_path, "whole")
    bed = tmp_path / "r.bed"
    bed.write_text("chr2\t0\t300000\nchr2\t200000\t400000\nchr1\t100000\t150000\n")
    got = run_freq(cohort["vcf"], tmp_path, "bed", regions_file=str(bed))
    want = whole.filter(((pl.col("CHROM") == "chr2") & (pl.col("POS") <= 400000))
                        | ((pl.col("CHROM") == "chr1") & (pl.col("POS") > 100000)
                           & (pl.col("POS") <= 150000)))
    assert got.height > 0
    assert_frame_equal(got.sort("CHROM", "POS", "allele_index"),
                       want.sort("CHROM", "POS", "allele_index"))


def test_exclude_samples_equals_sample_subset(cohort, tmp_path):
    names = list(cyvcf2.VCF(cohort["vcf"]).samples)
    withdrawn = names[::7]
    (tmp_path / "withdrawn.txt").write_text("\n".join(withdrawn) + "\n")
    (tmp_path / "keep.txt").write_text("\n".join(n for n in names if n not in withdrawn) + "\n")
    a = run_freq(cohort["vcf"], tmp_path, "a", exclude_samples_file=str(tmp_path / "withdrawn.txt"),
                 pops_file=cohort["pops"])
    b = run_freq(cohort["vcf"], tmp_path, "b", samples_file=str(tmp_path / "keep.txt"),
                 pops_file=cohort["pops"])
    assert_frame_equal(a, b)
    keep = [n for n in names if n not in withdrawn]
    assert_matches_reference(a, reference_table(cohort["vcf"], cohort["pops"], samples=keep))
    full = run_freq(cohort["vcf"], tmp_path, "c")
    assert (a["AN"] < full["AN"]).any()


def test_male_x_written_diploid_equals_haploid(make_cohort, tmp_path):
    hap = make_cohort("xhap", n_samples=60, n_sites=400, seed=3, male_x="haploid")
    dip = make_cohort("xdip", n_samples=60, n_sites=400, seed=3, male_x="diploid")
    a = run_freq(hap["vcf"], tmp_path, "a", pops_file=hap["pops"])
    b = run_freq(dip["vcf"], tmp_path, "b", pops_file=dip["pops"])
    # Same genotypes: only the hemizygous class label differs by how the call is written.
    assert_frame_equal(a.drop("nhomalt", "AC_Hom", "n_hemi_alt", "HWE", "ExcHet",
                              "InbreedingCoeff", "nhomalt_KOR", "nhomalt_JPN", "nhomalt_CHN",
                              "nhomalt_EUR"),
                       b.drop("nhomalt", "AC_Hom", "n_hemi_alt", "HWE", "ExcHet",
                              "InbreedingCoeff", "nhomalt_KOR", "nhomalt_JPN", "nhomalt_CHN",
                              "nhomalt_EUR"))
    assert_frame_equal(a, b)


def test_adj_counts(cohort, tmp_path):
    df = run_freq(cohort["vcf"], tmp_path, min_gq=20, min_dp=10, min_ab=0.2)
    vcf = cyvcf2.VCF(cohort["vcf"])
    expected_ac, expected_an = [], []
    for rec in vcf:
        gt = rec.genotype.array()[:, :-1]
        gq, dp, ad = rec.format("GQ")[:, 0], rec.format("DP")[:, 0], rec.format("AD")
        ad = np.where(ad < -1, -1, ad)
        mask = naive.adj_pass([gt], [gq], [dp], [ad], 20, 10, 0.2)
        na = len(rec.ALT) + 1
        r = naive.count_alleles([gt], [na], site_classes(rec.CHROM, np.array([rec.POS]),
                                                         "GRCh38"),
                                [0] * len(gt), [-1] * len(gt), 0, mask)[0]
        expected_ac += r["ac_adj"][1:]
        expected_an += [r["an_adj"]] * (na - 1)
    assert df["AC_adj"].to_list() == expected_ac
    assert df["AN_adj"].to_list() == expected_an
    assert (df["AN_adj"] < df["AN"]).any()


def test_adj_without_format_fields_warns(tmp_path, capsys):
    df = run_freq(EDGE, tmp_path, min_gq=20, quiet=False)
    assert "AC_adj" not in df.columns
    assert "FORMAT/GQ not in the header" in capsys.readouterr().err


def test_hwe_midp(cohort, tmp_path):
    a = run_freq(cohort["vcf"], tmp_path, "a")
    b = run_freq(cohort["vcf"], tmp_path, "b", hwe_midp=True)
    assert (b["HWE"] <= a["HWE"]).all() and (b["HWE"] < a["HWE"]).any()


def test_tsv_equals_parquet(cohort, tmp_path):
    a = run_freq(cohort["vcf"], tmp_path, "a", pops_file=cohort["pops"])
    b = run_freq(cohort["vcf"], tmp_path, "b", pops_file=cohort["pops"], fmt="tsv")
    assert_frame_equal(a, b.cast(a.schema), check_exact=False, rel_tol=1e-12)


@pytest.mark.parametrize("name", ["sites_only.vcf", "header_only.vcf"])
def test_no_genotypes(tmp_path, name):
    df = run_freq(DATA / name, tmp_path)
    if name == "sites_only.vcf":
        assert df["AN"].to_list() == [0, 0, 0] and df["AF"].null_count() == 3
    else:
        assert df.height == 0
        assert "AC" in df.columns


def test_summary_json(cohort, tmp_path):
    prefix = tmp_path / "s"
    from genomekit.commands import freq

    freq.run(cohort["vcf"], str(prefix), quiet=True, pops_file=cohort["pops"])
    summary = json.loads((tmp_path / "s.freq.json").read_text())
    assert summary["n_samples"] == 300 and summary["n_sites"] == 1500
    df = pl.read_parquet(tmp_path / "s.freq.parquet")
    assert summary["n_alleles"] == df.height
    assert summary["inputs"][0]["bytes"] == os.path.getsize(cohort["vcf"])
    assert summary["version"] and summary["elapsed_seconds"] >= 0


def test_sites_bcf_tags(cohort, tmp_path):
    prefix = tmp_path / "s"
    from genomekit.commands import freq

    freq.run(cohort["vcf"], str(prefix), quiet=True, sites_vcf=True, pops_file=cohort["pops"])
    df = pl.read_parquet(tmp_path / "s.freq.parquet")
    assert (tmp_path / "s.sites.bcf.csi").exists()
    vcf = cyvcf2.VCF(str(tmp_path / "s.sites.bcf"))
    assert not vcf.samples
    ac, an, af_kor = [], [], []
    for rec in vcf:
        ac += list(np.atleast_1d(rec.INFO["AC"]))
        an += [rec.INFO["AN"]] * len(rec.ALT)
        af_kor += list(np.atleast_1d(rec.INFO["AF_KOR"]))
    assert ac == df["AC"].to_list() and an == df["AN"].to_list()
    assert np.allclose(af_kor, df["AF_KOR"].fill_null(np.nan).to_numpy(), rtol=1e-5,
                       equal_nan=True)




def test_cli_subprocess_run(cohort, tmp_path):
    out = tmp_path / "c"
    r = cli("freq", cohort["vcf"], "--out", str(out), "--pops", cohort["pops"], "--threads",
            "2", "--format", "tsv")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "c.freq.tsv").exists() and (tmp_path / "c.freq.json").exists()
    r = cli("freq", cohort["vcf"], "--out", str(out))
    assert r.returncode == 2 and "exists" in r.stderr and "--force" in r.stderr


def test_version_and_help_compile_nothing():
    code = ("import sys; from genomekit.cli import cli; from click.testing import CliRunner; "
            "r = CliRunner().invoke(cli, ['freq', '--help']); "
            "print(r.exit_code, 'numba' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.split() == ["0", "False"]
    r = cli("--version")
    assert r.returncode == 0 and "genomekit" in r.stdout


@pytest.mark.parametrize("args,code,text", [
    (["freq", "/no/such.vcf", "-o", "x"], 1, "no such file"),
    (["freq", str(EDGE), "-o", "{tmp}/x", "-r", "chr1:5-1"], 2, "bad region"),
    (["freq", str(EDGE), "-o", "{tmp}/x", "-r", "chr1:1-100"], 1, "need an index"),
    (["freq", str(EDGE), "-o", "{tmp}/x", "--threads", "0"], 2, "--threads"),
    (["freq", str(EDGE), "-o", "{tmp}/x", "--min-ab", "2"], 2, "--min-ab"),
    (["freq", str(EDGE), "-o", "{tmp}/nodir/x"], 2, "does not exist"),
    (["freq", str(EDGE)], 2, "Missing option"),
    (["freq", str(EDGE), "-o", "{tmp}/x", "--pops", str(DATA / "header_only.vcf")], 1,
     "header_only.vcf"),
])
def test_cli_errors_are_one_line(tmp_path, args, code, text):
    assert_one_error_line(tmp_path, args, code, text)


def test_malformed_record_leaves_no_output(tmp_path):
    bad = tmp_path / "bad.vcf"
    lines = EDGE.read_text().splitlines()
    lines[-3] = lines[-3].replace("\t0/1\t", "\t0/7\t", 1)  # allele index beyond ALT
    bad.write_text("\n".join(lines) + "\n")
    r = cli("freq", str(bad), "-o", str(tmp_path / "o"))
    assert r.returncode == 1
    assert "bad.vcf:chrX:5000100" in r.stderr and "allele" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.vcf"]
    r = cli("--debug", "freq", str(bad), "-o", str(tmp_path / "o"))
    assert "Traceback" in r.stderr


def test_progress_log_lines_when_not_a_tty(cohort, tmp_path):
    env = dict(os.environ, GENOMEKIT_LOG_INTERVAL="0")
    r = cli("freq", cohort["vcf"], "-o", str(tmp_path / "p"), env=env)
    assert r.returncode == 0
    logs = [ln for ln in r.stderr.splitlines() if "records" in ln]
    assert logs and all(ln.startswith("genomekit: ") for ln in logs)


def test_sample_order_of_samples_file_is_kept(cohort, tmp_path):
    names = list(cyvcf2.VCF(cohort["vcf"]).samples)
    (tmp_path / "rev.txt").write_text("\n".join(names[::-1][:200]) + "\n")
    (tmp_path / "fwd.txt").write_text("\n".join(sorted(names[::-1][:200],
                                                       key=names.index)) + "\n")
    a = run_freq(cohort["vcf"], tmp_path, "a", samples_file=str(tmp_path / "rev.txt"),
                 pops_file=cohort["pops"])
    b = run_freq(cohort["vcf"], tmp_path, "b", samples_file=str(tmp_path / "fwd.txt"),
                 pops_file=cohort["pops"])
    # Populations and sexes follow the sample names, whatever their order in -S.
    assert_frame_equal(a, b)
    from genomekit.io.vcf import VcfReader

    rev = next(VcfReader(cohort["vcf"], samples=names[::-1]).chunks())
    fwd = next(VcfReader(cohort["vcf"]).chunks())
    assert (rev.gt == fwd.gt[:, ::-1]).all()


def test_allele_index_past_127_is_reported_not_wrapped(tmp_path):
    bad = tmp_path / "big.vcf"
    lines = EDGE.read_text().splitlines()
    lines[-1] = lines[-1].replace("\t1\t0\t", "\t200\t0\t", 1)
    bad.write_text("\n".join(lines) + "\n")
    r = cli("freq", str(bad), "-o", str(tmp_path / "o"))
    assert r.returncode == 1 and "chrY:3000000" in r.stderr and "allele" in r.stderr


@pytest.mark.parametrize("which", ["cohort", "edge", "cohort_bcf"])
def test_engines_give_identical_tables(cohort, tmp_path, which):
    path, pops = {"cohort": (cohort["vcf"], cohort["pops"]), "edge": (EDGE, EDGE_POPS),
                  "cohort_bcf": (cohort["bcf"], cohort["pops"])}[which]
    fast = run_freq(path, tmp_path, "fast", pops_file=str(pops), engine="fast", threads=2)
    slow = run_freq(path, tmp_path, "slow", pops_file=str(pops), engine="cyvcf2")
    assert fast.height > 0
    assert_frame_equal(fast, slow)


def test_engine_fast_refuses_regions_on_plain_text(tmp_path):
    r = cli("freq", str(EDGE), "-o", str(tmp_path / "x"), "--engine", "fast", "-r", "chr1:1-100")
    assert r.returncode == 2 and "--engine fast cannot read" in r.stderr


def test_exclude_samples_warns_about_unknown_names(cohort, tmp_path, capsys):
    (tmp_path / "withdrawn.txt").write_text("KOR00001\nKOR99999\n")
    df = run_freq(cohort["vcf"], tmp_path, exclude_samples_file=str(tmp_path / "withdrawn.txt"),
                  quiet=False)
    err = capsys.readouterr().err
    assert "1 sample(s) to exclude are not in" in err and "KOR99999" in err
    full = run_freq(cohort["vcf"], tmp_path, "full")
    assert (df["AN"] <= full["AN"]).all() and (df["AN"] < full["AN"]).any()


def _counts_from_sheet(sheet_path, samples) -> dict:
    """Samples per population and sex of ``samples``, read from the TSV with the csv module."""
    import csv

    with open(sheet_path, newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))[1:]
    listed = {r[0]: (r[1], {"F": "XX", "M": "XY"}.get(r[2], "unknown")) for r in rows}
    pops = dict.fromkeys(r[1] for r in rows)
    sex = {"XX": 0, "XY": 0, "unknown": 0}
    population = dict.fromkeys(pops, 0)
    for s in samples:
        pop, x = listed.get(s, (None, "unknown"))
        sex[x] += 1
        if pop is not None:
            population[pop] += 1
    return {"total": len(samples), "sex": sex, "population": population,
            "no_population": len(samples) - sum(population.values())}


def test_summary_counts_samples_per_population_and_sex(cohort, tmp_path):
    names = list(cyvcf2.VCF(cohort["vcf"]).samples)
    rows = [line.split("\t") for line in open(cohort["pops"]).read().splitlines()[1:]]
    # Unlisted samples, unknown sexes, a listed sample the VCF lacks (in a population of its
    # own), and -S leaving out listed samples.
    sheet = tmp_path / "pops.tsv"
    with open(sheet, "w") as fh:
        fh.write("sample\tpopulation\tsex\n")
        for i, (name, pop, sex) in enumerate(rows[10:]):
            fh.write(f"{name}\t{pop}\t{'unknown' if i % 7 == 0 else sex}\n")
        fh.write("NOTINVCF\tZZZ\tF\n")
    keep = names[:250]
    (tmp_path / "keep.txt").write_text("\n".join(keep) + "\n")
    df = run_freq(cohort["vcf"], tmp_path, "s", pops_file=str(sheet),
                  samples_file=str(tmp_path / "keep.txt"))
    summary = json.loads((tmp_path / "s.freq.json").read_text())
    want = _counts_from_sheet(sheet, keep)
    assert summary["sample_counts"] == want
    assert want["population"]["ZZZ"] == 0 and want["no_population"] == 10
    assert want["sex"]["unknown"] > 10 and min(want["population"].values()) == 0
    # A group's AN never exceeds two alleles per sample of it.
    for g, n in [*want["sex"].items(), *want["population"].items()]:
        if g != "unknown":
            assert df[f"AN_{g}"].max() <= 2 * n, g
    # The keys that were there before stay as they were.
    assert summary["n_samples"] == 250 and summary["populations"] == list(want["population"])

    run_freq(cohort["vcf"], tmp_path, "plain")
    plain = json.loads((tmp_path / "plain.freq.json").read_text())["sample_counts"]
    assert plain == {"total": 300, "sex": {"XX": 0, "XY": 0, "unknown": 300},
                     "population": {}, "no_population": 300}



@pytest.mark.parametrize("command,unlisted_means", [
    ("freq", "counted in the totals only, with unknown sex"),
    ("sample-qc", "unknown sex, and compared with each other for the outlier flags"),
])
def test_pops_naming_none_or_some_of_the_samples(tmp_path, command, unlisted_means):
    other = tmp_path / "other.pops.tsv"
    other.write_text("x1\tKOR\tM\nx2\tJPN\tF\n")
    r = cli(command, str(EDGE), "-o", str(tmp_path / "a"), "--pops", str(other))
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"genomekit: error: none of the 5 samples of {EDGE} is in the population file — "
        "check that --pops lists the VCF's sample names"]
    some = tmp_path / "some.pops.tsv"
    some.write_text("".join(EDGE_POPS.read_text().splitlines(keepends=True)[:3]))
    r = cli(command, str(EDGE), "-o", str(tmp_path / "b"), "--pops", str(some))
    assert r.returncode == 0, r.stderr
    assert f"{EDGE}: 2 sample(s) not in --pops: {unlisted_means}" in r.stderr
