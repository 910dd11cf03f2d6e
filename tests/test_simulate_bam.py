"""The BAM simulator (genomekit.simulate_bam, `genomekit simulate-bams`): the reference
agrees with the VCF, reads carry each sample's genotypes and sex, the files are sorted,
indexed and named by read group, every kind of noise occurs, swaps swap, and a seed
gives the same files."""

from __future__ import annotations

import collections
import subprocess

import pysam
import pytest

from genomekit.genome import PARS
from genomekit.simulate_bam import BamSimConfig, infer_sexes, simulate_bams
from tests.conftest import assert_one_error_line, cli, need_tool

MALE, FEMALE, FEMALE2 = "KOR00001", "KOR00003", "KOR00005"
PAR1_END = PARS["GRCh38"]["X"][0][1]


def records(path) -> list[str]:
    with pysam.AlignmentFile(path) as bam:
        return [r.to_string() for r in bam.fetch(until_eof=True)]


def snv_genotypes(vcf, sample):
    """{(chrom, pos0): (ref, alt base of haplotype 1 or None, of haplotype 2)} for SNVs."""
    out = {}
    with pysam.VariantFile(vcf) as vf:
        vf.subset_samples([sample])
        for rec in vf:
            if len(rec.ref) != 1:
                continue
            gt = rec.samples[sample]["GT"]
            alleles = (rec.ref, *(rec.alts or ()))
            bases = []
            for a in (gt[0], gt[1] if len(gt) > 1 else gt[0]):
                allele = alleles[a] if a is not None else rec.ref
                bases.append(allele if len(allele) == 1 and allele in "ACGT" else rec.ref)
            out[(rec.chrom, rec.pos - 1)] = (rec.ref, bases[0], bases[1])
    return out


def base_counts(bam_path, chrom, pos0):
    with pysam.AlignmentFile(bam_path) as bam:
        a, c, g, t = bam.count_coverage(chrom, pos0, pos0 + 1, quality_threshold=0,
                                        read_callback="nofilter")
    return {"A": a[0], "C": c[0], "G": g[0], "T": t[0]}


@pytest.fixture(scope="module")
def trio(make_bams):
    return make_bams("trio", [MALE, FEMALE, FEMALE2])


def test_reference_agrees_with_vcf(trio, bam_cohort):
    fasta = pysam.FastaFile(trio.reference)
    with pysam.VariantFile(bam_cohort["vcf"]) as vf:
        contigs = {n: c.length for n, c in vf.header.contigs.items()}
        n = 0
        for rec in vf:
            assert fasta.fetch(rec.chrom, rec.pos - 1, rec.pos - 1 + len(rec.ref)) == rec.ref
            n += 1
    assert n == 1500
    for name, length in contigs.items():
        assert fasta.get_reference_length(name) == length
    assert set(fasta.references) == set(contigs) | {"chrM", "chrUn_KI270302v1"}
    with pysam.AlignmentFile(trio.bams[MALE]) as bam:
        assert dict(zip(bam.references, bam.lengths)) == dict(zip(fasta.references,
                                                                   fasta.lengths))


def test_reads_carry_the_genotypes(trio, bam_cohort):
    """Alt-allele fractions: about 1/2 at heterozygous SNVs, about 1 at homozygous ones."""
    for sample in (MALE, FEMALE):
        het, hom_alt, hom_ref = [], [], []
        for (chrom, pos), (ref, b1, b2) in snv_genotypes(bam_cohort["vcf"], sample).items():
            lo, hi = trio.spans[chrom]
            if not lo + 500 <= pos < hi - 500 or chrom not in ("chr1", "chr2"):
                continue
            counts = base_counts(trio.bams[sample], chrom, pos)
            depth = sum(counts.values())
            if depth < 4:
                continue
            if b1 != b2:
                het.append((counts[b1] if b1 != ref else counts[b2]) / depth)
            elif b1 != ref:
                hom_alt.append(counts[b1] / depth)
            else:
                hom_ref.append(1 - counts[ref] / depth)
        assert len(het) > 20 and len(hom_alt) > 5 and len(hom_ref) > 100
        assert 0.4 < sum(het) / len(het) < 0.6
        assert sum(hom_alt) / len(hom_alt) > 0.95
        assert sum(hom_ref) / len(hom_ref) < 0.02


