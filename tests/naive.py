"""Slow, plain-Python references for every Numba kernel. Obvious over fast."""

from __future__ import annotations

import math

X_NONPAR, CHR_Y = 1, 2
MALE, FEMALE = 1, 2


def count_alleles(gt, n_alleles, site_class, sex, group, n_groups, adj_pass=None):
    """Per-variant dictionaries of the counts kernels.freq.count_alleles computes.

    gt is a nested list or array [variant][sample][slot] with -1 missing, -2 padding.
    Returns a list (one dict per variant) of plain ints and lists.
    """
    out = []
    for v in range(len(gt)):
        na = int(n_alleles[v])
        cls = int(site_class[v])
        r = {
            "ac": [0] * na, "ac_het": [0] * na, "ac_hom": [0] * na, "nhom": [0] * na,
            "ac_hemi": [0] * na, "hwe_het": [0] * na, "hwe_hom": [0] * na,
            "an": 0, "n_called": 0, "n_missing": 0, "n_eligible": 0, "n_male_het": 0,
            "n_diploid": 0,
            "ac_grp": [[0] * na for _ in range(n_groups)], "an_grp": [0] * n_groups,
            "nhom_grp": [[0] * na for _ in range(n_groups)],
            "ac_sex": [[0] * na for _ in range(2)], "an_sex": [0, 0],
            "ac_adj": [0] * na, "an_adj": 0, "bad": None,
        }
        for s in range(len(gt[v])):
            sx = int(sex[s])
            if sx == FEMALE and cls == CHR_Y:
                continue
            r["n_eligible"] += 1
            slots = [int(a) for a in gt[v][s] if a != -2]
            called = [a for a in slots if a >= 0]
            if any(a >= na for a in called):
                r["bad"] = s
                break
            if not called:
                r["n_missing"] += 1
                continue
            hemizygous = sx == MALE and cls in (X_NONPAR, CHR_Y)
            if hemizygous:
                if len(set(called)) > 1:
                    r["n_male_het"] += 1
                    r["n_missing"] += 1
                    continue
                called = called[:1]
            elif len(called) < len(slots):
                r["n_missing"] += 1
            r["n_called"] += 1
            r["an"] += len(called)
            g = int(group[s])
            passed = adj_pass is not None and bool(adj_pass[v][s])
            for a in called:
                r["ac"][a] += 1
                if g >= 0:
                    r["ac_grp"][g][a] += 1
                if sx:
                    r["ac_sex"][sx - 1][a] += 1
                if passed:
                    r["ac_adj"][a] += 1
            if g >= 0:
                r["an_grp"][g] += len(called)
            if sx:
                r["an_sex"][sx - 1] += len(called)
            if passed:
                r["an_adj"] += len(called)
            if hemizygous or len(slots) == 1 or len(called) < len(slots):
                for a in called:
                    r["ac_hemi"][a] += 1
            elif len(set(called)) == 1:
                a = called[0]
                r["ac_hom"][a] += len(called)
                r["nhom"][a] += 1
                if g >= 0:
                    r["nhom_grp"][g][a] += 1
                if len(called) == 2:
                    r["hwe_hom"][a] += 1
                    r["n_diploid"] += 1
            else:
                for a in set(called):
                    r["ac_het"][a] += 1
                if len(called) == 2:
                    for a in called:
                        r["hwe_het"][a] += 1
                    r["n_diploid"] += 1
        out.append(r)
    return out


def _log_prob_het(n_het, n_a, n_b):
    """log P(n_het heterozygotes | n_a copies of A and n_b of B in (n_a+n_b)/2 diploids)."""
    n = (n_a + n_b) // 2
    hom_a = (n_a - n_het) // 2
    hom_b = (n_b - n_het) // 2
    lg = math.lgamma
    return (lg(n + 1) - lg(hom_a + 1) - lg(n_het + 1) - lg(hom_b + 1) + n_het * math.log(2)
            + lg(n_a + 1) + lg(n_b + 1) - lg(2 * n + 1))


