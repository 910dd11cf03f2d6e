"""A seeded cohort generator: population structure, multi-allelic sites, indels,
missing calls, sex chromosomes with PARs. Used by `genomekit simulate`, the
demo, the tests and the benchmarks.

Allele frequencies follow the Balding-Nichols model: an ancestral frequency
vector per site (Dirichlet), and per population a Dirichlet draw around it
with the population's F_ST. Genotypes are two draws from the population's
frequencies, with a per-site inbreeding probability that makes some sites
depart from Hardy-Weinberg equilibrium.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from genomekit.genome import PARS

# Population, share of the cohort, F_ST against the ancestral frequencies.
DEFAULT_POPULATIONS = (("KOR", 0.94, 0.005), ("JPN", 0.02, 0.01), ("CHN", 0.02, 0.01),
                       ("EUR", 0.02, 0.1))
BASES = np.array(list("ACGT"))


@dataclass
class SimConfig:
    n_samples: int = 500
    n_sites: int = 5000
    seed: int = 1
    populations: tuple = DEFAULT_POPULATIONS
    contigs: tuple = ("chr1", "chr2", "chrX", "chrY")
    contig_share: tuple = (0.45, 0.35, 0.17, 0.03)
    multiallelic_rate: float = 0.06
    max_alt: int = 3
    many_allele_sites: int = 0  # sites with 12 alleles (two-digit allele indices)
    indel_rate: float = 0.1
    star_rate: float = 0.01
    missing_rate: tuple = (0.01, 0.05)  # per-sample missing-call rate range
    half_call_rate: float = 0.0
    phased_rate: float = 0.0
    male_x: str = "haploid"  # how males are written outside the PARs: haploid '1' or diploid '1/1'
    male_het_rate: float = 0.0  # male heterozygous error calls outside the PARs
    inbred_site_rate: float = 0.05
    fields: tuple = ("GT",)
    build: str = "GRCh38"
    samples: list = field(default_factory=list)


@dataclass
class Cohort:
    samples: list[str]
    population: list[str]
    sex: list[str]  # 'M' / 'F'
    chrom: list[str]
    pos: np.ndarray
    ref: list[str]
    alts: list[list[str]]


def _sample_table(cfg: SimConfig, rng) -> tuple[list[str], list[str], list[str]]:
    shares = np.array([p[1] for p in cfg.populations], dtype=float)
    counts = np.floor(shares / shares.sum() * cfg.n_samples).astype(int)
    counts[0] += cfg.n_samples - counts.sum()
    samples, pops = [], []
    for (name, _, _), n in zip(cfg.populations, counts):
        samples += [f"{name}{i + 1:05d}" for i in range(n)]
        pops += [name] * n
    sex = list(rng.choice(["M", "F"], size=cfg.n_samples))
    return samples, pops, sex


def _sites(cfg: SimConfig, rng):
    share = np.array(cfg.contig_share[: len(cfg.contigs)], dtype=float)
    per = np.floor(share / share.sum() * cfg.n_sites).astype(int)
    per[0] += cfg.n_sites - per.sum()
    chrom, pos = [], []
    for name, n in zip(cfg.contigs, per):
        if n == 0:
            continue
        start = 100_000
        if name.lstrip("chr") in ("X", "Y"):
            # Straddle PAR1's end so both PAR and non-PAR sites occur.
            par_end = PARS[cfg.build][name.lstrip("chr")][0][1]
            start = max(10_001, par_end - 200 * max(n // 10, 1))
        p = start + np.cumsum(rng.integers(1, 400, size=n))
        chrom += [name] * n
        pos.append(p)
    return chrom, np.concatenate(pos) if pos else np.zeros(0, np.int64)


def _alleles(cfg: SimConfig, rng, n_sites: int):
    refs, alts = [], []
    many = set(rng.choice(n_sites, size=min(cfg.many_allele_sites, n_sites), replace=False))
    for i in range(n_sites):
        ref = str(rng.choice(BASES))
        if i in many:
            n_alt = 11
        elif rng.random() < cfg.multiallelic_rate:
            n_alt = int(rng.integers(2, cfg.max_alt + 1))
        else:
            n_alt = 1
        out: list[str] = []
        while len(out) < n_alt:
            if rng.random() < cfg.indel_rate or len(out) >= 3:
                ins = "".join(rng.choice(BASES, size=int(rng.integers(1, 6))))
                a = ref + ins
            else:
                a = str(rng.choice(BASES[BASES != ref]))
            if a not in out:
                out.append(a)
        if n_alt > 1 and rng.random() < cfg.star_rate * 10:
            out[-1] = "*"
        refs.append(ref)
        alts.append(out)
    return refs, alts


def simulate(cfg: SimConfig):
    """The cohort's samples and sites, and the generator to draw its genotypes with."""
    rng = np.random.default_rng(cfg.seed)
    samples, pops, sex = _sample_table(cfg, rng)
    chrom, pos = _sites(cfg, rng)
    refs, alts = _alleles(cfg, rng, len(pos))
    return Cohort(samples, pops, sex, chrom, pos, refs, alts), rng


