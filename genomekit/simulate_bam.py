"""Seeded BAM simulator: a reference FASTA and one sorted, indexed BAM per sample, whose
reads carry the samples' genotypes from a cohort VCF written by `genomekit simulate`.

Used by `genomekit simulate-bams`, the tests and the benchmarks. Python API::

    from genomekit.simulate_bam import BamSimConfig, simulate_bams

    sim = simulate_bams("cohort.vcf.gz", "bams/", samples=["KOR00001", "KOR00002"],
                        config=BamSimConfig(depth=20, span=300_000, seed=1),
                        swap=("KOR00001", "KOR00002"))
    sim.reference          # 'bams/reference.fa' (+ .fai): bases agree with the VCF REF alleles
    sim.bams["KOR00001"]   # 'bams/KOR00001.bam' (+ .bai); read groups carry SM=KOR00001
    sim.source["KOR00001"] # 'KOR00002': with ``swap`` the two files hold each other's reads
    sim.sex["KOR00001"]    # 'M' or 'F': the sex of the genome the reads come from
    sim.spans["chr1"]      # (start, end), 0-based half-open: where reads were drawn

What the reads carry:

* Genotypes: at every VCF site whose REF and ALT allele are single bases (SNVs), a read
  shows the allele of the haplotype it was drawn from: a heterozygous site shows each
  allele in about half of the reads, a homozygous site one allele. Missing calls, indel
  and ``*`` alleles read as REF. Haplotype 1 is the first GT allele, haplotype 2 the
  second (the first again for a haploid call).
* Sex (``sexes``, else inferred: a sample with a called chrY genotype is male): females
  have two X copies and no chrY reads; males have one X copy outside the PARs (half
  depth), two copies in the PARs (the Y copy of a PAR aligns to chrX, as on GRCh38
  analysis sets) and one chrY copy outside the PARs.
* Depth: ``depth`` is the mean depth of a two-copy region; fragments start uniformly
  inside each contig's span, with normal insert sizes; read pairs are FR, R1 forward or
  reverse at random.
* Noise, each at a configurable rate: PCR/optical duplicates (a second copy of the pair,
  both reads flagged 0x400), QC-failed pairs (0x200), pairs with one mate unmapped (the
  unmapped mate placed at its mate's position), unmapped pairs (at the end of the file),
  mates on another contig (not proper pairs), secondary (0x100) and supplementary (0x800,
  with hard clips, half of them near their mate and keeping the proper-pair flag, as BWA
  writes them), low mapping qualities, soft clips, insertions and deletions in the
  CIGAR, reads trimmed at their 3' end, read-through pairs (insert shorter than the read,
  the forward read untrimmed and single-M), sequencing errors, and, through the
  insert-size distribution, overlapping and fully overlapping mates.
* Extra contigs (``extra_contigs``): by default chrM at 10x the depth and one unplaced
  contig with no reads, both in the header and the FASTA.

Output is deterministic for a seed: a sample's BAM depends on the seed, the VCF and the
sample, not on which other samples are simulated. Files are written under temporary names
and renamed when complete.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
from dataclasses import dataclass, field

import numpy as np

from genomekit.genome import PARS, contig_kind

BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
# BAM CIGAR operation codes.
M, INS, DEL, SOFT, HARD = 0, 1, 2, 4, 5
# Flag bits.
PAIRED, PROPER, UNMAP, MUNMAP, REVERSE, MREVERSE = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
READ1, READ2, SECONDARY, QCFAIL, DUP, SUPPLEMENTARY = 0x40, 0x80, 0x100, 0x200, 0x400, 0x800
# Fragments are generated in windows of this many bp, to bound memory.
WINDOW = 1_000_000


@dataclass(frozen=True)
class BamSimConfig:
    """Parameters of the simulated sequencing; rates are per read pair unless noted."""

    depth: float = 20.0
    read_length: int = 150
    insert_mean: float = 350.0
    insert_sd: float = 80.0
    span: int | None = None  # bp with reads per contig, from 1 kb before its first site
    seed: int = 1
    build: str = "GRCh38"
    duplicate_rate: float = 0.05
    qcfail_rate: float = 0.01
    unmapped_mate_rate: float = 0.01
    unmapped_pair_rate: float = 0.003
    other_contig_rate: float = 0.004  # mate aligned to another contig
    secondary_rate: float = 0.01  # per pair: one mate gets a secondary alignment
    supplementary_rate: float = 0.006  # per pair: one mate is split (chimeric)
    low_mapq_rate: float = 0.04  # per read: MAPQ 0-19
    softclip_rate: float = 0.05  # per read
    indel_rate: float = 0.04  # per read: one insertion or deletion of 1-6 bp
    trim_rate: float = 0.05  # per read: 1-40 bases trimmed at the 3' end
    read_through_rate: float = 0.01  # insert shorter than the read length
    error_rate: float = 0.002  # per base
    read_groups: int = 2  # lanes, each an @RG with the same SM
    extra_contigs: tuple = (("chrM", 16569, 10.0), ("chrUn_KI270302v1", 2274, 0.0))
    compress_level: int = 6  # BAM (deflate) compression level, 0-9


@dataclass
class SimulatedBams:
    """What simulate_bams wrote; see the module docstring."""

    reference: str
    bams: dict[str, str] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)
    sex: dict[str, str] = field(default_factory=dict)
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)
    contigs: dict[str, int] = field(default_factory=dict)


@dataclass
class _Genotypes:
    """SNV alleles of the simulated samples: per contig, 0-based positions and, per
    sample, the base of haplotype 1 and 2 at each (uint8 ASCII; 0 = reference)."""

    contigs: dict[str, int]
    samples: list[str]
    sites: dict[str, np.ndarray]  # contig -> 0-based positions of every record
    refs: dict[str, list[str]]
    haps: dict[str, dict[str, np.ndarray]]  # contig -> sample -> (n_sites, 2) uint8
    y_called: dict[str, bool]


def _read_vcf(vcf: str, samples: list[str] | None) -> _Genotypes:
    import pysam

    with pysam.VariantFile(vcf) as vf:
        contigs = {name: int(c.length or 0) for name, c in vf.header.contigs.items()}
        names = list(vf.header.samples)
        wanted = names if samples is None else list(samples)
        unknown = [s for s in wanted if s not in names]
        if unknown:
            raise ValueError(f"{vcf}: no sample named '{unknown[0]}'")
        vf.subset_samples(wanted)
        pos: dict[str, list[int]] = {c: [] for c in contigs}
        refs: dict[str, list[str]] = {c: [] for c in contigs}
        alleles: dict[str, dict[str, list]] = {c: {s: [] for s in wanted} for c in contigs}
        y_called = dict.fromkeys(wanted, False)
        for rec in vf:
            chrom = rec.chrom
            if chrom not in pos:
                contigs[chrom] = 0
                pos[chrom], refs[chrom] = [], []
                alleles[chrom] = {s: [] for s in wanted}
            contigs[chrom] = max(contigs[chrom], rec.pos + len(rec.ref))
            pos[chrom].append(rec.pos - 1)
            refs[chrom].append(rec.ref)
            all_alleles = (rec.ref, *(rec.alts or ()))
            is_y = contig_kind(chrom) == "Y"
            for s in wanted:
                gt = rec.samples[s]["GT"] or (None,)
                a0 = gt[0]
                a1 = gt[1] if len(gt) > 1 else a0
                if is_y and a0 is not None:
                    y_called[s] = True
                alleles[chrom][s].append((_snv_base(rec.ref, all_alleles, a0),
                                          _snv_base(rec.ref, all_alleles, a1)))
    haps = {c: {s: np.array(alleles[c][s], dtype=np.uint8).reshape(-1, 2) for s in wanted}
            for c in contigs}
    sites = {c: np.array(pos[c], dtype=np.int64) for c in contigs}
    return _Genotypes(contigs, wanted, sites, refs, haps, y_called)


def _snv_base(ref: str, alleles: tuple, a) -> int:
    """ASCII base an SNV allele puts on a haplotype, 0 for the reference (or no SNV)."""
    if a is None or a == 0 or len(ref) != 1 or a >= len(alleles):
        return 0
    alt = alleles[a]
    return ord(alt) if len(alt) == 1 and alt in "ACGT" else 0


def _reference(gen: _Genotypes, cfg: BamSimConfig) -> dict[str, np.ndarray]:
    """Random ACGT sequence per contig (uint8 ASCII) with the VCF REF alleles in place."""
    seqs = {}
    for i, (name, length) in enumerate(gen.contigs.items()):
        rng = np.random.default_rng([cfg.seed, 7001, i])
        seq = BASES[rng.integers(0, 4, size=length)]
        for p, ref in zip(gen.sites[name], gen.refs[name]):
            b = ref.upper().encode()
            if all(ch in b"ACGTN" for ch in b):
                seq[p:p + len(b)] = np.frombuffer(b, np.uint8)
        seqs[name] = seq
    for j, (name, length, _) in enumerate(cfg.extra_contigs):
        rng = np.random.default_rng([cfg.seed, 7002, j])
        seqs[name] = BASES[rng.integers(0, 4, size=length)]
    return seqs


def write_fasta(seqs: dict[str, np.ndarray], path: str, width: int = 60) -> str:
    """Write the sequences as FASTA (``width`` bases a line) and index it (.fai)."""
    import pysam

    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as fh:
        for name, seq in seqs.items():
            fh.write(f">{name}\n".encode())
            full = len(seq) // width * width
            if full:
                rows = seq[:full].reshape(-1, width)
                lines = np.hstack([rows, np.full((rows.shape[0], 1), 10, np.uint8)])
                fh.write(lines.tobytes())
            if full < len(seq):
                fh.write(seq[full:].tobytes() + b"\n")
    os.replace(tmp, path)
    pysam.faidx(path)
    return path


def _spans(gen: _Genotypes, cfg: BamSimConfig) -> dict[str, tuple[int, int]]:
    spans = {}
    for name, length in gen.contigs.items():
        lo, hi = 0, length
        if cfg.span is not None:
            first = int(gen.sites[name][0]) if len(gen.sites[name]) else 0
            lo = max(0, first - 1000)
            hi = min(length, lo + cfg.span)
        spans[name] = (lo, hi)
    for name, length, _ in cfg.extra_contigs:
        spans[name] = (0, length)
    return spans


def _copy_segments(name: str, lo: int, hi: int, sex: str, build: str):
    """(start, end, haplotypes) pieces of [lo, hi): which genome copies cover them."""
    kind = contig_kind(name)
    if kind is None:
        return [(lo, hi, (0, 1))]
    pars = [(a - 1, b) for a, b in PARS[build][kind]]
    cuts = sorted({lo, hi, *[min(max(x, lo), hi) for ab in pars for x in ab]})
    out = []
    for a, b in zip(cuts, cuts[1:]):
        if a >= b:
            continue
        in_par = any(pa <= a < pb for pa, pb in pars)
        if kind == "X":
            haps = (0, 1) if sex == "F" or in_par else (0,)
        else:
            haps = (0,) if sex == "M" and not in_par else ()
        if haps:
            out.append((a, b, haps))
    return out


class _Sample:
    """Everything needed to write one sample's reads."""

    def __init__(self, gen, cfg, seqs, spans, source, sex, label):
        self.cfg = cfg
        self.seqs = seqs
        self.spans = spans
        self.sex = sex
        self.label = label
        self.names = list(seqs)
        self.tid = {n: i for i, n in enumerate(self.names)}
        # Haplotype sequences: the reference with the sample's SNV alleles.
        self.haps: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in self.names:
            ref = seqs[name]
            if name in gen.haps and len(gen.sites[name]):
                h = gen.haps[name][source]
                pos = gen.sites[name]
                h0, h1 = ref.copy(), ref.copy()
                for k, hk in ((0, h0), (1, h1)):
                    alt = h[:, k] > 0
                    hk[pos[alt]] = h[alt, k]
                self.haps[name] = (h0, h1)
            else:
                self.haps[name] = (ref, ref)
        self.rg = [f"{label}.L{i + 1}" for i in range(max(1, cfg.read_groups))]
        depth_of = {n: cfg.depth for n in gen.contigs}
        for n, _, mult in cfg.extra_contigs:
            depth_of[n] = cfg.depth * mult
        self.depth = depth_of
        # Contigs that may receive stray alignments (other-contig mates, secondary and
        # supplementary records): not chrY for a female, not empty extra contigs.
        self.targets = [n for n in self.names if spans[n][1] - spans[n][0] > 2000
                        and self.depth[n] > 0 and not (contig_kind(n) == "Y" and sex == "F")]
        # Binned base qualities, as NovaSeq writes them (Phred 37, 25, 12, 2).
        quals = np.random.default_rng([cfg.seed, 7003]).choice(
            np.frombuffer(b"FFFFF:-#", np.uint8), size=(64, cfg.read_length))
        self.quals = [q.tobytes().decode() for q in quals]

    def header(self) -> str:
        lines = ["@HD\tVN:1.6\tSO:coordinate"]
        lines += [f"@SQ\tSN:{n}\tLN:{len(self.seqs[n])}" for n in self.names]
        lines += [f"@RG\tID:{rg}\tSM:{self.label}\tLB:{self.label}.lib1\tPL:ILLUMINA\t"
                  f"PU:FC1.{i + 1}" for i, rg in enumerate(self.rg)]
        lines.append("@PG\tID:genomekit-simulate-bams\tPN:genomekit")
        return "\n".join(lines) + "\n"