def hwe_exact(n_het, n_hom, n_diploid, midp=False, tie=1e-9):
    """(p_hwe, p_exc_het) by enumerating every feasible het count with log-factorials.

    Probabilities within a relative ``tie`` of the observed one count as equal
    to it (and count half with ``midp``); a negative ``tie`` excludes near-ties.
    """
    n_a = 2 * n_hom + n_het
    n_b = 2 * (n_diploid - n_hom - n_het) + n_het
    if n_a == 0 or n_b == 0:
        return 1.0, 1.0
    rare = min(n_a, n_b)
    hets = range(rare % 2, rare + 1, 2)
    probs = {h: math.exp(_log_prob_het(h, n_a, n_b)) for h in hets}
    total = sum(probs.values())
    obs = probs[n_het]
    p = sum(q for q in probs.values() if q <= obs * (1 + tie)) / total
    exc = sum(q for h, q in probs.items() if h >= n_het) / total
    if midp:
        p -= 0.5 * sum(q for q in probs.values() if abs(q - obs) <= abs(tie) * obs) / total
        exc -= 0.5 * obs / total
    return min(1.0, p), min(1.0, exc)


def inbreeding_coeff(n_het, n_hom, n_diploid):
    if n_diploid == 0:
        return math.nan
    p = (2 * n_hom + n_het) / (2 * n_diploid)
    expected = 2 * p * (1 - p) * n_diploid
    if expected <= 0:
        return math.nan
    return 1 - n_het / expected


def adj_pass(gt, gq, dp, ad, min_gq, min_dp, min_ab):
    """gnomAD-style genotype filter, one bool per (variant, sample). None skips a filter."""
    out = []
    for v in range(len(gt)):
        row = []
        for s in range(len(gt[v])):
            ok = True
            if gq is not None and gq[v][s] < min_gq:
                ok = False
            if dp is not None and dp[v][s] < min_dp:
                ok = False
            if ok and ad is not None:
                called = [int(a) for a in gt[v][s] if a >= 0]
                if len(set(called)) > 1:
                    depths = list(ad[v][s])
                    total = sum(d for d in depths if d > 0)
                    for a in called:
                        if a == 0:
                            continue
                        if a >= len(depths) or depths[a] < 0 or total == 0 \
                                or depths[a] < min_ab * total:
                            ok = False
            row.append(ok)
        out.append(row)
    return out


SNV_CLASSES = (1, 2, 3)  # kernels.sampleqc TRANSITION, TRANSVERSION, SNV_OTHER
INSERTION, DELETION = 4, 5
SAMPLE_COUNT_NAMES = (
    "n_called", "n_missing", "n_hom_ref", "n_het", "n_hom_alt", "n_hap_ref", "n_hap_alt",
    "n_male_het", "n_het_snv", "n_hom_alt_snv", "n_transitions", "n_transversions",
    "n_indel", "n_insertion", "n_deletion", "n_singleton", "n_private",
    "sum_dp", "n_dp", "sum_gq", "n_gq", "n_x_sites", "n_x_het", "n_y_sites", "n_y_called",
)