def test_sex_of_the_reads(trio, bam_cohort):
    def depth(path, chrom, lo, hi):
        with pysam.AlignmentFile(path) as bam:
            cov = bam.count_coverage(chrom, lo, hi, quality_threshold=0)
        return sum(sum(x) for x in cov) / (hi - lo)

    assert trio.sex == {MALE: "M", FEMALE: "F", FEMALE2: "F"}
    for sample in trio.bams:
        lo, hi = trio.spans["chr1"]
        auto = depth(trio.bams[sample], "chr1", lo + 1000, hi - 1000)
        x = depth(trio.bams[sample], "chrX", PAR1_END + 1000, trio.spans["chrX"][1] - 1000)
        with pysam.AlignmentFile(trio.bams[sample]) as bam:
            y_reads = sum(1 for r in bam.fetch("chrY") if not r.is_unmapped)
            x_par = sum(1 for r in bam.fetch("chrX", 0, PAR1_END - 300)
                        if not r.is_secondary and not r.is_supplementary)
        if trio.sex[sample] == "M":
            assert 0.4 < x / auto < 0.6 and y_reads > 100
        else:
            assert 0.85 < x / auto < 1.15 and y_reads == 0
        assert x_par > 0
    # The sexes come from the VCF: a called chrY genotype means male.
    assert infer_sexes(bam_cohort["vcf"], [MALE, FEMALE]) == {MALE: "M", FEMALE: "F"}


def test_files_are_sorted_indexed_and_named(trio):
    samtools = need_tool("samtools")
    for sample, path in trio.bams.items():
        subprocess.run([samtools, "quickcheck", path], check=True)
        with pysam.AlignmentFile(path) as bam:
            assert bam.header.to_dict()["HD"]["SO"] == "coordinate"
            groups = bam.header.to_dict()["RG"]
            assert len(groups) == 2 and {g["SM"] for g in groups} == {sample}
            assert bam.check_index()
            last = (-1, -1)
            unplaced = False
            for r in bam.fetch(until_eof=True):
                if r.reference_id < 0:
                    unplaced = True
                    continue
                assert not unplaced
                key = (r.reference_id, r.reference_start)
                assert key >= last
                last = key
            assert unplaced


def test_every_kind_of_noise_occurs(trio):
    seen = collections.Counter()
    with pysam.AlignmentFile(trio.bams[MALE]) as bam:
        for r in bam.fetch(until_eof=True):
            f = r.flag
            for bit, name in ((0x400, "duplicate"), (0x100, "secondary"),
                              (0x800, "supplementary"), (0x200, "qcfail"),
                              (0x4, "unmapped"), (0x8, "mate_unmapped")):
                if f & bit:
                    seen[name] += 1
            if r.reference_id < 0:
                seen["unplaced"] += 1
            if r.is_paired and not r.mate_is_unmapped and r.reference_id >= 0 \
                    and r.next_reference_id not in (r.reference_id, -1):
                seen["mate_other_contig"] += 1
            if not r.is_unmapped and r.mapping_quality < 20:
                seen["low_mapq"] += 1
            for op, _ in r.cigartuples or ():
                seen["cigar_" + "MIDNSHP=X"[op]] += 1
            if r.cigartuples and len(r.cigartuples) == 1 and r.query_length < 150:
                seen["trimmed"] += 1
            if r.is_proper_pair and not r.is_supplementary and r.is_reverse is False \
                    and r.next_reference_start < r.reference_end:
                seen["overlapping_mates"] += 1
                if r.next_reference_start == r.reference_start:
                    seen["same_start_mates"] += 1
            if r.is_proper_pair and r.is_reverse and r.template_length < 0 \
                    and -r.template_length < r.query_length:
                seen["read_through"] += 1
    for kind in ("duplicate", "secondary", "supplementary", "qcfail", "unmapped",
                 "mate_unmapped", "unplaced", "mate_other_contig", "low_mapq", "cigar_I",
                 "cigar_D", "cigar_S", "cigar_H", "trimmed", "overlapping_mates",
                 "same_start_mates"):
        assert seen[kind] > 0, kind