def genotypes(cfg: SimConfig, cohort: Cohort, rng):
    """Per site: int8 (n_samples, 2) allele indices, -1 missing, -2 haploid padding."""
    n = len(cohort.samples)
    pop_names = [p[0] for p in cfg.populations]
    pop_idx = np.array([pop_names.index(p) for p in cohort.population])
    fst = np.array([p[2] for p in cfg.populations])
    male = np.array([s == "M" for s in cohort.sex])
    miss = rng.uniform(*cfg.missing_rate, size=n)
    pars = PARS[cfg.build]
    for i in range(len(cohort.pos)):
        k = len(cohort.alts[i]) + 1
        # Ancestral frequencies: mostly rare ALT alleles, as in a real cohort.
        alpha = np.r_[1.0, rng.uniform(0.02, 0.6, size=k - 1)]
        anc = rng.dirichlet(alpha * 2)
        anc = np.maximum(anc, 1e-4)
        anc /= anc.sum()
        freqs = np.empty((len(fst), k))
        for j, f in enumerate(fst):
            freqs[j] = rng.dirichlet(anc * (1 - f) / f)
        cum = np.cumsum(freqs, axis=1)[pop_idx]
        u = rng.random((n, 2))
        g = np.empty((n, 2), dtype=np.int8)
        for h in range(2):
            g[:, h] = np.minimum((u[:, h:h + 1] > cum).sum(axis=1), k - 1)
        if rng.random() < cfg.inbred_site_rate:
            inbred = rng.random(n) < 0.5
            g[inbred, 1] = g[inbred, 0]
        g[rng.random(n) < miss] = -1
        if cfg.half_call_rate:
            half = (rng.random(n) < cfg.half_call_rate) & (g[:, 0] >= 0)
            g[half, 0] = -1
        kind = cohort.chrom[i].lstrip("chr")
        if kind in ("X", "Y"):
            in_par = any(a <= cohort.pos[i] <= b for a, b in pars[kind])
            if kind == "Y":
                g[~male] = -1
                g[~male, 1] = -2
            if not in_par or kind == "Y":
                mhet = male & (rng.random(n) < cfg.male_het_rate) & (g[:, 0] >= 0)
                g[male, 1] = g[male, 0]
                g[mhet, 1] = np.where(g[mhet, 0] == 0, 1, 0)
                if cfg.male_x == "haploid":
                    g[male & ~mhet, 1] = -2
        phased = rng.random() < cfg.phased_rate
        yield i, g, phased


def _gt_strings(g: np.ndarray, phased: bool) -> np.ndarray:
    """Fixed-width byte rows of 'a/b\\t' with NUL fillers, for allele indices < 100."""
    n = g.shape[0]
    out = np.zeros((n, 6), dtype=np.uint8)
    for h, col in ((0, 0), (1, 3)):
        a = g[:, h].astype(np.int16)
        tens = a // 10
        called = a >= 0
        out[:, col] = np.where(called & (tens > 0), 48 + tens, 0)
        out[:, col + 1] = np.where(called, 48 + a % 10, ord("."))
        if h == 1:
            pad = a == -2
            out[pad, col] = 0
            out[pad, col + 1] = 0
    out[:, 2] = ord("|") if phased else ord("/")
    out[g[:, 1] == -2, 2] = 0
    return out