def sample_counts(gt, n_alleles, allele_class, site_class, sex, x_exp_het, dp=None, gq=None):
    """Per-sample dictionaries of the counts kernels.sampleqc.sample_counts computes.

    gt is a nested list or array [variant][sample][slot] with -1 missing, -2 padding;
    allele_class[v][a] uses the kernel's class codes. Returns (list of dicts with the
    keys of SAMPLE_COUNT_NAMES plus "x_exp", one per sample; (variant, sample) of the
    first allele index beyond the record's alleles, or None).
    """
    n_smp = len(sex)
    out = [dict.fromkeys(SAMPLE_COUNT_NAMES, 0) | {"x_exp": 0.0} for _ in range(n_smp)]
    for v in range(len(gt)):
        na = int(n_alleles[v])
        cls = int(site_class[v])
        e = float(x_exp_het[v])
        kinds = {}  # sample -> (kind, sorted distinct ALT alleles) for complete counted calls
        for s in range(n_smp):
            slots = [int(a) for a in gt[v][s] if a != -2]
            called = [a for a in slots if a >= 0]
            if any(a >= na for a in called):
                return out, (v, s)
            complete = bool(called) and len(called) == len(slots)
            het = len(set(called)) > 1
            r = out[s]
            if cls == CHR_Y:
                r["n_y_sites"] += 1
                r["n_y_called"] += complete and not het
            if e > 0 and complete:
                r["n_x_sites"] += 1
                r["x_exp"] += e
                r["n_x_het"] += het
            if int(sex[s]) == FEMALE and cls == CHR_Y:
                continue
            if dp is not None and dp[v][s] >= 0:
                r["sum_dp"] += int(dp[v][s])
                r["n_dp"] += 1
            if gq is not None and gq[v][s] >= 0:
                r["sum_gq"] += int(gq[v][s])
                r["n_gq"] += 1
            if not complete:
                r["n_missing"] += 1
                continue
            hemizygous = int(sex[s]) == MALE and cls in (X_NONPAR, CHR_Y)
            if hemizygous and het:
                r["n_male_het"] += 1
                r["n_missing"] += 1
                continue
            r["n_called"] += 1
            alts = sorted({a for a in called if a > 0})
            if hemizygous or len(called) == 1:
                r["n_hap_alt" if called[0] else "n_hap_ref"] += 1
                kinds[s] = ("haploid", alts)
                continue
            kinds[s] = ("diploid", alts)
            if not alts:
                r["n_hom_ref"] += 1
                continue
            classes = [int(allele_class[v][a]) for a in alts]
            snv = any(c in SNV_CLASSES for c in classes)
            key = "n_het" if het else "n_hom_alt"
            r[key] += 1
            if snv:
                r[key + "_snv"] += 1
            if classes[0] == 1:
                r["n_transitions"] += 1
            elif classes[0] == 2:
                r["n_transversions"] += 1
            r["n_indel"] += INSERTION in classes or DELETION in classes
            r["n_insertion"] += INSERTION in classes
            r["n_deletion"] += DELETION in classes
        nonref = [s for s, (kind, alts) in kinds.items() if kind == "diploid" and alts]
        if len(nonref) == 1:
            out[nonref[0]]["n_singleton"] += 1
        for a in range(1, na):
            holders = [s for s, (_, alts) in kinds.items() if a in alts]
            if len(holders) == 1:
                out[holders[0]]["n_private"] += 1
    return out, None


def diploid_dosage(call):
    """ALT copies of a complete diploid call of a biallelic record, or None for any other call.

    call lists allele indices with -1 missing and -2 padding: '0/1' -> 1; '1', './1',
    '0/1/1' -> None.
    """
    slots = [int(a) for a in call if a != -2]
    if len(slots) != 2 or min(slots) < 0:
        return None
    return sum(slots)


def diploid_counts(gt):
    """Per variant: (samples with a complete diploid call, ALT copies in those calls)."""
    out = []
    for calls in gt:
        doses = [d for d in (diploid_dosage(c) for c in calls) if d is not None]
        out.append((len(doses), sum(doses)))
    return out


