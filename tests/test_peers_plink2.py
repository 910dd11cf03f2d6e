"""`genomekit freq` against PLINK 2 (v2.00a3.5) on seeded cohorts made at test time.

PLINK 2 is the sex-aware peer: given the sexes it counts males once on chrX outside the
PARs (after ``--split-par hg38`` moves PAR1 to its own, diploid, chromosome code), leaves
females out of chrY, and tests HWE on autosomes with the same exact test. Every run:

    plink2 --vcf IN --vcf-half-call missing --split-par hg38 --update-sex SEX
           --freq counts --hardy redundant [midp] --missing --threads 1 --memory 1024
           --out OUT

with SEX a ``#IID<TAB>SEX`` file (1 male, 2 female) made from the simulator's sample
sheet, which also goes to ``freq --pops``. Rows are joined on the record ID (the simulator
writes unique IDs ``siteN``; plink2 renames the contigs to 1, 2, PAR1, X, Y).

plink2 prints numbers with 6 significant digits; the float comparisons allow for that.
"""

from __future__ import annotations

import gzip
import math
import subprocess
from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import need_tool, run_freq

PAR1_END = 2_781_479  # GRCh38, the boundary the simulator straddles on chrX and chrY
# 6 significant digits: the printed value is within 5e-6 (relative) of plink2's double;
# the rest covers the two programs' float64 round-off.
REL_6G = 5.5e-6
DIPLOID = ("chr1", "chr2")  # plus chrX inside PAR1, see diploid_rows()