# A record, as a list: the sort key first, then what pysam needs.
# [tid, pos, serial, qname, flag, mapq, cigar, mtid, mpos, tlen, seq, qual, tags]


def _cigar_span(cigar) -> int:
    if len(cigar) == 1:
        return cigar[0][1]
    return sum(n for op, n in cigar if op in (M, DEL))


def _random_bases(pr: random.Random, n: int) -> bytes:
    return "".join(pr.choices("ACGT", k=n)).encode()


def _shape(u: list, k: int, cfg: BamSimConfig, qlen: int):
    """Soft clips and indel of one read from the uniforms u[k:k+6]: (left clip, right
    clip, indel: > 0 insertion, < 0 deletion)."""
    clip_left = clip_right = indel = 0
    if u[k] < cfg.softclip_rate:
        c = 3 + int(u[k + 1] * 28)
        if u[k + 2] < 0.5:
            clip_left = c
        else:
            clip_right = c
    if u[k + 3] < cfg.indel_rate:
        n = 1 + int(u[k + 4] * 6)
        indel = n if u[k + 5] < 0.5 else -n
    if clip_left + clip_right + 2 * abs(indel) + 20 > qlen:
        return 0, 0, 0
    return clip_left, clip_right, indel


def _cigar(qlen: int, clip_left: int, clip_right: int, indel: int, where: float) -> list:
    """CIGAR of a read of qlen bases; the indel sits at a fraction ``where`` of the
    aligned part (never within 5 bases of its ends)."""
    if not (clip_left or clip_right or indel):
        return [(M, qlen)]
    body = qlen - clip_left - clip_right
    cigar = [(SOFT, clip_left)] if clip_left else []
    if indel:
        k = abs(indel)
        aligned = body - k if indel > 0 else body
        a = 5 + int(where * (aligned - 10))
        cigar += [(M, a), (INS if indel > 0 else DEL, k), (M, aligned - a)]
    else:
        cigar.append((M, body))
    if clip_right:
        cigar.append((SOFT, clip_right))
    return cigar