def king_counts(gt):
    """KING counts of every pair (r, c) with c < r, from genotypes of biallelic records.

    gt is [variant][sample][slot]. Returns {(r, c): (NSNP, HETHET, IBS0, HET1, HET2)}
    over the variants where both samples have a complete diploid call; HET1 counts
    the heterozygous calls of r there, HET2 those of c; IBS0 the opposite homozygotes.
    """
    doses = [[diploid_dosage(c) for c in calls] for calls in gt]
    n = len(gt[0]) if len(gt) else 0
    out = {}
    for r in range(n):
        for c in range(r):
            nsnp = hethet = ibs0 = het1 = het2 = 0
            for row in doses:
                a, b = row[r], row[c]
                if a is None or b is None:
                    continue
                nsnp += 1
                hethet += a == 1 and b == 1
                ibs0 += abs(a - b) == 2
                het1 += a == 1
                het2 += b == 1
            out[(r, c)] = (nsnp, hethet, ibs0, het1, het2)
    return out


def king_kinship(hethet, ibs0, het1, het2):
    """KING-robust between-family kinship (Manichaikul 2010, plink2's form); NaN if undefined."""
    smaller = min(het1, het2)
    if smaller == 0:
        return math.nan
    return 0.5 - (4 * ibs0 + het1 + het2 - 2 * hethet) / (4 * smaller)


def pca_code(call):
    """Packed PCA code of a call of a biallelic record: its ALT dosage, or 3 for any other call."""
    dose = diploid_dosage(call)
    return 3 if dose is None else dose


def pca_codes(gt):
    """Per variant: the codes of its samples, and how many samples have code 0, 1, 2 and 3."""
    codes = [[pca_code(c) for c in calls] for calls in gt]
    return codes, [[row.count(c) for c in range(4)] for row in codes]


def standardized_matrix(codes, table):
    """Samples x variants: X[s][v] = table[v][codes[v][s]] (kernels/pca.py)."""
    n = len(codes[0]) if codes else 0
    return [[table[v][codes[v][s]] for v in range(len(codes))] for s in range(n)]


def standard_table(alt_freq):
    """(c - 2p) / sqrt(2p(1 - p)) for c = 0, 1, 2, and 0 for a missing call."""
    return [[(c - 2 * p) / math.sqrt(2 * p * (1 - p)) for c in range(3)] + [0.0]
            for p in alt_freq]


def matmul(a, b):
    """Plain triple loop: a (r x k) times b (k x c), nested lists."""
    return [[sum(a[i][t] * b[t][j] for t in range(len(b))) for j in range(len(b[0]))]
            for i in range(len(a))]


def transpose(a):
    return [list(col) for col in zip(*a)]


def ld_r2(x, y):
    """Squared Pearson correlation of two dosage lists over the samples called in both.

    None marks a missing call; 0 when either list does not vary over those samples.
    """
    pairs = [(a, b) for a, b in zip(x, y) if a is not None and b is not None]
    n = len(pairs)
    if n == 0:
        return 0.0
    mx = sum(a for a, _ in pairs) / n
    my = sum(b for _, b in pairs) / n
    vx = sum((a - mx) ** 2 for a, _ in pairs)
    vy = sum((b - my) ** 2 for _, b in pairs)
    if vx <= 1e-12 or vy <= 1e-12:
        return 0.0
    cov = sum((a - mx) * (b - my) for a, b in pairs)
    return cov * cov / (vx * vy)


def ld_thin(dosages, pos, window, r2_max):
    """Indices kept by greedy LD thinning of variants on one contig, in order.

    A variant is dropped when its r² with a kept variant at most ``window`` bp
    before it exceeds ``r2_max``.
    """
    kept = []
    for i in range(len(dosages)):
        if all(pos[i] - pos[j] > window or ld_r2(dosages[j], dosages[i]) <= r2_max
               for j in kept):
            kept.append(i)
    return kept


def fingerprint_loglik(ref, alt, error):
    """[[log10 P(reads | g) for g in 0, 1, 2] per site], reads being REF/ALT base counts."""
    out = []
    for r, a in zip(ref, alt):
        p_alt = [error, 0.5, 1 - error]
        out.append([r * math.log10(1 - q) + a * math.log10(q) for q in p_alt])
    return out


