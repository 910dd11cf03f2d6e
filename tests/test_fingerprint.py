"""`genomekit fingerprint`: kernels against tests/naive.py, base counts against samtools
mpileup, swaps and contamination found in simulated BAMs, options and errors."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from genomekit.commands import fingerprint as command
from genomekit.kernels import fingerprint as kf
from tests import naive
from tests.conftest import assert_one_error_line, cli, need_tool

# Kernels against the plain-Python reference ---------------------------------------------


def _random_case(rng, n_sites, n_samples):
    ref = rng.integers(0, 25, n_sites)
    alt = rng.integers(0, 25, n_sites)
    zero = rng.random(n_sites) < 0.15
    ref[zero] = 0
    alt[zero] = 0
    dosage = rng.integers(-1, 3, (n_sites, n_samples)).astype(np.int8)
    p = rng.uniform(0.02, 0.98, n_sites)
    return ref.astype(np.int32), alt.astype(np.int32), dosage, p


@pytest.mark.parametrize("seed", range(6))
def test_kernels_match_naive(seed):
    rng = np.random.default_rng(seed)
    ref, alt, dosage, p = _random_case(rng, 60, 9)
    error, geno_error = [(0.01, 0.01), (0.001, 0.05), (0.2, 0.3)][seed % 3]
    gl = kf.genotype_loglik(ref, alt, error)
    want_gl = naive.fingerprint_loglik(ref.tolist(), alt.tolist(), error)
    np.testing.assert_allclose(gl, want_gl, rtol=1e-12, atol=1e-12)
    depth = ref + alt
    for min_depth, margin in ((1, 0.0), (5, 1.0), (10, 3.0)):
        calls = kf.call_genotypes(gl, depth, min_depth, margin)
        assert calls.tolist() == naive.fingerprint_calls(want_gl, depth.tolist(), min_depth,
                                                         margin)
    calls = kf.call_genotypes(gl, depth, 5, 1.0)
    lod, n_lod, n_cmp, n_disc = kf.compare_samples(gl, depth, calls, dosage, p, geno_error)
    want = naive.fingerprint_compare(want_gl, depth.tolist(), calls.tolist(), dosage.tolist(),
                                     p.tolist(), geno_error)
    np.testing.assert_allclose(lod, [w[0] for w in want], rtol=1e-9, atol=1e-9)
    assert n_lod.tolist() == [w[1] for w in want]
    assert n_cmp.tolist() == [w[2] for w in want]
    assert n_disc.tolist() == [w[3] for w in want]
    other = rng.integers(0, 3, len(ref)).astype(np.int32)
    for s in range(dosage.shape[1]):
        d = np.ascontiguousarray(dosage[:, s])
        est, n = kf.contamination(ref, alt, other, d, p)
        want_est, want_n = naive.fingerprint_contamination(ref.tolist(), alt.tolist(),
                                                           other.tolist(), d.tolist(), p.tolist())
        assert n == want_n
        assert (math.isnan(est) and math.isnan(want_est)) or est == pytest.approx(want_est)


def test_kernel_edge_cases():
    # Ties are never confident; no reads: no LOD term; all-missing VCF calls count nothing.
    ref = np.array([3, 0, 0], np.int32)
    alt = np.array([3, 0, 7], np.int32)
    gl = kf.genotype_loglik(ref, alt, 0.5 - 1e-12)
    assert kf.call_genotypes(gl, ref + alt, 1, 0.0).tolist()[1] == -1
    dosage = np.array([[1, -1], [2, -1], [2, -1]], np.int8)
    gl = kf.genotype_loglik(ref, alt, 0.01)
    calls = kf.call_genotypes(gl, ref + alt, 5, 1.0)
    assert calls.tolist() == [1, -1, 2]
    lod, n_lod, n_cmp, n_disc = kf.compare_samples(gl, ref + alt, calls, dosage,
                                                   np.array([0.5, 0.5, 0.5]), 0.01)
    assert n_lod.tolist() == [2, 0] and lod[1] == 0.0 and lod[0] > 0
    assert n_cmp.tolist() == [2, 0] and n_disc.tolist() == [0, 0]
    est, n = kf.contamination(ref, alt, np.zeros(3, np.int32), np.array([1, 1, -1], np.int8),
                              np.array([0.5, 0.5, 0.5]))
    assert math.isnan(est) and n == 0
    # A pure 20 % contaminant at REF/REF sites of cohort frequency 1/2: c = 0.2.
    est, n = kf.contamination(np.array([90] * 4, np.int32), np.array([10] * 4, np.int32),
                              np.zeros(4, np.int32), np.zeros(4, np.int8), np.full(4, 0.5))
    assert est == pytest.approx(0.2) and n == 4


# Simulated BAMs -----------------------------------------------------------------------

SWAP = ("KOR00001", "KOR00002")
BAM_SAMPLES = ["KOR00001", "KOR00002", "KOR00003", "KOR00004"]


@pytest.fixture(scope="module")
def bams(make_cohort, tmp_path_factory):
    from genomekit.simulate_bam import BamSimConfig, simulate_bams

    cohort = make_cohort("fingerprint", n_samples=60, n_sites=3000, seed=11)
    folder = tmp_path_factory.mktemp("bams")
    sim = simulate_bams(cohort["vcf"], str(folder), samples=BAM_SAMPLES,
                        config=BamSimConfig(depth=15, span=150_000, seed=3), swap=SWAP)
    contaminated = _contaminate(sim.bams["KOR00003"], sim.bams["KOR00004"], 0.25,
                                str(folder / "KOR00003.contaminated.bam"))
    return {"vcf": cohort["vcf"], "sim": sim, "folder": folder, "contaminated": contaminated,
            "paths": [sim.bams[s] for s in BAM_SAMPLES]}


def _contaminate(main: str, other: str, fraction: float, out: str) -> str:
    """``main`` plus a random ``fraction`` of the read pairs of ``other``, relabelled with
    ``main``'s first read group."""
    import random

    import pysam

    pick = random.Random(7)
    with pysam.AlignmentFile(main) as a, pysam.AlignmentFile(other) as b:
        rg = a.header.to_dict()["RG"][0]["ID"]
        unsorted = out + ".unsorted.bam"
        with pysam.AlignmentFile(unsorted, "wb", header=a.header) as w:
            for read in a.fetch(until_eof=True):
                w.write(read)
            keep: dict[str, bool] = {}
            for read in b.fetch(until_eof=True):
                if keep.setdefault(read.query_name, pick.random() < fraction):
                    read.query_name = "c_" + read.query_name
                    read.set_tag("RG", rg)
                    w.write(read)
    pysam.sort("-o", out, unsorted)
    pysam.index(out)
    return out