def _sequence(pr: random.Random, hap: np.ndarray, pos: int, cigar, error_rate: float) -> str:
    """Bases of a read aligned at ``pos`` with ``cigar``: the haplotype's bases under M,
    random bases for insertions and soft clips, and sequencing errors."""
    if len(cigar) == 1:
        seq = hap[pos:pos + cigar[0][1]].tobytes()
        return _add_errors(pr, seq, error_rate).decode()
    parts = []
    p = pos
    for op, n in cigar:
        if op == M:
            parts.append(hap[p:p + n].tobytes())
            p += n
        elif op == DEL:
            p += n
        elif op in (INS, SOFT):
            parts.append(_random_bases(pr, n))
    return _add_errors(pr, b"".join(parts), error_rate).decode()


def _poisson(pr: random.Random, lam: float) -> int:
    """A Poisson draw by inversion (for the small means of per-read counts)."""
    k, p = 0, math.exp(-lam)
    total, u = p, pr.random()
    while u > total and p > 0:
        k += 1
        p *= lam / k
        total += p
    return k


def _add_errors(pr: random.Random, seq: bytes, error_rate: float) -> bytes:
    n = _poisson(pr, error_rate * len(seq)) if error_rate > 0 else 0
    if not n:
        return seq
    buf = bytearray(seq)
    for _ in range(n):
        i = pr.randrange(len(buf))
        buf[i] = b"ACGT"[(b"ACGT".find(buf[i]) + pr.randrange(1, 4)) % 4]
    return bytes(buf)