def fingerprint_calls(gl, depth, min_depth, min_margin):
    """Hard calls: the best genotype when depth and its lead over the runner-up suffice, else -1."""
    calls = []
    for row, d in zip(gl, depth):
        order = sorted(range(3), key=lambda g: (-row[g], g))
        ok = d >= min_depth and row[order[0]] - row[order[1]] >= min_margin
        calls.append(order[0] if ok else -1)
    return calls


def fingerprint_compare(gl, depth, calls, dosage, alt_freq, geno_error):
    """Per sample (lod, n_lod, n_compared, n_discordant); dosage is [site][sample], -1 missing.

    LOD = Σ log10 [((1-δ) P(reads|d) + δ P(reads|cohort)) / P(reads|cohort)] over sites with
    reads, P(reads|cohort) = Σ_g HWE(g; p) P(reads|g).
    """
    n_samples = len(dosage[0]) if dosage else 0
    out = []
    for s in range(n_samples):
        lod, n_lod, n_cmp, n_disc = 0.0, 0, 0, 0
        for i, row in enumerate(gl):
            d = dosage[i][s]
            if d < 0:
                continue
            p = alt_freq[i]
            like = [10 ** x for x in row]
            cohort = (1 - p) ** 2 * like[0] + 2 * p * (1 - p) * like[1] + p * p * like[2]
            if depth[i] > 0:
                lod += math.log10(((1 - geno_error) * like[d] + geno_error * cohort) / cohort)
                n_lod += 1
            if calls[i] >= 0:
                n_cmp += 1
                n_disc += calls[i] != d
        out.append((lod, n_lod, n_cmp, n_disc))
    return out


def fingerprint_contamination(ref, alt, other, dosage, alt_freq):
    """(estimate, sites): c = (Σx - e3 Σn) / Σ n q over homozygous sites with reads, clipped to
    [0, 1]; x the reads of the allele the sample lacks, q its cohort frequency, e3 = Σ other /
    (2 Σ (n + other)). NaN when no site qualifies."""
    rows = [(r, a, o, d, p) for r, a, o, d, p in zip(ref, alt, other, dosage, alt_freq)
            if d in (0, 2) and r + a > 0]
    if not rows:
        return float("nan"), 0
    x = sum(a if d == 0 else r for r, a, o, d, p in rows)
    n = sum(r + a for r, a, o, d, p in rows)
    nq = sum((r + a) * (p if d == 0 else 1 - p) for r, a, o, d, p in rows)
    if nq == 0:
        return float("nan"), len(rows)
    e3 = sum(o for r, a, o, d, p in rows) / (2 * sum(r + a + o for r, a, o, d, p in rows))
    return min(max((x - e3 * n) / nq, 0.0), 1.0), len(rows)


# --- BAM records, flag counts and depth (kernels.bamparse, kernels.coverage) -------------

BAM_CONSUMES_REF = {0, 2, 3, 7, 8}  # M D N = X
BAM_CONSUMES_QUERY = {0, 1, 4, 7, 8}  # M I S = X


def bam_records(data: bytes) -> list[dict]:
    """Decode concatenated BAM records (the bytes after the header) with struct."""
    import struct

    out = []
    o = 0
    while o + 4 <= len(data):
        (size,) = struct.unpack_from("<i", data, o)
        b = o + 4
        tid, pos, l_name, mapq, _bin, n_cigar, flag, l_seq, mtid, mpos, _tlen = \
            struct.unpack_from("<iiBBHHHiiii", data, b)
        name = data[b + 32:b + 32 + l_name - 1].decode()
        cig_off = b + 32 + l_name
        cigar = [(v & 0xF, v >> 4) for v in struct.unpack_from(f"<{n_cigar}I", data, cig_off)]
        rlen = sum(n for op, n in cigar if op in BAM_CONSUMES_REF)
        if flag & 0x4:
            rlen = 0
        out.append({"offset": o, "tid": tid, "pos": pos, "mapq": mapq, "flag": flag,
                    "name": name, "cigar": cigar, "mtid": mtid, "mpos": mpos,
                    "end": pos + (rlen if rlen else 1), "l_seq": l_seq})
        o = b + size
    return out