def _fingerprint(bams, tmp_path, paths=None, name="fp", **kwargs):
    kwargs.setdefault("quiet", True)
    kwargs.setdefault("force", True)
    command.run(bams["vcf"], paths if paths is not None else bams["paths"],
                str(tmp_path / name), **kwargs)
    table = pl.read_parquet(tmp_path / f"{name}.fingerprint.parquet")
    summary = json.loads((tmp_path / f"{name}.fingerprint.json").read_text())
    return table, summary


def test_swap_is_found(bams, tmp_path):
    table, summary = _fingerprint(bams, tmp_path, all_pairs=True)
    rows = {r["declared_sample"]: r for r in table.to_dicts()}
    for a, b in (SWAP, SWAP[::-1]):
        r = rows[a]
        assert r["result"] == "swap" and r["swap"] and r["best_sample"] == b
        assert r["lod_declared"] <= -5 and r["lod_best"] >= 5
        assert r["discordance_declared"] > 0.3 and r["discordance_best"] < 0.03
        assert r["contamination_sample"] == b
    for s in ("KOR00003", "KOR00004"):
        r = rows[s]
        assert r["result"] == "match" and not r["swap"] and r["best_sample"] == s
        assert r["lod_declared"] == r["lod_best"] >= 5 and r["discordance_declared"] < 0.03
        assert r["second_sample"] != s and r["lod_second"] < 0
        # Reads cover the first 150 kb of each contig: a part of the panel.
        assert 300 < r["n_sites_with_reads"] < r["n_sites"] and r["mean_depth"] > 1
    assert summary["results"] == {"swap": 2, "match": 2}
    assert {(s["declared_sample"], s["reads_of"]) for s in summary["swaps"]} == {
        SWAP, SWAP[::-1]}
    # The pairs table holds every BAM x sample; the best sample is its highest LOD.
    pairs = pl.read_parquet(tmp_path / "fp.fingerprint_pairs.parquet")
    assert pairs.height == 4 * 60
    for r in table.to_dicts():
        mine = pairs.filter(pl.col("bam") == r["bam"]).sort("lod", descending=True,
                                                           maintain_order=True)
        assert mine["sample"][0] == r["best_sample"] and mine["lod"][0] == r["lod_best"]
        declared = mine.filter(pl.col("sample") == r["declared_sample"]).row(0, named=True)
        assert declared["lod"] == r["lod_declared"]
        assert declared["n_discordant"] == r["n_discordant_declared"]