def _qual(s: _Sample, which: float, n: int):
    q = s.quals[int(which * len(s.quals))]
    return q if n == len(q) else q[:n]


_CIGAR_TEXT: dict = {}


def _cigar_string(cigar) -> str:
    if cigar is None:
        return "*"
    key = tuple(cigar)
    text = _CIGAR_TEXT.get(key)
    if text is None:
        text = _CIGAR_TEXT[key] = "".join(f"{n}{'MIDNSHP=X'[op]}" for op, n in cigar)
    return text


def _pair(s: _Sample, pr: random.Random, u: list, tid: int, start: int, end: int, hap: np.ndarray,
          serial: int, qname: str, rg: str, read_through: bool) -> list:
    """The two records of a proper pair over the fragment [start, end); ``u`` holds 24
    uniforms that decide the reads' shapes."""
    cfg = s.cfg
    L = cfg.read_length
    insert = end - start
    if read_through:
        # Insert shorter than the read: the forward read runs on (one M), the reverse
        # read covers the insert, half the time trimmed at its 3' (left) end.
        trim = min(int(u[0] * 21), insert - 20) if u[1] < 0.5 else 0
        f_cig = [(M, L)]
        r_cig = [(M, insert - trim)]
        f_pos, r_pos = start, start + trim
    else:
        qf = L - (1 + int(u[1] * 40) if u[0] < cfg.trim_rate else 0)
        qr = L - (1 + int(u[3] * 40) if u[2] < cfg.trim_rate else 0)
        f_cig = _cigar(qf, *_shape(u, 4, cfg, qf), u[16])
        r_cig = _cigar(qr, *_shape(u, 10, cfg, qr), u[17])
        # The reverse read ends at the fragment's end (never starts before it).
        f_pos = start
        r_pos = max(start, end - _cigar_span(r_cig))
    f_seq = _sequence(pr, hap, f_pos, f_cig, cfg.error_rate)
    r_seq = _sequence(pr, hap, r_pos, r_cig, cfg.error_rate)
    tlen = max(f_pos + _cigar_span(f_cig), r_pos + _cigar_span(r_cig)) - min(f_pos, r_pos)
    r1_forward = u[18] < 0.5
    f_flag = PAIRED | PROPER | MREVERSE | (READ1 if r1_forward else READ2)
    r_flag = PAIRED | PROPER | REVERSE | (READ2 if r1_forward else READ1)
    mq_f = int(u[20] * 20) if u[19] < cfg.low_mapq_rate else 60
    mq_r = int(u[22] * 20) if u[21] < cfg.low_mapq_rate else 60
    # The leftmost read gets the positive TLEN; on a tie, the forward read.
    f_tlen = tlen if f_pos <= r_pos else -tlen
    fwd = [tid, f_pos, serial, qname, f_flag, mq_f, f_cig, tid, r_pos, f_tlen, f_seq,
           _qual(s, u[23], len(f_seq)), [("RG", rg), ("MC", _cigar_string(r_cig))]]
    rev = [tid, r_pos, serial + 1, qname, r_flag, mq_r, r_cig, tid, f_pos, -f_tlen, r_seq,
           _qual(s, u[22], len(r_seq)), [("RG", rg), ("MC", _cigar_string(f_cig))]]
    return [fwd, rev]