def _format_extra(cfg, g, k, rng):
    """AD, DP, GQ strings per sample, consistent with the genotype."""
    n = g.shape[0]
    dp = rng.poisson(30, size=n)
    gq = np.minimum(99, rng.poisson(40, size=n))
    low = rng.random(n) < 0.1
    gq[low] = rng.integers(0, 20, size=int(low.sum()))
    parts = []
    for s in range(n):
        a0, a1 = int(g[s, 0]), int(g[s, 1])
        if a0 < 0 and a1 < 0:
            parts.append(["."] * len(cfg.fields[1:]))
            continue
        ad = [0] * k
        called = [a for a in (a0, a1) if a >= 0]
        for j, a in enumerate(called):
            share = dp[s] // len(called) if j < len(called) - 1 else dp[s] - (dp[s] // len(called)) * (len(called) - 1)
            ad[a] += share
        if len(called) == 2 and called[0] != called[1] and rng.random() < 0.1:
            shift = int(ad[called[1]] * 0.9)  # skewed allele balance
            ad[called[1]] -= shift
            ad[called[0]] += shift
        vals = {"AD": ",".join(map(str, ad)), "DP": str(dp[s]),
                "GQ": str(int(gq[s]))}
        parts.append([vals[f] for f in cfg.fields[1:]])
    return parts


def write_cohort(cfg: SimConfig, prefix: str, *, bcf: bool = False, progress=None) -> dict:
    """Write PREFIX.vcf.gz (+.tbi), PREFIX.pops.tsv and, with ``bcf``, PREFIX.bcf (+.csi)."""
    import pysam

    cohort, rng = simulate(cfg)
    text_path = prefix + ".vcf"
    header = [
        "##fileformat=VCFv4.2",
        "##source=genomekit simulate",
        f"##genomekitSimulate=seed:{cfg.seed},samples:{cfg.n_samples},sites:{cfg.n_sites}",
    ]
    for name in cfg.contigs:
        # Contigs end a little past their last site, so shard plans stay small.
        on = cohort.pos[[c == name for c in cohort.chrom]]
        length = int(on.max()) + 1000 if len(on) else 1000
        header.append(f"##contig=<ID={name},length={length}>")
    header.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
    if "AD" in cfg.fields:
        header.append('##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">')
    if "DP" in cfg.fields:
        header.append('##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">')
    if "GQ" in cfg.fields:
        header.append('##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">')
    header.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                             "FORMAT", *cohort.samples]))
    fmt = ":".join(cfg.fields)
    with open(text_path, "wb") as fh:
        fh.write(("\n".join(header) + "\n").encode())
        for i, g, phased in genotypes(cfg, cohort, rng):
            site = (f"{cohort.chrom[i]}\t{cohort.pos[i]}\tsite{i + 1}\t{cohort.ref[i]}\t"
                    f"{','.join(cohort.alts[i])}\t.\tPASS\t.\t{fmt}\t")
            if cfg.fields == ("GT",):
                gts = _gt_strings(g, phased)
                gts[:, 5] = ord("\t")
                body = gts.tobytes().replace(b"\0", b"")[:-1]
            else:
                gts = _gt_strings(g, phased)
                texts = [r.tobytes().replace(b"\0", b"").decode() for r in gts]
                extra = _format_extra(cfg, g, len(cohort.alts[i]) + 1, rng)
                body = "\t".join(":".join([t, *e]) for t, e in zip(texts, extra)).encode()
            fh.write(site.encode() + body + b"\n")
            if progress is not None:
                progress.update(1, f"{cohort.chrom[i]}:{cohort.pos[i]}")
    gz = pysam.tabix_index(text_path, preset="vcf", force=True, keep_original=False)
    with open(prefix + ".pops.tsv", "w") as fh:
        fh.write("sample\tpopulation\tsex\n")
        for s, p, x in zip(cohort.samples, cohort.population, cohort.sex):
            fh.write(f"{s}\t{p}\t{x}\n")
    out = {"vcf": gz, "pops": prefix + ".pops.tsv"}
    if bcf:
        import pysam.bcftools

        pysam.bcftools.view("-Ob", "-o", prefix + ".bcf", "--write-index", gz,
                            catch_stdout=False)
        out["bcf"] = prefix + ".bcf"
    return out


def cohort_config(**kwargs) -> SimConfig:
    cfg = SimConfig()
    for k, v in kwargs.items():
        if v is not None:
            setattr(cfg, k, v)
    return cfg