def test_counts_match_samtools_mpileup(bams, tmp_path):
    """Against the samtools bundled with pysam (the htslib that reads our counts): samtools
    1.16's htslib counts both mates of a pair where one has a deletion at the site and the
    other a base; htslib 1.24 keeps one of them."""
    from genomekit.commands._common import open_input
    from genomekit.io.pileup import count_bases

    reader, _ = open_input(bams["vcf"])
    panel = command.select_panel(reader, command.Settings(), True)
    bam = bams["contaminated"]  # two samples' reads: every kind of count occurs
    for mapq, baseq in ((20, 13), (0, 0), (30, 30)):
        got = count_bases(bam, panel.chrom, panel.pos, panel.ref, panel.alt, min_mapq=mapq,
                          min_baseq=baseq)
        want = _mpileup_counts(bam, panel.chrom, panel.pos, panel.ref, panel.alt, mapq, baseq,
                               tmp_path)
        assert [got.ref.tolist(), got.alt.tolist(), got.other.tolist()] == want
        assert got.other.sum() > 0 and got.alt.sum() > 0


def _mpileup_counts(bam, chrom, pos, ref, alt, mapq, baseq, tmp_path):
    """[REF, ALT, other] reads per site, from the samtools bundled with pysam."""
    import pysam.samtools

    sites = tmp_path / "sites.tsv"
    sites.write_text("".join(f"{c}\t{p}\n" for c, p in sorted(set(zip(chrom, pos))) if p >= 1))
    out = pysam.samtools.mpileup("-B", "-A", "-d", "0", "-Q", str(baseq), "-q", str(mapq),
                                 "--ff", "UNMAP,SECONDARY,QCFAIL,DUP,SUPPLEMENTARY",
                                 "-l", str(sites), bam)
    bases = {}
    for line in out.splitlines():
        f = line.split("\t")
        bases[(f[0], int(f[1]))] = _pileup_bases(f[4])
    want: list[list[int]] = [[], [], []]
    for k, (c, p) in enumerate(zip(chrom, pos)):
        b = bases.get((c, int(p)), "")
        n_ref, n_alt = b.count(ref[k]), b.count(alt[k])
        for i, n in enumerate((n_ref, n_alt, sum(b.count(x) for x in "ACGT") - n_ref - n_alt)):
            want[i].append(n)
    return want


def test_counts_in_any_site_order(bams, tmp_path):
    """Sites in any order, several ALTs at one position, and positions outside the contig
    (0, past its end) or on a contig the BAM lacks: counts as samtools mpileup gives them."""
    import pysam

    from genomekit.commands._common import open_input
    from genomekit.io.pileup import count_bases

    reader, _ = open_input(bams["vcf"])
    panel = command.select_panel(reader, command.Settings(), True)
    bam = bams["contaminated"]
    chrom, pos, ref, alt = list(panel.chrom), panel.pos.tolist(), list(panel.ref), list(panel.alt)
    for k in range(0, len(pos), 10):  # the same site with the third base as ALT
        chrom.append(chrom[k])
        pos.append(pos[k])
        ref.append(ref[k])
        alt.append(next(b for b in "ACGT" if b not in (ref[k], alt[k])))
    length = pysam.AlignmentFile(bam).get_reference_length(chrom[0])
    chrom += [chrom[0], chrom[0], chrom[0], "no_such_contig"]
    pos += [0, length + 1, 2**40, 100]
    ref += ["A"] * 4
    alt += ["C"] * 4
    order = np.random.default_rng(5).permutation(len(pos))
    got = count_bases(bam, [chrom[i] for i in order], np.array(pos)[order],
                      [ref[i] for i in order], [alt[i] for i in order], min_mapq=20,
                      min_baseq=13)
    want = _mpileup_counts(bam, chrom, pos, ref, alt, 20, 13, tmp_path)
    back = np.argsort(order)
    assert [got.ref[back].tolist(), got.alt[back].tolist(), got.other[back].tolist()] == want
    # The second site at each shared position has reads; the order was shuffled.
    assert got.ref[back][len(panel.pos):-4].sum() > 0
    assert np.diff(np.array(pos)[order]).min() < 0