def _unmap(rec: list, mate: list) -> None:
    """Make ``rec`` an unmapped read placed at its mapped mate's position."""
    rg = rec[12][0]
    rec[1] = mate[1]
    rec[2] = mate[2] + 1  # after its mate
    rec[4] = (rec[4] & ~(PROPER | REVERSE)) | UNMAP
    rec[5] = 0
    rec[6] = None
    rec[8] = mate[1]
    rec[9] = 0
    rec[12] = [rg]
    mate[4] = (mate[4] & ~(PROPER | MREVERSE)) | MUNMAP
    mate[8] = mate[1]
    mate[9] = 0
    mate[12] = [mate[12][0]]


def _random_place(s: _Sample, pr: random.Random, avoid: str | None, length: int):
    """A contig (chosen in proportion to its span) and position for a stray alignment of
    ``length`` bp."""
    choices = [n for n in s.targets if n != avoid] or s.targets
    name = pr.choices(choices, weights=[s.spans[n][1] - s.spans[n][0] for n in choices])[0]
    lo, hi = s.spans[name]
    return name, pr.randrange(lo, max(lo + 1, hi - length - 20))


def _stray_records(s: _Sample, pr: random.Random, n_units: dict[str, int]) -> dict[str, list]:
    """Pairs whose records fall on two contigs or places: mates on different contigs,
    secondary and supplementary alignments. Returns the records by contig, sorted."""
    cfg = s.cfg
    L = cfg.read_length
    out: dict[str, list] = {n: [] for n in s.names}
    serial = 0
    for kind, count in n_units.items():
        for i in range(count):
            qname = f"{s.label}:{kind}:{i}"
            rg = s.rg[i % len(s.rg)]
            a_name, a_pos = _random_place(s, pr, None, 1000)
            ta = s.tid[a_name]
            hap_a = s.haps[a_name][pr.randrange(2)]
            serial += 10
            if kind == "other":
                b_name, b_pos = _random_place(s, pr, a_name, L)
                tb = s.tid[b_name]
                cig = [(M, L)]
                ra = [ta, a_pos, serial, qname, PAIRED | READ1 | MREVERSE, 60, cig, tb, b_pos,
                      0, _sequence(pr, hap_a, a_pos, cig, cfg.error_rate),
                      _qual(s, pr.random(), L), [("RG", rg), ("MC", f"{L}M")]]
                rb = [tb, b_pos, serial + 1, qname, PAIRED | READ2 | REVERSE, 60, cig, ta,
                      a_pos, 0, _sequence(pr, s.haps[b_name][0], b_pos, cig, cfg.error_rate),
                      _qual(s, pr.random(), L), [("RG", rg), ("MC", f"{L}M")]]
                out[a_name].append(ra)
                out[b_name].append(rb)
                continue
            insert = pr.randrange(L + 50, 2 * L + 200)
            pair = _pair(s, pr, [pr.random() for _ in range(24)], ta, a_pos, a_pos + insert, hap_a,
                         serial, qname, rg, False)
            which = pair[pr.randrange(2)]
            if kind == "secondary":
                b_name, b_pos = _random_place(s, pr, None, L)
                out[b_name].append(
                    [s.tid[b_name], b_pos, serial + 2, qname,
                     (which[4] & ~(PROPER | REVERSE)) | SECONDARY, 0, [(M, L)], which[7],
                     which[8], 0, None, None, [("RG", rg)]])
            else:  # supplementary: the read's tail aligns elsewhere, hard-clipped there
                qlen = len(which[10])
                head = pr.randrange(40, qlen - 40)
                which[6] = [(M, head), (SOFT, qlen - head)]
                if pr.random() < 0.5:  # near its mate, keeping the proper-pair flag
                    b_name, b_pos = a_name, a_pos + pr.randrange(400)
                    flag = which[4] | SUPPLEMENTARY
                else:
                    b_name, b_pos = _random_place(s, pr, a_name, L)
                    flag = (which[4] & ~PROPER) | SUPPLEMENTARY
                cig = [(M, qlen - head)]
                sq = _sequence(pr, s.haps[b_name][0], b_pos, cig, cfg.error_rate)
                mapq = pr.randrange(61)
                sup = [s.tid[b_name], b_pos, serial + 2, qname, flag, mapq,
                       [(HARD, head)] + cig, which[7], which[8], which[9], sq,
                       _qual(s, pr.random(), len(sq)),
                       [("RG", rg), ("SA", f"{a_name},{which[1] + 1},+,{head}M{qlen - head}S,"
                                           f"{which[5]},0;")]]
                which[12].append(("SA", f"{b_name},{b_pos + 1},+,{head}H{qlen - head}M,"
                                        f"{mapq},0;"))
                out[b_name].append(sup)
            out[a_name] += pair
    for recs in out.values():
        recs.sort(key=lambda r: (r[1], r[2]))
    return out