def flagstat(records) -> list[list[int]]:
    """samtools flagstat's counts (rows: QC-passed, QC-failed) in the order of
    kernels.coverage.FLAGSTAT_NAMES, as bam_stat.c's flagstat_loop counts them."""
    rows = [[0] * 16 for _ in range(2)]
    for r in records:
        f = r["flag"]
        c = rows[1 if f & 0x200 else 0]
        c[0] += 1
        if f & 0x100:
            c[2] += 1
        elif f & 0x800:
            c[3] += 1
        else:
            c[1] += 1
            if f & 0x1:
                c[8] += 1
                c[11] += bool(f & 0x2 and not f & 0x4)
                c[9] += bool(f & 0x40)
                c[10] += bool(f & 0x80)
                c[13] += bool(f & 0x8 and not f & 0x4)
                if not f & 0x4 and not f & 0x8:
                    c[12] += 1
                    if r["mtid"] != r["tid"]:
                        c[14] += 1
                        c[15] += r["mapq"] >= 5
            c[7] += not f & 0x4
            c[5] += bool(f & 0x400)
        c[6] += not f & 0x4
        c[4] += bool(f & 0x400)
    return rows


def _start_ends(cigar, pos):
    """mosdepth's gen_start_ends: (position, +1/-1) events of a record's M/=/X blocks."""
    if len(cigar) == 1 and cigar[0][0] == 0:
        return [(pos, 1), (pos + cigar[0][1], -1)]
    out = []
    last_stop = -1
    for op, n in cigar:
        if op not in BAM_CONSUMES_REF:
            continue
        if op in BAM_CONSUMES_QUERY:
            if pos != last_stop:
                out.append((pos, 1))
                if last_stop != -1:
                    out.append((last_stop, -1))
            last_stop = pos + n
        pos += n
    if last_stop != -1:
        out.append((last_stop, -1))
    return out


def mosdepth_depth(records, tid: int, length: int, min_mapq=0, exclude=1796, include=0,
                   fast=False) -> list[int] | None:
    """Per-base depth of contig ``tid`` as mosdepth 0.3.3's coverage() computes it (a line
    by line port: an array of length+1, a dict of remembered mates by read name, the
    pair events sorted stably); None when the contig has no record."""
    arr = [0] * (length + 1)
    seen: dict = {}
    found = False
    for r in records:
        if r["tid"] != tid:
            continue
        found = True
        f = r["flag"]
        if r["mapq"] < min_mapq or f & exclude or (include and not f & include):
            continue
        if not fast and f & 0x2 and not f & 0x800:
            if (r["tid"] == r["mtid"] and r["end"] > r["mpos"]
                    and (r["pos"] < r["mpos"]
                         or (r["pos"] == r["mpos"] and r["name"] not in seen))):
                seen[r["name"]] = r
            elif r["name"] in seen:
                mate = seen.pop(r["name"])
                if len(r["cigar"]) == 1 and len(mate["cigar"]) == 1:
                    arr[r["pos"]] -= 1
                    arr[mate["end"]] += 1
                else:
                    ses = _start_ends(r["cigar"], r["pos"]) + _start_ends(mate["cigar"],
                                                                         mate["pos"])
                    ses.sort(key=lambda e: e[0])  # stable, as Nim's sort
                    pair_depth = 0
                    last_pos = 0
                    for p, v in ses:
                        if v == -1 and pair_depth == 2:
                            arr[last_pos] -= 1
                            arr[p] += 1
                        pair_depth += v
                        last_pos = p
        if fast:
            arr[r["pos"]] += 1
            arr[r["end"]] -= 1
        else:
            for p, v in _start_ends(r["cigar"], r["pos"]):
                arr[p] += v
    if not found:
        return None
    depth = []
    d = 0
    for v in arr[:length]:
        d += v
        depth.append(d)
    return depth