def test_best_match_agrees_with_bcftools_gtcheck(bams, tmp_path):
    """bcftools mpileup + call genotype each BAM at the panel; gtcheck's least discordant
    cohort sample is our best-matching sample, and the two swapped BAMs point at each other."""
    import subprocess

    bcftools = need_tool("bcftools")
    from genomekit.commands._common import open_input

    table, _ = _fingerprint(bams, tmp_path)
    reader, _ = open_input(bams["vcf"])
    panel = command.select_panel(reader, command.Settings(), True)
    sites = tmp_path / "sites.tsv"
    sites.write_text("".join(f"{c}\t{p}\n" for c, p in zip(panel.chrom, panel.pos)))
    for row in table.to_dicts():
        query = tmp_path / f"{row['declared_sample']}.vcf.gz"
        pileup = subprocess.run([bcftools, "mpileup", "-f", bams["sim"].reference, "-T",
                                 str(sites), "-a", "AD", "-Ou", row["bam"]],
                                capture_output=True, check=True).stdout
        subprocess.run([bcftools, "call", "-m", "-Oz", "-o", str(query)], input=pileup,
                       capture_output=True, check=True)
        subprocess.run([bcftools, "index", str(query)], check=True)
        out = subprocess.run([bcftools, "gtcheck", "-g", bams["vcf"], str(query)],
                             capture_output=True, text=True, check=True).stdout
        dc = [line.split("\t") for line in out.splitlines() if line.startswith("DC\t")]
        best = min(dc, key=lambda f: float(f[3]))
        assert best[2] == row["best_sample"], (row["bam"], best)
    swapped = table.filter(pl.col("swap"))
    assert sorted(swapped["best_sample"]) == sorted(SWAP)


def _pileup_bases(text: str) -> str:
    """The bases of a samtools mpileup column, upper case, without read starts/ends/indels."""
    text = re.sub(r"\^.", "", text).replace("$", "")
    out, i = [], 0
    while i < len(text):
        if text[i] in "+-":
            m = re.match(r"[+-](\d+)", text[i:])
            i += len(m.group(0)) + int(m.group(1))
            continue
        out.append(text[i])
        i += 1
    return "".join(out).upper()


def test_contamination_is_estimated(bams, tmp_path):
    table, summary = _fingerprint(bams, tmp_path, paths=[bams["contaminated"],
                                                        bams["sim"].bams["KOR00004"]])
    dirty, clean = table.to_dicts()
    # 25 % of KOR00004's pairs on top of KOR00003's: 0.25 / 1.25 = 20 % of the reads.
    assert dirty["declared_sample"] == "KOR00003" and dirty["contaminated"]
    assert 0.15 < dirty["contamination"] < 0.25
    assert dirty["n_contamination_sites"] > 300
    assert clean["contamination"] < 0.01 and not clean["contaminated"]
    assert summary["contaminated"] == [bams["contaminated"]]
    assert summary["settings"]["min_contamination_sites"] == 50


def test_too_few_sites_leave_contamination_undetermined(bams, tmp_path):
    # The same estimates, but more homozygous sites asked for than either BAM has:
    # neither is flagged, nor called clean.
    paths = [bams["contaminated"], bams["sim"].bams["KOR00004"]]
    table, _ = _fingerprint(bams, tmp_path, paths=paths)
    most = max(table["n_contamination_sites"].to_list())
    strict, summary = _fingerprint(bams, tmp_path, paths=paths, name="strict",
                                   min_contamination_sites=most + 1)
    assert strict["contamination"].to_list() == table["contamination"].to_list()
    assert strict["contaminated"].to_list() == [None, None]
    assert summary["contaminated"] == []
    at_limit, _ = _fingerprint(bams, tmp_path, paths=paths, name="limit",
                               min_contamination_sites=most)
    for n, got, want in zip(table["n_contamination_sites"], at_limit["contaminated"],
                            table["contaminated"]):
        assert got == (want if n >= most else None)


