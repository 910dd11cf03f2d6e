"""`genomekit freq` against bcftools 1.16 ``+fill-tags`` on seeded cohorts made at test time.

The peer's numbers are read from the BCF that ``+fill-tags`` writes, with pysam (htslib):
``bcftools query`` prints floats with 6 significant digits (htslib's ``%g``), while the BCF
holds bcftools' float32 values, which lets the float tags be compared at float32 precision.
The sites BCF written by ``freq --sites-vcf`` is read with ``bcftools query`` as a user
would read it.

Conventions shared by both tools, relied on below (the simulator writes calls of ploidy 1
or 2 only):

* one value per ALT allele (Number=A) keyed here by (CHROM, POS, allele index);
* a haploid call and a half call such as ``./1`` count one allele in AN and AC and go to
  AC_Hemi (bcftools without ``-d``); neither enters AC_Het, AC_Hom or the HWE counts;
* NS counts samples with at least one called allele; F_MISSING counts samples with any
  allele missing (half calls included).
"""

from __future__ import annotations

import gzip
import math
import subprocess
from pathlib import Path

import polars as pl
import pysam
import pytest

from tests.conftest import need_tool, run_freq

# bcftools 1.16 has no built-in F_MISSING tag: -t F_MISSING is taken as the expression
# F_MISSING=F_MISSING (filter.c: samples with any GT allele missing / all samples), written
# as INFO/F_MISSING Number=. Type=Float. It must stay out of -S runs, where the expression
# would be repeated per group while still counting over all samples.
TOTAL_TAGS = "AC,AN,AF,AC_Het,AC_Hom,AC_Hemi,HWE,ExcHet,F_MISSING,NS"
GROUP_TAGS = "AC,AN,AF,AC_Hom"

# genomekit column -> bcftools tag, for the tags whose definitions coincide.
INT_PAIRS = {"AC": "AC", "AN": "AN", "n_het": "AC_Het", "AC_Hom": "AC_Hom",
             "n_hemi_alt": "AC_Hemi", "n_called": "NS"}
PER_SITE = {"AN", "NS", "F_MISSING", "AN_XX", "AN_XY"}

# bcftools stores float32: its value is the float64 result rounded to 24 bits (relative
# error <= 6e-8). 1e-6 allows a few ulps; the absolute part only covers float32
# subnormals/underflow of p-values below 1e-38, which float32 cannot hold.
REL_F32 = 1e-6
ABS_F32 = 1e-37
# The sites BCF holds genomekit's values printed with 6 significant digits ('%.6g') and
# bcftools query prints 6 significant digits again: one unit of the 6th digit is <= 1e-5
# of the value.
REL_6G = 1e-5
ABS_6G = 1e-40


def _bcftools(*args: str) -> str:
    exe = need_tool("bcftools")
    res = subprocess.run([exe, *args], capture_output=True, text=True, check=True)
    return res.stdout


def fill_tags(vcf: str, out: Path, tags: str, groups: Path | None = None) -> Path:
    """Run ``bcftools +fill-tags`` and return the BCF it wrote (genotypes dropped)."""
    opts = ["-t", tags] + (["-S", str(groups)] if groups else [])
    tmp = out.with_suffix(".full.bcf")
    _bcftools("+fill-tags", vcf, "-Ob", "-o", str(tmp), "--", *opts)
    # -G keeps the pysam reads fast; -I makes sure view recomputes nothing.
    _bcftools("view", "-G", "-I", "-Ob", "-o", str(out), str(tmp))
    _bcftools("index", str(out))  # pysam looks for an index when it opens a BCF
    tmp.unlink()
    return out


def read_info(bcf: Path, tags: list[str]) -> dict[tuple[str, int, int], dict]:
    """INFO tags per (CHROM, POS, allele index), Number=A values split per allele."""
    rows: dict[tuple[str, int, int], dict] = {}
    with pysam.VariantFile(str(bcf)) as fh:
        for rec in fh:
            site = {}
            for tag in tags:
                value = rec.info.get(tag)
                if isinstance(value, tuple) and (tag in PER_SITE or tag.startswith("AN_")):
                    value = value[0]  # F_MISSING is Number=. (one value)
                site[tag] = value
            for j, alt in enumerate(rec.alts, 1):
                row = {"REF": rec.ref, "ALT": alt}
                for tag, value in site.items():
                    row[tag] = value[j - 1] if isinstance(value, tuple) else value
                rows[(rec.chrom, rec.pos, j)] = row
    return rows


