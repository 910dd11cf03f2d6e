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