def run_plink2(vcf: str, pops: str, out: Path, *hardy_mods: str) -> dict[str, pl.DataFrame]:
    """Import ``vcf`` with the sheet's sexes and return the .acount/.vmiss/.hardy tables."""
    exe = need_tool("plink2")
    sheet = pl.read_csv(pops, separator="\t")
    sex_file = out.with_suffix(".sex")
    sheet.select(pl.col("sample").alias("#IID"),
                 pl.col("sex").replace_strict({"M": "1", "F": "2"}).alias("SEX")
                 ).write_csv(sex_file, separator="\t")
    cmd = [exe, "--vcf", vcf, "--vcf-half-call", "missing", "--split-par", "hg38",
           "--update-sex", str(sex_file), "--freq", "counts",
           "--hardy", "redundant", *hardy_mods, "--missing",
           "--threads", "1", "--memory", "1024", "--out", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr

    def read(ext: str) -> pl.DataFrame:
        return pl.read_csv(f"{out}.{ext}", separator="\t", infer_schema=False)

    return {"acount": read("acount"), "vmiss": read("vmiss"), "hardy": read("hardy")}


def per_site(df: pl.DataFrame) -> pl.DataFrame:
    """genomekit's table with one row per record (per-allele columns as lists)."""
    return df.group_by("ID", maintain_order=True).agg(
        pl.col("CHROM", "POS", "AN", "n_called", "n_missing", "F_MISSING",
               "n_male_het").first(),
        pl.col("ALT", "AC", "n_hemi_alt"),
    )


def acount_table(p: pl.DataFrame) -> pl.DataFrame:
    """plink2 .acount with ALT and ALT_CTS split into lists (ALT_CTS may be x.5)."""
    return p.select(
        "ID", pl.col("#CHROM").alias("P_CHROM"),
        pl.col("ALT").str.split(",").alias("P_ALT"),
        pl.col("ALT_CTS").str.split(",").list.eval(pl.element().cast(pl.Float64)).alias("P_AC"),
        pl.col("OBS_CT").cast(pl.Int64).alias("P_AN"),
    )


def joined(df: pl.DataFrame, plink: dict) -> pl.DataFrame:
    """Per record: genomekit's numbers next to plink2's .acount and .vmiss ones."""
    sites = per_site(df)
    vmiss = plink["vmiss"].select(
        "ID", pl.col("MISSING_CT").cast(pl.Int64).alias("P_MISSING"),
        pl.col("OBS_CT").cast(pl.Int64).alias("P_N"), pl.col("F_MISS").cast(pl.Float64))
    out = sites.join(acount_table(plink["acount"]), on="ID", how="inner").join(
        vmiss, on="ID", how="inner")
    # Every record is in both plink2 reports, once.
    assert out.height == sites.height == plink["acount"].height == plink["vmiss"].height
    return out


def male_het_alleles(vcf: str, pops: str) -> dict[str, dict]:
    """Per record on chrX outside PAR1 and on chrY: male het calls and their allele copies.

    Counted from the VCF text, independently of genomekit (GT-only cohorts).
    """
    sheet = pl.read_csv(pops, separator="\t")
    males = set(sheet.filter(pl.col("sex") == "M")["sample"])
    out: dict[str, dict] = {}
    with gzip.open(vcf, "rt") as fh:
        for line in fh:
            if line.startswith("##"):
                continue
            cols = line.rstrip("\n").split("\t")
            if line.startswith("#"):
                male_cols = [i for i, s in enumerate(cols) if i >= 9 and s in males]
                continue
            chrom, pos = cols[0], int(cols[1])
            if not (chrom == "chrY" or (chrom == "chrX" and pos > PAR1_END)):
                continue
            n_alleles = cols[4].count(",") + 2
            copies = [0] * n_alleles
            n = 0
            for i in male_cols:
                gt = cols[i].replace("|", "/").split("/")
                if len(gt) == 2 and "." not in gt and gt[0] != gt[1]:
                    n += 1
                    for a in gt:
                        copies[int(a)] += 1
            out[cols[2]] = {"n": n, "copies": copies}
    return out


@pytest.fixture(scope="module")
def diploid_males(make_cohort):
    """Males written diploid ('1/1') outside the PARs, with 2% male het error calls."""
    return make_cohort("diploidmales", n_samples=240, n_sites=1200, seed=31,
                       male_x="diploid", male_het_rate=0.02, many_allele_sites=2)


@pytest.fixture(scope="module")
def half_calls(make_cohort):
    """Half calls ('./1') in 2% of the calls, males haploid outside the PARs."""
    return make_cohort("plinkhalf", n_samples=240, n_sites=1200, seed=41,
                       half_call_rate=0.02, many_allele_sites=2)


def assert_per_allele(ids, want, got) -> None:
    """Per-record lists of allele counts are equal (exactly: plink2's x.5 are exact)."""
    bad = [(i, w, g) for i, w, g in zip(ids, want, got) if list(w) != list(g)]
    assert not bad, f"{len(bad)} records differ, first: {bad[:8]}"


def test_counts_match_plink2(cohort, tmp_path):
    """AC/AN per allele and missingness on every record, sex chromosomes included."""
    df = run_freq(cohort["vcf"], tmp_path, pops_file=cohort["pops"])
    plink = run_plink2(cohort["vcf"], cohort["pops"], tmp_path / "p")
    j = joined(df, plink)
    assert j.height == 1500
    # Same allele lists in the same order: plink2's .acount lists every ALT allele of a
    # multi-allelic record in one comma-separated ALT column, with ALT_CTS in that order.
    assert j.filter(pl.col("ALT") != pl.col("P_ALT")).height == 0
    # The cohort has no half calls and no male hets: plink2's allele counts (males once
    # on chrX outside PAR1, females left out of chrY) are genomekit's AC and AN.
    assert_per_allele(j["ID"], j["AC"], j["P_AC"])
    assert j.filter(pl.col("AN") != pl.col("P_AN")).height == 0
    # .vmiss: plink2 leaves females out of chrY (OBS_CT = males), as genomekit does for
    # F_MISSING with --pops; elsewhere every sample is counted.
    assert j.filter(pl.col("n_missing") != pl.col("P_MISSING")).height == 0
    assert j.filter(pl.col("n_called") + pl.col("n_missing") != pl.col("P_N")).height == 0
    assert j.filter((pl.col("F_MISSING") - pl.col("F_MISS")).abs()
                    > REL_6G * pl.col("F_MISSING")).height == 0
    n_males = int((pl.read_csv(cohort["pops"], separator="\t")["sex"] == "M").sum())
    y = j.filter(pl.col("CHROM") == "chrY")
    assert y.height > 0 and (y["P_N"] == n_males).all()
    assert set(j["P_CHROM"]) == {"1", "2", "PAR1", "X", "Y"}
    x = j.filter(pl.col("CHROM") == "chrX")
    assert ((x["P_CHROM"] == "PAR1") == (x["POS"] <= PAR1_END)).all()


def test_diploid_males_and_male_hets_match_plink2(diploid_males, tmp_path):
    """Males written '1/1' outside the PARs count once in both; male hets differ.

    plink2 2.00a3.5 ``--freq`` counts a heterozygous haploid call (a male het on chrX
    outside PAR1 or on chrY) as half a copy of each of its alleles ("dosages are taken
    into account") and ``--missing`` does not count it as missing; genomekit counts it as
    missing (n_male_het) and adds nothing to AC/AN. So, per record:
    plink2 OBS_CT = AN + n_male_het, ALT_CTS = AC + copies / 2 and MISSING_CT =
    n_missing - n_male_het, with the male het calls and their allele copies counted here
    from the VCF text.
    """
    vcf, pops = diploid_males["vcf"], diploid_males["pops"]
    df = run_freq(vcf, tmp_path, pops_file=pops)
    plink = run_plink2(vcf, pops, tmp_path / "p")
    j = joined(df, plink)
    assert j.height == 1200
    hets = male_het_alleles(vcf, pops)
    het_n = [hets.get(i, {"n": 0})["n"] for i in j["ID"]]
    assert sum(n > 0 for n in het_n) > 50  # male hets are really there
    j = j.with_columns(het_n=pl.Series(het_n))
    assert j.filter(pl.col("n_male_het") != pl.col("het_n")).height == 0
    want = [[a + (hets[i]["copies"][k + 1] / 2 if i in hets else 0) for k, a in enumerate(acs)]
            for i, acs in zip(j["ID"], j["AC"])]
    assert_per_allele(j["ID"], want, j["P_AC"])
    assert j.filter(pl.col("AN") + pl.col("het_n") != pl.col("P_AN")).height == 0
    assert j.filter(pl.col("n_missing") - pl.col("het_n") != pl.col("P_MISSING")).height == 0
    # Males written '1/1' on chrX outside PAR1 count one allele, in both tools (the
    # equalities above cover it); make sure genomekit's male AN really is haploid there.
    n_males = int((pl.read_csv(pops, separator="\t")["sex"] == "M").sum())
    x = df.filter((pl.col("CHROM") == "chrX") & (pl.col("POS") > PAR1_END))
    assert x.height > 0 and (x["AN_XY"] <= n_males).all() and (x["AN_XY"] > 0).all()


def diploid_rows(df: pl.DataFrame) -> pl.DataFrame:
    """Rows where every sample is diploid as written: autosomes and chrX inside PAR1."""
    return df.filter(pl.col("CHROM").is_in(DIPLOID)
                     | ((pl.col("CHROM") == "chrX") & (pl.col("POS") <= PAR1_END)))


def test_half_calls_match_plink2(half_calls, tmp_path):
    """Half calls: plink2 (--vcf-half-call missing) drops them, genomekit keeps one allele.

    genomekit counts './1' as one called allele (in AN and AC, and in n_hemi_alt as
    bcftools' AC_Hemi) and as missing in F_MISSING; with ``--vcf-half-call missing`` plink2
    makes the whole call missing. On diploid records the half calls number
    2 * n_called - AN, so plink2 OBS_CT = AN - (2 * n_called - AN) and ALT_CTS =
    AC - n_hemi_alt, while both count the sample as missing (MISSING_CT = n_missing).
    (plink2's other modes are no closer: 'haploid' stores './1' as '1/1' on a diploid
    chromosome, 'reference' as '0/1'.)
    """
    vcf, pops = half_calls["vcf"], half_calls["pops"]
    df = run_freq(vcf, tmp_path, pops_file=pops)
    plink = run_plink2(vcf, pops, tmp_path / "p")
    j = diploid_rows(joined(df, plink))
    assert j.height == per_site(diploid_rows(df)).height > 900
    n_half = 2 * pl.col("n_called") - pl.col("AN")
    assert j.filter(n_half > 0).height > 0.9 * j.height  # half calls are really there
    assert j.filter(pl.col("AN") - n_half != pl.col("P_AN")).height == 0
    want = [[a - h for a, h in zip(acs, hs)] for acs, hs in zip(j["AC"], j["n_hemi_alt"])]
    assert_per_allele(j["ID"], want, j["P_AC"])
    assert j.filter(pl.col("n_missing") != pl.col("P_MISSING")).height == 0
    # .vmiss OBS_CT is every sample; genomekit counts a half call in n_called and in
    # n_missing alike.
    assert j.filter(pl.col("n_called") + pl.col("n_missing") - n_half
                    != pl.col("P_N")).height == 0
    assert (j["P_N"] == 240).all()


def hardy_rows(df: pl.DataFrame, plink: dict) -> pl.DataFrame:
    """genomekit's diploid rows joined to plink2's .hardy row whose A1 is that ALT."""
    p_col = "MIDP" if "MIDP" in plink["hardy"].columns else "P"  # 'midp' renames it
    h = plink["hardy"].select(
        "ID", pl.col("A1").alias("ALT"),
        pl.col("HOM_A1_CT").cast(pl.Int64), pl.col("HET_A1_CT").cast(pl.Int64),
        pl.col("TWO_AX_CT").cast(pl.Int64), pl.col(p_col).cast(pl.Float64).alias("P"))
    rows = diploid_rows(df)
    # 'redundant': one line per allele, REF included, for biallelic records too.
    n_alleles = rows.group_by("ID").len()["len"] + 1
    assert h.height == int(n_alleles.sum())
    j = rows.join(h, on=["ID", "ALT"], how="inner")
    assert j.height == rows.height > 0
    return j


def observed_prob_and_ties(het: int, n_a: int, n_b: int) -> tuple[float, int]:
    """P(observed het count) under HWE, and how many other het counts are exactly as likely.

    The distribution is Wigginton's (2005) recurrence in floats; candidate ties found in
    floats are confirmed with exact rational arithmetic (a tie is a product of the
    recurrence's ratios equal to 1).
    """
    n_rare, n = min(n_a, n_b), (n_a + n_b) // 2
    hets = list(range(n_rare % 2, n_rare + 1, 2))

    def ratio_up(h: int) -> Fraction:  # P(h + 2) / P(h)
        hom_r, hom_c = (n_rare - h) // 2, n - h - (n_rare - h) // 2
        return Fraction(4 * hom_r * hom_c, (h + 2) * (h + 1))

    probs = {hets[0]: 1.0}
    for h in hets[:-1]:
        probs[h + 2] = probs[h] * float(ratio_up(h))
    total = sum(probs.values())
    ties = 0
    for h in hets:
        if h != het and math.isclose(probs[h], probs[het], rel_tol=1e-9):
            lo, hi = sorted((h, het))
            r = Fraction(1)
            for k in range(lo, hi, 2):
                r *= ratio_up(k)
            ties += r == 1
    return probs[het] / total, ties


def test_hwe_matches_plink2_p(cohort, half_calls, tmp_path):
    """HWE per ALT allele on autosomes and PAR1 against plink2 --hardy.

    plink2 tests each allele of a multi-allelic record against all the others together
    ("k separate 'biallelic' tests"), the definition genomekit uses, so every row
    compares, multi-allelic ones included (bcftools differs there, see
    test_peers_bcftools.check_hwe). Both use complete diploid calls only: plink2 has made
    half calls missing and genomekit leaves them out of HWE. chrX outside PAR1 goes to
    plink2's .hardy.x (Graffelman-Weir test of females and males together), a different
    test that is not compared; chrY is haploid and has no HWE in plink2.
    """
    for name, data in (("cohort", cohort), ("half", half_calls)):
        df = run_freq(data["vcf"], tmp_path, name=name, pops_file=data["pops"])
        j = hardy_rows(df, run_plink2(data["vcf"], data["pops"], tmp_path / name))
        # Genotype counts behind the test: n_dip = AN - n_called on diploid rows (a half
        # call adds 1 to both).
        two_ax = pl.col("AN") - pl.col("n_called") - pl.col("nhomalt") - pl.col("n_het")
        assert j.filter((pl.col("HOM_A1_CT") != pl.col("nhomalt"))
                        | (pl.col("HET_A1_CT") != pl.col("n_het"))
                        | (pl.col("TWO_AX_CT") != two_ax)).height == 0
        bad = j.filter((pl.col("HWE") - pl.col("P")).abs() > REL_6G * pl.col("HWE"))
        assert bad.height == 0, bad.select("ID", "ALT", "HWE", "P").head(8)
        assert (j["HWE"] < 1e-6).sum() > 10  # the inbred sites depart from HWE
        assert (j.group_by("ID").len()["len"] > 1).any()  # multi-allelic rows compared
        assert (j["CHROM"] == "chrX").any()  # PAR1 rows compared


def test_hwe_midp_matches_plink2(cohort, half_calls, tmp_path):
    """``freq --hwe-midp`` against plink2 --hardy midp, with the two conventions that differ.

    * An allele absent from the complete diploid calls (or carried by all of them): the
      test has a single outcome. genomekit reports 1.0 (as without mid-p); plink2 reports
      0.5 (1 minus half the probability of the only outcome).
    * Exact ties: when other het counts are exactly as likely as the observed one (this
      happens, e.g. P(73 hets) = P(71 hets) for 6/71/219 hom/het/other), both count
      each of them half (P(less likely) + P(as likely) / 2); the rows with ties are
      counted here to show the case is exercised.
    """
    n_absent = n_tied = 0
    for name, data in (("cohort", cohort), ("half", half_calls)):
        df = run_freq(data["vcf"], tmp_path, name=name, pops_file=data["pops"], hwe_midp=True)
        j = hardy_rows(df, run_plink2(data["vcf"], data["pops"], tmp_path / name, "midp"))
        bad = []
        for r in j.iter_rows(named=True):
            het, n_a = r["n_het"], 2 * r["nhomalt"] + r["n_het"]
            n_b = 2 * (r["AN"] - r["n_called"]) - n_a
            if n_a == 0 or n_b == 0:
                n_absent += 1
                ok = r["HWE"] == 1.0 and r["P"] == 0.5
            else:
                _, ties = observed_prob_and_ties(het, n_a, n_b)
                n_tied += ties > 0
                ok = abs(r["HWE"] - r["P"]) <= REL_6G * r["HWE"]
            if not ok:
                bad.append((r["ID"], r["ALT"], r["HWE"], r["P"]))
        assert not bad, f"{len(bad)} rows differ, first: {bad[:8]}"
        assert j.height > 900
    assert n_absent > 100 and n_tied > 0