def query_info(bcf: str, tags: list[str]) -> dict[tuple[str, int, int], dict]:
    """INFO tags per (CHROM, POS, allele index) as printed by ``bcftools query``."""
    fmt = "\t".join(["%CHROM", "%POS", "%REF", "%ALT"] + [f"%INFO/{t}" for t in tags]) + "\n"
    rows: dict[tuple[str, int, int], dict] = {}
    for line in _bcftools("query", "-f", fmt, bcf).splitlines():
        chrom, pos, ref, alts, *values = line.split("\t")
        for j, alt in enumerate(alts.split(","), 1):
            row: dict = {"REF": ref, "ALT": alt}
            for tag, text in zip(tags, values):
                parts = text.split(",")
                v = parts[0] if len(parts) == 1 else parts[j - 1]
                row[tag] = None if v == "." else float(v)
            rows[(chrom, int(pos), j)] = row
    return rows


def keyed(df: pl.DataFrame) -> dict[tuple[str, int, int], dict]:
    return {(r["CHROM"], r["POS"], r["allele_index"]): r for r in df.iter_rows(named=True)}


def _close(a, b, rel: float, abs_: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if math.isnan(a) or math.isnan(b):
        return False
    return abs(a - b) <= abs_ + rel * max(abs(a), abs(b))


def assert_same_rows(gk: dict, peer: dict) -> None:
    """Both sides list the same ALT alleles, with the same REF/ALT strings."""
    assert len(gk) > 0
    assert set(gk) == set(peer), "genomekit and bcftools list different ALT alleles"
    bad = [k for k in gk if (gk[k]["REF"], gk[k]["ALT"]) != (peer[k]["REF"], peer[k]["ALT"])]
    assert not bad, f"allele strings differ at {bad[:5]}"


def compare(gk: dict, peer: dict, pairs: dict[str, str], keys=None, *, floats=(),
            rel: float = REL_F32, abs_: float = ABS_F32) -> int:
    """Assert every pair of columns agrees on ``keys`` (all rows); return the rows compared."""
    keys = list(gk) if keys is None else list(keys)
    bad = []
    for k in keys:
        for col, tag in pairs.items():
            a, b = gk[k][col], peer[k][tag]
            # Counts must be equal; only the float columns named in ``floats`` get a tolerance.
            ok = _close(a, b, rel, abs_) if col in floats else a == b
            if not ok:
                bad.append(f"{k} {col}={a} vs bcftools {tag}={b}")
    assert not bad, f"{len(bad)} mismatches, first: " + "; ".join(bad[:8])
    return len(keys)


def hwe_exact(het: int, n_a: int, n_b: int) -> tuple[float, float]:
    """Wigginton et al. (2005) exact test: (two-sided p, excess-heterozygosity p).

    ``n_a``/``n_b`` are the allele counts of the allele and of all others among complete
    diploid calls, ``het`` the heterozygotes carrying the allele. Written after
    bcftools' calc_hwe; 1.0 when either allele count is zero, as both tools report.
    """
    if n_a == 0 or n_b == 0:
        return 1.0, 1.0
    n_rare = min(n_a, n_b)
    n_gt = (n_a + n_b) // 2
    probs = [0.0] * (n_rare + 1)
    mid = n_rare * (n_a + n_b - n_rare) // (n_a + n_b)
    if (n_rare & 1) != (mid & 1):
        mid += 1
    probs[mid] = 1.0
    hom_r, hom_c = (n_rare - mid) // 2, n_gt - mid - (n_rare - mid) // 2
    h = mid
    while h > 1:
        probs[h - 2] = probs[h] * h * (h - 1.0) / (4.0 * (hom_r + 1.0) * (hom_c + 1.0))
        hom_r, hom_c, h = hom_r + 1, hom_c + 1, h - 2
    hom_r, hom_c = (n_rare - mid) // 2, n_gt - mid - (n_rare - mid) // 2
    h = mid
    while h <= n_rare - 2:
        probs[h + 2] = probs[h] * 4.0 * hom_r * hom_c / ((h + 2.0) * (h + 1.0))
        hom_r, hom_c, h = hom_r - 1, hom_c - 1, h + 2
    total = sum(probs)
    probs = [p / total for p in probs]
    exc = sum(probs[het:])
    two_sided = min(1.0, sum(p for p in probs if p <= probs[het]))
    return two_sided, exc


def check_hwe(gk: dict, peer: dict) -> tuple[int, int]:
    """Compare HWE/ExcHet; return (rows equal to bcftools, rows on the collapse formula).

    bcftools +fill-tags tests each ALT allele j with nref = hom_ref + all het alleles - het_j
    and nalt = het_j + 2 hom_j (its own comment: "this neglects multiallelic genotypes"): it
    drops the samples homozygous for another ALT allele. genomekit tests allele j against
    every other allele among all complete diploid calls. The two agree exactly on every row
    where no sample is homozygous for another ALT allele; on the other rows genomekit must
    equal the all-other-alleles ("collapse") formula computed here from bcftools' counts,
    and bcftools must equal the same formula with those homozygotes removed.
    """
    by_site: dict[tuple[str, int], list] = {}
    for k in peer:
        by_site.setdefault(k[:2], []).append(k)
    exact, collapse = [], []
    bad = []
    for k, b in peer.items():
        other_hom = sum(peer[o]["AC_Hom"] for o in by_site[k[:2]] if o != k)
        (collapse if other_hom else exact).append(k)
        if not other_hom:
            continue
        # Complete diploid calls: each adds 2 to AN and 1 to NS; haploid and half calls add
        # 1 to both (ploidy <= 2 in these cohorts).
        n_dip = b["AN"] - b["NS"]
        het, n_a = b["AC_Het"], b["AC_Het"] + b["AC_Hom"]
        want = hwe_exact(het, n_a, 2 * n_dip - n_a)
        got = (gk[k]["HWE"], gk[k]["ExcHet"])
        if not all(_close(g, w, 1e-9, 1e-300) for g, w in zip(got, want)):
            bad.append(f"{k} genomekit HWE/ExcHet={got} vs collapse formula {want}")
        theirs = hwe_exact(het, n_a, 2 * n_dip - n_a - other_hom)
        if not all(_close(t, p, REL_F32, ABS_F32) for t, p in zip(theirs, (b["HWE"], b["ExcHet"]))):
            bad.append(f"{k} bcftools HWE/ExcHet={b['HWE'], b['ExcHet']} vs its formula {theirs}")
    assert not bad, f"{len(bad)} HWE mismatches, first: " + "; ".join(bad[:5])
    compare(gk, peer, {"HWE": "HWE", "ExcHet": "ExcHet"}, exact, floats=("HWE", "ExcHet"))
    return len(exact), len(collapse)


def n_females(pops: str) -> int:
    sheet = pl.read_csv(pops, separator="\t")
    return int((sheet["sex"] == "F").sum())


def check_f_missing(gk: dict, peer: dict, n_samples: int, n_fem: int | None) -> None:
    """F_MISSING: equal, except on chrY when genomekit knows the sexes (``n_fem``).

    bcftools counts every sample (females' '.' on chrY are missing calls); with --pops
    genomekit leaves females out of chrY, numerator and denominator. So there
    bcftools' F_MISSING * n_samples = genomekit's n_missing + n_females.
    """
    plain = [k for k in gk if n_fem is None or k[0] != "chrY"]
    compare(gk, peer, {"F_MISSING": "F_MISSING"}, plain, floats=("F_MISSING",))
    chr_y = [k for k in gk if n_fem is not None and k[0] == "chrY"]
    bad = []
    for k in chr_y:
        theirs = round(peer[k]["F_MISSING"] * n_samples)
        ours = gk[k]
        if (theirs - n_fem != ours["n_missing"]
                or not _close(ours["F_MISSING"], ours["n_missing"] / (n_samples - n_fem),
                              1e-12, 0.0)):
            bad.append(f"{k} bcftools missing={theirs}, genomekit {ours['n_missing']}"
                       f" F_MISSING={ours['F_MISSING']}")
    assert not bad, "; ".join(bad[:5])
    if n_fem is not None:
        assert chr_y, "no chrY rows compared"


def n_alt_rows(vcf: str) -> int:
    """Number of ALT alleles in a VCF, counted from its text."""
    n = 0
    with gzip.open(vcf, "rt") as fh:
        for line in fh:
            if not line.startswith("#"):
                n += line.split("\t", 5)[4].count(",") + 1
    return n


@pytest.fixture(scope="module")
def half_cohort(make_cohort):
    """Half calls (./1), phased sites, three 12-allele sites; males haploid on chrX/chrY."""
    return make_cohort("halfcalls", n_samples=240, n_sites=1200, seed=23,
                       half_call_rate=0.02, phased_rate=0.3, many_allele_sites=3)


@pytest.mark.parametrize("sex_aware", [False, True], ids=["no-pops", "pops"])
@pytest.mark.parametrize("kind", ["vcf", "bcf"])
def test_totals_match_fill_tags(cohort, tmp_path, kind, sex_aware):
    """Every total tag of +fill-tags on the standard cohort, from VCF.gz and from BCF."""
    pops = cohort["pops"] if sex_aware else None
    df = run_freq(cohort[kind], tmp_path, pops_file=pops)
    gk = keyed(df)
    peer = read_info(fill_tags(cohort[kind], tmp_path / "ft.bcf", TOTAL_TAGS),
                     TOTAL_TAGS.split(","))
    assert_same_rows(gk, peer)
    assert df.height == n_alt_rows(cohort["vcf"])
    # With --pops, chrX outside the PARs is sex-aware in genomekit (males haploid, a male
    # het missing); the simulator writes males haploid there and no male hets
    # (male_het_rate=0), so bcftools' ploidy-as-written counts are the same numbers.
    n = compare(gk, peer, INT_PAIRS)
    compare(gk, peer, {"AF": "AF"}, floats=("AF",))
    assert n == df.height
    n_exact, n_collapse = check_hwe(gk, peer)
    assert n_exact + n_collapse == df.height
    # Every biallelic row is on the shared definition; the 12-allele sites are not.
    n_biallelic = df.filter(pl.len().over("CHROM", "POS") == 1).height
    assert n_exact >= n_biallelic > 0 and n_collapse > 0
    check_f_missing(gk, peer, 300, n_females(cohort["pops"]) if sex_aware else None)
    # The comparison covers the sex chromosomes on both sides of the PAR1 boundary.
    chroms = set(df["CHROM"])
    assert {"chr1", "chr2", "chrX", "chrY"} <= chroms
    x = df.filter(pl.col("CHROM") == "chrX")["POS"]
    assert (x <= 2_781_479).any() and (x > 2_781_479).any()


@pytest.mark.parametrize("sex_aware", [False, True], ids=["no-pops", "pops"])
def test_half_calls_phased_many_alleles_match_fill_tags(half_cohort, tmp_path, sex_aware):
    """Half calls, phased records and 12-allele sites: every total tag of +fill-tags."""
    vcf = half_cohort["vcf"]
    pops = half_cohort["pops"] if sex_aware else None
    df = run_freq(vcf, tmp_path, pops_file=pops)
    gk = keyed(df)
    peer = read_info(fill_tags(vcf, tmp_path / "ft.bcf", TOTAL_TAGS), TOTAL_TAGS.split(","))
    assert_same_rows(gk, peer)
    assert df.height == n_alt_rows(vcf)
    assert compare(gk, peer, INT_PAIRS) == df.height
    compare(gk, peer, {"AF": "AF"}, floats=("AF",))
    n_exact, n_collapse = check_hwe(gk, peer)
    assert n_exact + n_collapse == df.height
    # The 12-allele sites always have samples homozygous for another ALT allele.
    assert n_collapse > 0
    check_f_missing(gk, peer, 240, n_females(half_cohort["pops"]) if sex_aware else None)
    # The features this cohort exists for are really there and compared.
    auto = df.filter(pl.col("CHROM").is_in(["chr1", "chr2"]))
    assert auto["n_hemi_alt"].sum() > 0, "no half calls with an ALT allele on autosomes"
    assert (df["allele_index"] >= 10).sum() >= 3 * 2, "no two-digit allele indices"
    with gzip.open(vcf, "rt") as fh:
        phased = sum(1 for line in fh if not line.startswith("#") and "|" in line)
    assert phased > 0


def _groups_file(pops: str, path: Path, columns: tuple[str, ...]) -> Path:
    """A +fill-tags -S file: 'SAMPLE<TAB>GROUP[,GROUP...]' per line, no header."""
    sheet = pl.read_csv(pops, separator="\t")
    sex_name = {"M": "XY", "F": "XX"}
    with open(path, "w") as fh:
        for row in sheet.iter_rows(named=True):
            groups = [row["population"] if c == "population" else sex_name[row["sex"]]
                      for c in columns]
            fh.write(f"{row['sample']}\t{','.join(groups)}\n")
    return path


@pytest.mark.parametrize("which", ["cohort", "half_cohort"])
def test_populations_match_fill_tags(request, tmp_path, which):
    """AC_<pop>/AN_<pop>/AF_<pop>/nhomalt_<pop> against +fill-tags -S SAMPLE<TAB>POP."""
    data = request.getfixturevalue(which)
    df = run_freq(data["vcf"], tmp_path, pops_file=data["pops"])
    pops = [c[len("nhomalt_"):] for c in df.columns if c.startswith("nhomalt_")]
    assert pops == ["KOR", "JPN", "CHN", "EUR"]
    groups = _groups_file(data["pops"], tmp_path / "groups.txt", ("population",))
    tags = [f"{t}_{p}" for p in pops for t in GROUP_TAGS.split(",")]
    peer = read_info(fill_tags(data["vcf"], tmp_path / "ft.bcf", GROUP_TAGS, groups), tags)
    gk = keyed(df)
    assert_same_rows(gk, peer)
    for p in pops:
        n = compare(gk, peer, {f"AC_{p}": f"AC_{p}", f"AN_{p}": f"AN_{p}"})
        assert n == df.height
        compare(gk, peer, {f"AF_{p}": f"AF_{p}"}, floats=(f"AF_{p}",))
        # bcftools AC_Hom counts 2 alleles per homozygous diploid call (haploid and half
        # calls are hemizygous, not homozygous), so it is twice genomekit's nhomalt.
        for k in gk:
            peer[k][f"nhom_{p}"] = peer[k][f"AC_Hom_{p}"] / 2
        compare(gk, peer, {f"nhomalt_{p}": f"nhom_{p}"})
        assert df[f"AN_{p}"].sum() > 0


@pytest.mark.parametrize("which", ["cohort", "half_cohort"])
def test_sexes_match_fill_tags(request, tmp_path, which):
    """AC_XX/AN_XX/AF_XX and AC_XY/AN_XY/AF_XY against +fill-tags -S SAMPLE<TAB>XX|XY."""
    data = request.getfixturevalue(which)
    df = run_freq(data["vcf"], tmp_path, pops_file=data["pops"])
    groups = _groups_file(data["pops"], tmp_path / "groups.txt", ("sex",))
    tags = [f"{t}_{s}" for s in ("XX", "XY") for t in ("AC", "AN", "AF")]
    peer = read_info(fill_tags(data["vcf"], tmp_path / "ft.bcf", "AC,AN,AF", groups), tags)
    gk = keyed(df)
    assert_same_rows(gk, peer)
    # Males are written haploid outside the PARs and there are no male hets, so bcftools'
    # as-written counts equal genomekit's sex-aware ones; on chrY females have only '.',
    # which both count as nothing (AN_XX = 0, AF_XX missing).
    pairs = {f"{t}_{s}": f"{t}_{s}" for s in ("XX", "XY") for t in ("AC", "AN")}
    assert compare(gk, peer, pairs) == df.height
    compare(gk, peer, {"AF_XX": "AF_XX", "AF_XY": "AF_XY"}, floats=("AF_XX", "AF_XY"))
    y = df.filter(pl.col("CHROM") == "chrY")
    assert y.height > 0 and (y["AN_XX"] == 0).all() and (y["AN_XY"] > 0).all()
    x = df.filter((pl.col("CHROM") == "chrX") & (pl.col("POS") > 2_781_479))
    assert x.height > 0 and (x["AN_XY"] < x["AN_XX"]).all()


def test_sites_vcf_matches_fill_tags(half_cohort, tmp_path):
    """Every INFO tag of ``freq --sites-vcf`` equals bcftools +fill-tags on the same sites."""
    vcf = half_cohort["vcf"]
    df = run_freq(vcf, tmp_path, pops_file=half_cohort["pops"], sites_vcf=True)
    sites = str(tmp_path / "out.sites.bcf")
    header = _bcftools("view", "-h", sites)
    tags = [line.split("ID=")[1].split(",")[0] for line in header.splitlines()
            if line.startswith("##INFO=")]
    pops = ["KOR", "JPN", "CHN", "EUR"]
    assert tags == (TOTAL_TAGS.split(",") + ["AC_XX", "AN_XX", "AC_XY", "AN_XY"]
                    + [f"{t}_{p}" for p in pops for t in ("AC", "AN", "AF")])
    ours = query_info(sites, tags)
    # The sites file lists exactly the input's records, in order.
    fmt = "%CHROM\t%POS\t%REF\t%ALT\n"
    assert _bcftools("query", "-f", fmt, sites) == _bcftools("query", "-f", fmt, vcf)

    # Totals from a plain run (F_MISSING must not be combined with -S, see TOTAL_TAGS);
    # per-group tags from a -S run with each sample in its population and its sex group.
    total = str(fill_tags(vcf, tmp_path / "total.bcf", TOTAL_TAGS))
    groups = _groups_file(half_cohort["pops"], tmp_path / "groups.txt", ("population", "sex"))
    grouped = str(fill_tags(vcf, tmp_path / "grouped.bcf", "AC,AN,AF", groups))
    peer = query_info(total, TOTAL_TAGS.split(","))
    for k, row in query_info(grouped, tags[10:]).items():
        peer[k].update({t: v for t, v in row.items() if t not in ("REF", "ALT")})
    assert_same_rows(ours, peer)
    assert len(ours) == df.height == n_alt_rows(vcf)

    same = [t for t in tags if t not in ("HWE", "ExcHet", "F_MISSING")]
    n = compare(ours, peer, {t: t for t in same}, rel=REL_6G, abs_=ABS_6G,
                floats=[t for t in same if t.startswith("AF")])
    assert n == df.height
    # HWE/ExcHet: bcftools' values where they share genomekit's definition (see
    # check_hwe), and genomekit's own table (the collapse formula) everywhere.
    table = keyed(df)
    by_site: dict = {}
    for k in peer:
        by_site.setdefault(k[:2], []).append(k)
    exact = [k for k in peer
             if not any(peer[o]["AC_Hom"] for o in by_site[k[:2]] if o != k)]
    assert 0 < len(exact) < len(peer)
    hwe = {"HWE": "HWE", "ExcHet": "ExcHet"}
    compare(ours, peer, hwe, exact, floats=list(hwe), rel=REL_6G, abs_=ABS_6G)
    compare(ours, table, hwe, floats=list(hwe), rel=REL_6G, abs_=ABS_6G)
    # F_MISSING: as check_f_missing, from 6-digit text (chrY: females left out by genomekit).
    n_fem = n_females(half_cohort["pops"])
    not_y = [k for k in peer if k[0] != "chrY"]
    compare(ours, peer, {"F_MISSING": "F_MISSING"}, not_y, floats=("F_MISSING",),
            rel=REL_6G, abs_=ABS_6G)
    y = [k for k in peer if k[0] == "chrY"]
    assert y
    for k in y:
        missing = round(peer[k]["F_MISSING"] * 240) - n_fem
        assert _close(ours[k]["F_MISSING"], missing / (240 - n_fem), REL_6G, ABS_6G), k


def test_conventions_that_differ_from_fill_tags(tmp_path):
    """The documented differences, pinned on a four-sample VCF (A, C male; B, D female).

    * F_MISSING: bcftools 1.16 (filter.c) counts a sample only when a GT allele is the
      unphased missing value, so '0|.' (a phased missing second allele) is not missing
      for it; genomekit counts any missing allele.
    * chrX outside PAR1 with --pops: a male '1/1' is one allele for genomekit (AN +1,
      hemizygous) and a diploid homozygote for bcftools (AN +2, AC_Hom +2); a male het
      '0/1' is missing for genomekit (n_male_het, F_MISSING) and a het for bcftools.
    """
    vcf = tmp_path / "tiny.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1000>\n"
        "##contig=<ID=chrX,length=156040895>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\tC\tD\n"
        "chr1\t10\tv1\tA\tC\t.\tPASS\t.\tGT\t0|.\t.|1\t0/1\t1|1\n"
        "chrX\t5000000\tv2\tA\tC\t.\tPASS\t.\tGT\t1/1\t0/1\t0/1\t1/1\n")
    pops = tmp_path / "pops.tsv"
    pops.write_text("sample\tpopulation\tsex\nA\tP\tM\nB\tP\tF\nC\tP\tM\nD\tP\tF\n")
    cols = ["AN", "AC", "n_called", "F_MISSING", "n_het", "AC_Hom", "n_hemi_alt",
            "n_male_het"]
    ours = run_freq(str(vcf), tmp_path, pops_file=str(pops)).select(cols).rows()
    peer = read_info(fill_tags(str(vcf), tmp_path / "ft.bcf", TOTAL_TAGS),
                     TOTAL_TAGS.split(","))
    theirs = [tuple(peer[k][t] for t in ("AN", "AC", "NS", "F_MISSING", "AC_Het", "AC_Hom",
                                         "AC_Hemi")) for k in sorted(peer)]
    assert ours == [(6, 4, 4, 0.5, 1, 2, 1, 0), (5, 4, 3, 0.25, 1, 2, 1, 1)]
    assert theirs == [(6, 4, 4, 0.25, 1, 2, 1), (8, 6, 4, 0.0, 2, 4, 0)]