def depth_histogram(depth) -> dict[int, int]:
    """Bases per depth, mosdepth's cap included (a depth above 400000 counts as 399990)."""
    out: dict[int, int] = {}
    for v in depth:
        if v < 0:
            continue
        v = 399_990 if v > 400_000 else v
        out[v] = out.get(v, 0) + 1
    return out


# BCF records (hts-specs VCFv4.3 section 6.3), decoded byte by byte ------------------

BCF_INT_MISSING = {1: -128, 2: -32768, 3: -2147483648}


def _bcf_typed(data, p):
    """(type, count, next position) of the typed-value descriptor at data[p]."""
    t, count = data[p] & 15, data[p] >> 4
    p += 1
    if count == 15:
        t2 = data[p] & 15
        size = {1: 1, 2: 2, 3: 4}[t2]
        count = int.from_bytes(data[p + 1:p + 1 + size], "little", signed=True)
        p += 1 + size
    return t, count, p


def _bcf_values(data, p, t, count):
    """``count`` values of type ``t`` at data[p]: ints, floats (raw bits) or bytes."""
    size = {0: 0, 1: 1, 2: 2, 3: 4, 5: 4, 7: 1}[t]
    raw = data[p:p + size * count]
    if t == 7:
        return raw, p + size * count
    values = [int.from_bytes(raw[i * size:(i + 1) * size], "little", signed=t != 5)
              for i in range(count)]
    return values, p + size * count


def bcf_dictionaries(header_text):
    """(contig names by number, key names by number) of a BCF header.

    The spec's rule: PASS is key 0, then each new FILTER/INFO/FORMAT ID in
    order, and each contig in order; an IDX= attribute gives the number.
    """
    contigs, keys = {}, {0: "PASS"}
    seen = {"PASS"}
    for line in header_text.splitlines():
        for kind in ("contig", "FILTER", "INFO", "FORMAT"):
            if not line.startswith(f"##{kind}=<"):
                continue
            attrs = dict(part.split("=", 1) for part in line[len(kind) + 4:-1].split(",")
                         if "=" in part)
            name = attrs.get("ID")
            if kind == "contig":
                contigs[int(attrs.get("IDX", len(contigs)))] = name
            elif name not in seen:
                seen.add(name)
                keys[int(attrs["IDX"]) if "IDX" in attrs else max(keys) + 1] = name
    return contigs, keys