def test_seed_gives_the_same_files(make_bams, trio):
    alone = make_bams("alone", [FEMALE])
    assert records(alone.bams[FEMALE]) == records(trio.bams[FEMALE])
    other = make_bams("seed2", [FEMALE], seed=2)
    assert records(other.bams[FEMALE]) != records(trio.bams[FEMALE])


def test_swap(make_bams, bam_cohort):
    sim = make_bams("swap", [MALE, FEMALE], swap=(MALE, FEMALE))
    assert sim.source == {MALE: FEMALE, FEMALE: MALE}
    assert sim.sex == {MALE: "F", FEMALE: "M"}
    with pysam.AlignmentFile(sim.bams[MALE]) as bam:
        assert {g["SM"] for g in bam.header.to_dict()["RG"]} == {MALE}
        assert bam.count("chrY") == 0
    # At SNVs where the two differ, MALE's file shows FEMALE's alleles.
    g_m = snv_genotypes(bam_cohort["vcf"], MALE)
    g_f = snv_genotypes(bam_cohort["vcf"], FEMALE)
    agree = disagree = 0
    for key, (_ref, f1, f2) in g_f.items():
        chrom, pos = key
        lo, hi = sim.spans[chrom]
        if chrom != "chr1" or not lo + 500 <= pos < hi - 500:
            continue
        m1, m2 = g_m[key][1:]
        if {f1, f2} == {m1, m2} or f1 != f2 or m1 != m2:
            continue  # compare homozygous sites where the two samples differ
        counts = base_counts(sim.bams[MALE], chrom, pos)
        if sum(counts.values()) < 4:
            continue
        if counts[f1] > counts[m1]:
            agree += 1
        else:
            disagree += 1
    assert agree > 10 and disagree == 0


def test_cli_simulate_bams(tmp_path, bam_cohort):
    r = cli("simulate-bams", bam_cohort["vcf"], "-o", str(tmp_path / "b"), "--samples",
            FEMALE, "--depth", "3", "--span", "20000", "--sexes", bam_cohort["pops"])
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "b" / f"{FEMALE}.bam.bai").exists()
    assert (tmp_path / "b" / "reference.fa.fai").exists()
    assert_one_error_line(tmp_path, ["simulate-bams", bam_cohort["vcf"], "-o",
                                     str(tmp_path / "b"), "--samples", FEMALE], 2, "exists")
    assert_one_error_line(tmp_path, ["simulate-bams", bam_cohort["vcf"], "-o", "{tmp}/x",
                                     "--samples", "NOBODY"], 1, "no sample named 'NOBODY'")
    assert_one_error_line(tmp_path, ["simulate-bams", bam_cohort["vcf"], "-o", "{tmp}/x",
                                     "--swap", FEMALE], 2, "--swap")


def test_config_rates_zero_gives_clean_pairs(tmp_path, bam_cohort):
    clean = BamSimConfig(depth=3, span=20_000, compress_level=1, duplicate_rate=0,
                         qcfail_rate=0, unmapped_mate_rate=0, unmapped_pair_rate=0,
                         other_contig_rate=0, secondary_rate=0, supplementary_rate=0,
                         low_mapq_rate=0, softclip_rate=0, indel_rate=0, trim_rate=0,
                         read_through_rate=0, error_rate=0)
    sim = simulate_bams(bam_cohort["vcf"], str(tmp_path), [FEMALE], config=clean)
    with pysam.AlignmentFile(sim.bams[FEMALE]) as bam:
        reads = list(bam.fetch(until_eof=True))
    assert reads and all(r.flag & 0xF0C == 0 and r.is_proper_pair and r.cigarstring == "150M"
                         and r.mapping_quality == 60 for r in reads)