def test_manifest_declares_samples(bams, tmp_path):
    manifest = tmp_path / "manifest.tsv"
    sim = bams["sim"]
    manifest.write_text(f"sample\tbam\nKOR00004\t{sim.bams['KOR00003']}\n"
                        f"NOT_IN_VCF\t{sim.bams['KOR00004']}\n")
    table, _ = _fingerprint(bams, tmp_path, paths=[], manifest=str(manifest))
    a, b = table.to_dicts()
    assert (a["declared_sample"], a["sm"], a["result"], a["best_sample"]) == (
        "KOR00004", "KOR00003", "swap", "KOR00003")
    assert not b["declared_in_vcf"] and b["lod_declared"] is None
    assert b["result"] == "swap" and b["best_sample"] == "KOR00004"


def test_results_do_not_depend_on_threads_chunks_or_site_cap(bams, tmp_path):
    base, s1 = _fingerprint(bams, tmp_path, name="a")
    other, s2 = _fingerprint(bams, tmp_path, name="b", threads=2, chunk_variants=97)
    assert_frame_equal(base, other)
    assert s1["sites"] == s2["sites"]
    # A capped panel is a fixed subset: the same with other chunks.
    few, s3 = _fingerprint(bams, tmp_path, name="c", max_sites=100)
    few2, _ = _fingerprint(bams, tmp_path, name="d", max_sites=100, chunk_variants=13)
    assert_frame_equal(few, few2)
    assert s3["sites"]["used"] == 100 and (few["n_sites"] == 100).all()
    assert (few.filter(pl.col("swap"))["declared_sample"].sort().to_list()
            == sorted(SWAP))


def test_tsv_output_and_command_line(bams, tmp_path):
    r = cli("fingerprint", bams["vcf"], *bams["paths"], "-o", str(tmp_path / "f"),
            "--format", "tsv", "--all-pairs")
    assert r.returncode == 0, r.stderr
    assert "2 swap, 2 match" in r.stderr or "2 match, 2 swap" in r.stderr
    table = pl.read_csv(tmp_path / "f.fingerprint.tsv", separator="\t", null_values="NA")
    assert table.height == 4 and table["swap"].sum() == 2
    assert (tmp_path / "f.fingerprint_pairs.tsv").exists()


@pytest.mark.parametrize("case", ["no_index", "no_sm", "missing_bam", "no_sites",
                                  "bad_error_rate", "bad_min_sites", "contig_names"])
def test_errors_are_one_line(bams, tmp_path, case):
    import pysam

    bam = bams["paths"][2]
    args = ["fingerprint", bams["vcf"], bam, "-o", "{tmp}/x"]
    code = 1
    if case == "no_index":
        copy = tmp_path / "copy.bam"
        copy.write_bytes(open(bam, "rb").read())
        args[2], text = str(copy), "no index"
    elif case == "no_sm":
        header = pysam.AlignmentFile(bam).header.to_dict()
        header.pop("RG")
        copy = tmp_path / "nosm.bam"
        with pysam.AlignmentFile(bam) as src, \
                pysam.AlignmentFile(str(copy), "wb", header=header) as dst:
            for read in src.fetch(until_eof=True):
                read.set_tag("RG", None)
                dst.write(read)
        pysam.index(str(copy))
        args[2], text = str(copy), "no read group with SM"
    elif case == "missing_bam":
        args[2], text = str(tmp_path / "none.bam"), "no such file"
    elif case == "no_sites":
        args += ["-r", "chr1:1-10"]
        text = "no fingerprint site"
    elif case == "bad_error_rate":
        args += ["--error-rate", "0.7"]
        code, text = 2, "--error-rate must be between 0 and 0.5"
    elif case == "bad_min_sites":
        args += ["--min-contamination-sites", "0"]
        code, text = 2, "--min-contamination-sites must be at least 1"
    else:
        # Contig names the BAM does not have: a warning, and nothing matches.
        renamed = tmp_path / "renamed.bam"
        header = pysam.AlignmentFile(bam).header.to_dict()
        for sq in header["SQ"]:
            sq["SN"] = sq["SN"].removeprefix("chr")
        with pysam.AlignmentFile(bam) as src, \
                pysam.AlignmentFile(str(renamed), "wb", header=header) as dst:
            for read in src.fetch(until_eof=True):
                dst.write(pysam.AlignedSegment.from_dict(read.to_dict(), dst.header))
        pysam.index(str(renamed))
        r = cli(*[a.replace("{tmp}", str(tmp_path)) for a in args[:2]], str(renamed), "-o",
                str(tmp_path / "y"))
        assert r.returncode == 0, r.stderr
        assert "fingerprint sites is on a contig of the BAM (sites on chr1, chr2; BAM " \
            "contigs 1, 2" in r.stderr
        row = pl.read_parquet(tmp_path / "y.fingerprint.parquet").row(0, named=True)
        assert row["n_sites_with_reads"] == 0 and row["result"] == "inconclusive"
        # No sample has a LOD term: none is the best match.
        assert row["best_sample"] is None and row["lod_best"] is None
        assert row["second_sample"] is None and row["contamination"] is None
        return
    assert_one_error_line(tmp_path, args, code, text)