def _contig_records(s: _Sample, rng, name: str, stray: list):
    """Records of one contig in coordinate order, generated window by window."""
    cfg = s.cfg
    L = cfg.read_length
    tid = s.tid[name]
    lo, hi = s.spans[name]
    # Room for a read-through forward read and a deletion past the fragment's end.
    hi = min(hi, len(s.seqs[name]) - L - 10)
    segments = _copy_segments(name, lo, hi, s.sex, cfg.build) if s.depth[name] > 0 else []
    pr = random.Random(int(rng.integers(1 << 62)))
    pending: list = []
    stray_i = 0
    serial = 0
    for w in range(lo, max(hi, lo + 1), WINDOW):
        w_end = min(w + WINDOW, hi)
        new: list = []
        for a, b, haps in segments:
            a2, b2 = max(a, w), min(b, w_end)
            if a2 >= b2:
                continue
            lam = s.depth[name] * len(haps) / 2 * (b2 - a2) / (2 * L)
            n = int(rng.poisson(lam))
            starts = np.sort(rng.integers(a2, b2, size=n)).tolist()
            inserts = np.maximum(rng.normal(cfg.insert_mean, cfg.insert_sd, size=n), L + 1)
            through = (rng.random(n) < cfg.read_through_rate).tolist()
            inserts = np.where(through, rng.integers(60, L, size=n), inserts)
            inserts = inserts.astype(np.int64).tolist()
            which_hap = rng.integers(0, len(haps), size=n).tolist()
            draws = rng.random((n, 28)).tolist()
            for i in range(n):
                start, end = starts[i], starts[i] + inserts[i]
                if end > hi:
                    continue
                u = draws[i]
                hap = s.haps[name][haps[which_hap[i]]]
                serial += 10
                qname = f"{s.label}:{tid}:{serial // 10}"
                rg = s.rg[(serial // 10) % len(s.rg)]
                pair = _pair(s, pr, u, tid, start, end, hap, serial, qname, rg, through[i])
                if u[24] < cfg.qcfail_rate:
                    for rec in pair:
                        rec[4] |= QCFAIL
                if u[25] < cfg.unmapped_mate_rate:
                    k = int(u[26] < 0.5)
                    _unmap(pair[k], pair[1 - k])
                new += pair
                if u[27] < cfg.duplicate_rate:
                    for rec in pair:
                        dup = list(rec)
                        dup[2] = rec[2] + 5
                        dup[3] = qname + ":dup"
                        dup[4] = rec[4] | DUP
                        new.append(dup)
        while stray_i < len(stray) and stray[stray_i][1] < w_end:
            new.append(stray[stray_i])
            stray_i += 1
        pending += new
        pending.sort(key=lambda r: (r[1], r[2]))
        cut = len(pending)
        if w_end < hi:
            cut = 0
            while cut < len(pending) and pending[cut][1] < w_end:
                cut += 1
        yield from pending[:cut]
        pending = pending[cut:]
    yield from sorted(pending + stray[stray_i:], key=lambda r: (r[1], r[2]))


def _sam_lines(s: _Sample, records) -> str:
    """SAM text of records (the lists described above)."""
    names = s.names
    out = []
    for tid, pos, _serial, qname, flag, mapq, cigar, mtid, mpos, tlen, seq, qual, tags in records:
        rname = names[tid] if tid >= 0 else "*"
        rnext = "*" if mtid < 0 else "=" if mtid == tid else names[mtid]
        tag_text = "\t".join(f"{k}:Z:{v}" for k, v in tags)
        out.append(f"{qname}\t{flag}\t{rname}\t{pos + 1}\t{mapq}\t{_cigar_string(cigar)}\t"
                   f"{rnext}\t{mpos + 1}\t{tlen}\t{seq or '*'}\t{qual or '*'}\t{tag_text}\n")
    return "".join(out)


# Converts SAM text on stdin to BAM with pysam's bundled samtools, in a second process
# so that compression runs beside the read generation.
_SAM_TO_BAM = "import pysam, sys; pysam.samtools.view(*sys.argv[1:], catch_stdout=False)"


def _write_bam(s: _Sample, path: str, threads: int) -> str:
    import subprocess
    import sys

    import pysam

    cfg = s.cfg
    rng = np.random.default_rng([cfg.seed, 7100, _stable_hash(s.label)])
    n_pairs = sum((s.spans[n][1] - s.spans[n][0]) * s.depth[n] / (2 * cfg.read_length)
                  for n in s.names if s.depth[n] > 0)
    units = {"other": int(rng.poisson(n_pairs * cfg.other_contig_rate)),
             "secondary": int(rng.poisson(n_pairs * cfg.secondary_rate)),
             "supplementary": int(rng.poisson(n_pairs * cfg.supplementary_rate))}
    pr = random.Random(int(rng.integers(1 << 62)))
    stray = _stray_records(s, pr, units) if s.targets else {n: [] for n in s.names}
    tmp = f"{path}.tmp{os.getpid()}.bam"
    cmd = [sys.executable, "-c", _SAM_TO_BAM, "-b", "--no-PG", "-o", tmp,
           "--output-fmt-option", f"level={cfg.compress_level}", "-@", str(max(1, threads)),
           "-"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with proc.stdin as sink:
            sink.write(s.header().encode())
            for name in s.names:
                crng = np.random.default_rng([cfg.seed, 7200, _stable_hash(s.label),
                                              s.tid[name]])
                batch = []
                for r in _contig_records(s, crng, name, stray[name]):
                    batch.append(r)
                    if len(batch) == 20_000:
                        sink.write(_sam_lines(s, batch).encode())
                        batch = []
                sink.write(_sam_lines(s, batch).encode())
            unmapped = []
            for u in range(int(rng.poisson(n_pairs * cfg.unmapped_pair_rate))):
                qname = f"{s.label}:unmapped:{u}"
                rg = s.rg[u % len(s.rg)]
                for flag in (PAIRED | UNMAP | MUNMAP | READ1 | MREVERSE,
                             PAIRED | UNMAP | MUNMAP | READ2 | REVERSE):
                    seq = _random_bases(pr, cfg.read_length).decode()
                    unmapped.append([-1, -1, 0, qname, flag, 0, None, -1, -1, 0, seq,
                                     _qual(s, pr.random(), len(seq)), [("RG", rg)]])
            sink.write(_sam_lines(s, unmapped).encode())
    except BrokenPipeError:
        pass  # samtools stopped: its exit status and message are reported below
    finally:
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        rc = proc.wait()
    if rc != 0:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise RuntimeError(f"writing {path} failed: {err.strip()[-500:]}")
    pysam.index(tmp)
    os.replace(tmp + ".bai", path + ".bai")
    os.replace(tmp, path)
    return path


def _stable_hash(text: str) -> int:
    h = 1469598103934665603
    for ch in text.encode():
        h = ((h ^ ch) * 1099511628211) & 0xFFFFFFFFFFFF
    return h


def infer_sexes(vcf: str, samples: list[str] | None = None) -> dict[str, str]:
    """'M' for samples with a called chrY genotype, else 'F'."""
    gen = _read_vcf(vcf, samples)
    return {smp: "M" if gen.y_called[smp] else "F" for smp in gen.samples}


def simulate_bams(vcf: str, out_dir: str, samples: list[str] | None = None, *,
                  config: BamSimConfig | None = None, swap: tuple[str, str] | None = None,
                  sexes: dict[str, str] | None = None, threads: int = 1,
                  progress=None) -> SimulatedBams:
    """Write ``out_dir/reference.fa`` (+ .fai) and ``out_dir/<sample>.bam`` (+ .bai).

    Parameters
    ----------
    vcf : a VCF/BCF from `genomekit simulate` (any VCF with contig lengths and GT works).
    out_dir : output folder, created if needed.
    samples : samples to write a BAM for (default: every sample of the VCF).
    config : sequencing parameters (BamSimConfig()).
    swap : two sample names whose BAMs swap contents: each file keeps its own name and SM
        but carries the other sample's reads (genotypes and sex).
    sexes : 'M'/'F' per sample; default from the VCF (a called chrY genotype means male).
    threads : BAM compression threads.
    progress : optional genomekit.progress.Progress, advanced by one per BAM written.
    """
    cfg = config or BamSimConfig()
    wanted = list(samples) if samples is not None else None
    if swap is not None:
        if len(swap) != 2 or swap[0] == swap[1]:
            raise ValueError("swap needs two different sample names")
        if wanted is not None:
            wanted += [x for x in swap if x not in wanted]
    gen = _read_vcf(vcf, wanted)
    cfg = dataclasses.replace(cfg, extra_contigs=tuple(
        e for e in cfg.extra_contigs if e[0] not in gen.contigs))
    if wanted is None:
        wanted = list(gen.samples)
    if swap is not None and any(x not in gen.samples for x in swap):
        raise ValueError(f"{vcf}: swap names a sample the VCF does not have")
    sex = {smp: "M" if gen.y_called[smp] else "F" for smp in gen.samples}
    if sexes:
        sex.update({k: v for k, v in sexes.items() if k in sex})
    os.makedirs(out_dir, exist_ok=True)
    seqs = _reference(gen, cfg)
    result = SimulatedBams(reference=write_fasta(seqs, os.path.join(out_dir, "reference.fa")))
    spans = _spans(gen, cfg)
    result.spans = spans
    result.contigs = {n: len(q) for n, q in seqs.items()}
    for label in wanted:
        source = label
        if swap is not None and label in swap:
            source = swap[1] if label == swap[0] else swap[0]
        smp = _Sample(gen, cfg, seqs, spans, source, sex[source], label)
        path = os.path.join(out_dir, f"{label}.bam")
        result.bams[label] = _write_bam(smp, path, threads)
        result.source[label] = source
        result.sex[label] = sex[source]
        if progress is not None:
            progress.update(1, label)
    return result