def bcf_records(data):
    """Header samples and the records of uncompressed BCF bytes ``data``.

    Each record is a dict: chrom, pos (1-based), id, ref, alts, and fmt, a
    dict from FORMAT key to one list per sample: GT as allele indices (-1
    missing, -2 for the vector end and every slot after it), integer keys as
    ints (None for missing and from the vector end on).
    """
    assert data[:5] == b"BCF\x02\x02"
    l_text = int.from_bytes(data[5:9], "little")
    text = data[9:9 + l_text].split(b"\0")[0].decode()
    contigs, keys = bcf_dictionaries(text)
    samples = text.rstrip("\n").splitlines()[-1].split("\t")[9:]
    p = 9 + l_text
    records = []
    while p < len(data):
        l_shared = int.from_bytes(data[p:p + 4], "little")
        l_indiv = int.from_bytes(data[p + 4:p + 8], "little")
        s = p + 8
        rid = int.from_bytes(data[s:s + 4], "little", signed=True)
        pos = int.from_bytes(data[s + 4:s + 8], "little")
        n_info = int.from_bytes(data[s + 16:s + 18], "little")
        n_allele = int.from_bytes(data[s + 18:s + 20], "little")
        n_sample = int.from_bytes(data[s + 20:s + 23], "little")
        n_fmt = data[s + 23]
        q = s + 24
        strings = []
        for _ in range(1 + n_allele):  # ID, then the alleles
            t, count, q = _bcf_typed(data, q)
            raw, q = _bcf_values(data, q, t, count)
            strings.append(raw.split(b"\0")[0].decode() or ".")
        t, count, q = _bcf_typed(data, q)  # FILTER
        _, q = _bcf_values(data, q, t, count)
        for _ in range(n_info):
            t, count, q = _bcf_typed(data, q)
            _, q = _bcf_values(data, q, t, count)
            t, count, q = _bcf_typed(data, q)
            _, q = _bcf_values(data, q, t, count)
        q = s + l_shared
        fmt = {}
        for _ in range(n_fmt if n_sample and l_indiv else 0):
            t, count, q = _bcf_typed(data, q)
            key, q = _bcf_values(data, q, t, count)
            t, count, q = _bcf_typed(data, q)
            per_sample = []
            for _ in range(n_sample):
                values, q = _bcf_values(data, q, t, count)
                per_sample.append(values)
            name = keys[key[0]]
            if name in fmt:
                continue  # the first copy counts
            if name == "GT":
                fmt[name] = [_bcf_alleles(v, t) for v in per_sample]
            elif t in (1, 2, 3):
                fmt[name] = [_bcf_ints(v, t) for v in per_sample]
        records.append({"chrom": contigs[rid], "pos": pos + 1, "id": strings[0],
                        "ref": strings[1], "alts": strings[2:], "fmt": fmt})
        p = s + l_shared + l_indiv
    return samples, records


def _bcf_alleles(values, t):
    out, ended = [], False
    for v in values:
        ended = ended or v == BCF_INT_MISSING[t] + 1
        out.append(-2 if ended else -1 if v == BCF_INT_MISSING[t] else (v >> 1) - 1)
    return out


def _bcf_ints(values, t):
    out, ended = [], False
    for v in values:
        ended = ended or v == BCF_INT_MISSING[t] + 1
        out.append(None if ended or v == BCF_INT_MISSING[t] else v)
    return out


def bgzf_blocks(data: bytes) -> list[tuple[int, int, int, int, int]]:
    """(deflate start, deflate end, ISIZE, CRC32, offset) of each complete BGZF block,
    read with struct from the gzip header's BC subfield; stops at an incomplete block."""
    import struct

    out = []
    o = 0
    while o + 18 <= len(data):
        (xlen,) = struct.unpack_from("<H", data, o + 10)
        (bsize,) = struct.unpack_from("<H", data, o + 16)  # the BC subfield comes first
        size = bsize + 1
        if o + size > len(data):
            break
        crc, isize = struct.unpack_from("<II", data, o + size - 8)
        out.append((o + 12 + xlen, o + size - 8, isize, crc, o))
        o += size
    return out


def bgzf_damaged(data: bytes, k: int) -> dict[str, bytes]:
    """Copies of the BGZF file ``data`` damaged at its block ``k``: CRC32 changed ("crc"),
    deflate data of the reserved block type ("deflate"), not a gzip header ("header"),
    cut 30 bytes into the block ("cut_block") or 10 bytes into its header ("cut_header")."""
    start, end, _isize, _crc, offset = bgzf_blocks(data)[k]
    crc, deflate, header = bytearray(data), bytearray(data), bytearray(data)
    crc[end] ^= 1
    deflate[start] = 0x07  # the final deflate block, of type 3
    header[offset] = 0
    return {"crc": bytes(crc), "deflate": bytes(deflate), "header": bytes(header),
            "cut_block": data[:offset + 30], "cut_header": data[:offset + 10]}


def bgzf_with_isize(data: bytes, k: int, isize: int) -> bytes:
    """The BGZF file ``data`` with the ISIZE of its block ``k`` set to ``isize``."""
    end = bgzf_blocks(data)[k][1]
    return data[:end + 4] + isize.to_bytes(4, "little") + data[end + 8:]