def test_no_reads_at_the_sites_is_a_warning(bams, tmp_path):
    """Sites on the BAM's contigs but past the reads (150 kb from the first site): a warning
    saying so, and rows of no evidence."""
    end = bams["sim"].spans["chr1"][1]
    r = cli("fingerprint", bams["vcf"], bams["paths"][0], "-o", str(tmp_path / "f"), "-r",
            f"chr1:{end + 1000}-")
    assert r.returncode == 0, r.stderr
    assert "no reads at any of the" in r.stderr and "another region" in r.stderr
    row = pl.read_parquet(tmp_path / "f.fingerprint.parquet").row(0, named=True)
    assert row["n_sites"] > 0 and row["n_sites_with_reads"] == 0
    assert row["best_sample"] is None and row["result"] == "inconclusive"


_HEADER = """##fileformat=VCFv4.2
##contig=<ID=chr1,length=200000>
##contig=<ID=chrX,length=200000>
##contig=<ID=chrM,length=16569>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT"""


def _vcf(tmp_path, records, samples=("S1", "S2", "S3")) -> str:
    path = tmp_path / "in.vcf"
    lines = [_HEADER + "".join("\t" + s for s in samples)] if samples else \
        [_HEADER.rsplit("\t", 1)[0]]
    lines += ["\t".join(r.split()) for r in records]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize("case, records, text", [
    ("sites_only", ["chr1 100 . A G . . ."], "no samples (a sites-only VCF)"),
    ("no_records", [], "no fingerprint site: no records — "),
    ("indels_only", ["chr1 100 . A AG . . . GT 0/1 0/0 1/1",
                     "chr1 200 . CT C . . . GT 0/1 0/0 1/1"],
     "no fingerprint site: no biallelic SNV among the 2 records — "),
    ("multiallelic", ["chr1 100 . A G,T . . . GT 0/1 0/2 1/1"],
     "no fingerprint site: no biallelic SNV among the 1 record — "),
    ("odd_contigs", ["chrX 100 . A G . . . GT 0/1 0/0 1/1", "chrM 200 . C T . . . GT 0/1 0/0 1/1"],
     "no biallelic SNV on an autosome: the 2 SNVs are on chrX, chrM — "),
    ("no_gt", ["chr1 100 . A G . . . DP 5 6 7", "chr1 200 . C T . . . DP 5 6 7"],
     "no complete diploid GT call at the 2 biallelic autosomal SNVs — "),
    ("haploid", ["chr1 100 . A G . . . GT 0 1 1"],
     "no complete diploid GT call at the 1 biallelic autosomal SNV — "),
    ("monomorphic", ["chr1 100 . A G . . . GT 0/0 0/0 0/0", "chr1 200 . C T . . . GT 0/0 ./. 0/0"],
     "no site with MAF >= 0.05 and call rate >= 0.9 among the 2 called biallelic autosomal "
     "SNVs — lower --maf"),
    ("allele_index", ["chr1 100 . A G . . . GT 0/1 0/0 0/1", "chr1 200 . C T . . . GT 1/2 0/0 0/0",
                      "chr1 300 . C T . . . GT 0/5 0/0 0/0"],
     "in.vcf:chr1:200: genotype allele index beyond the 2 alleles of the record"),
])
def test_vcf_problems_are_one_line(bams, tmp_path, case, records, text):
    """VCFs fingerprint cannot use: one line saying which filter left no site, or the first
    malformed record."""
    vcf = _vcf(tmp_path, records, samples=() if case == "sites_only" else ("S1", "S2", "S3"))
    assert_one_error_line(tmp_path, ["fingerprint", vcf, bams["paths"][0], "-o", "{tmp}/x"], 1,
                          text)
