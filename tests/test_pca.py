"""`genomekit pca`: kernels against tests/naive.py, the PCs against a dense SVD and plink2
--pca, projection of held-back samples (and plink2 --score), LD thinning, threads, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cyvcf2
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from genomekit.commands import pca
from genomekit.errors import InputError
from genomekit.kernels import pca as kp
from tests import naive
from tests.conftest import (
    DATA,
    assert_one_error_line,
    cli,
    need_tool,
    random_biallelic_genotypes,
    split_by_contig,
)

# Three populations of distinct F_ST: PC1 and PC2 separate them (GRM eigenvalues about
# 14 and 6), PC3 and beyond are the noise bulk (about 1.8, within 1% of each other).
POPS = (("KOR", 0.5, 0.02), ("JPN", 0.2, 0.05), ("EUR", 0.3, 0.15))
PCS = [f"PC{i}" for i in range(1, 11)]


@pytest.fixture(scope="session")
def structured(make_cohort):
    """250 samples, 3000 sites (about 1700 autosomal biallelic with MAF >= 0.01)."""
    return make_cohort("pcapop", n_samples=250, n_sites=3000, seed=3, populations=POPS)


def run_pca(vcf, folder, name="out", **kwargs) -> tuple[str, dict]:
    prefix = str(Path(folder) / name)
    kwargs.setdefault("quiet", True)
    kwargs.setdefault("force", True)
    return prefix, pca.run([str(v) for v in vcf] if isinstance(vcf, list) else str(vcf), prefix,
                           **kwargs)


def read(prefix, kind, fmt="parquet") -> pl.DataFrame:
    path = f"{prefix}.pca_{kind}.{fmt}"
    if fmt == "tsv":
        return pl.read_csv(path, separator="\t")
    return pl.read_parquet(path)


@pytest.fixture(scope="session")
def base(structured, tmp_path_factory):
    """The default run on the structured cohort: prefix and summary."""
    return run_pca(structured["vcf"], tmp_path_factory.mktemp("pcabase"))


def dense_reference(path, samples=None, maf=0.01):
    """The standardized matrix (samples x variants) built record by record with cyvcf2.

    Returns X, the site rows (CHROM, POS, ID, REF, ALT, ALT_FREQ) and the sample names.
    """
    vcf = cyvcf2.VCF(str(path), samples=samples)
    columns, sites = [], []
    for rec in vcf:
        name = rec.CHROM.removeprefix("chr")
        if not (name.isdigit() and 1 <= int(name) <= 22) or len(rec.ALT) != 1:
            continue
        gt = rec.genotype.array()[:, :-1]
        called = (gt[:, :2] >= 0).all(axis=1)
        if gt.shape[1] > 2:
            called &= gt[:, 2] == -2
        dose = gt[:, 0].astype(float) + gt[:, 1]
        n_called, n_alt = called.sum(), dose[called].sum()
        if n_called == 0 or n_alt in (0, 2 * n_called):
            continue
        p = n_alt / (2 * n_called)
        if min(p, 1 - p) < maf * (1 - 2.0 ** -44):
            continue
        columns.append(np.where(called, (dose - 2 * p) / np.sqrt(2 * p * (1 - p)), 0.0))
        sites.append((rec.CHROM, rec.POS, rec.ID, rec.REF, rec.ALT[0], p))
    return np.array(columns).T, sites, list(vcf.samples)


def align(reference, got):
    """``got`` with each column's sign flipped to agree with ``reference``."""
    return got * np.sign(np.sum(reference * got, axis=0))


# Kernels against the plain-Python reference.

def unpack(codes, n_samples):
    """Codes of a packed matrix as a list of lists (variant, sample)."""
    return [[(int(row[s // 4]) >> (2 * (s % 4))) & 3 for s in range(n_samples)]
            for row in codes]


@pytest.mark.parametrize("seed,n_var,n_smp", [(0, 40, 23), (1, 7, 4), (2, 30, 1), (3, 12, 9)])
def test_pack_dosages_matches_naive(seed, n_var, n_smp):
    rng = np.random.default_rng(seed)
    gt = random_biallelic_genotypes(rng, n_var, n_smp)
    variants = np.array(sorted(rng.choice(n_var, size=n_var // 2 + 1, replace=False)), np.int64)
    codes, counts, bad = kp.pack_dosages(gt, variants)
    want_codes, want_counts = naive.pca_codes(gt[variants].tolist())
    assert unpack(codes, n_smp) == want_codes
    assert counts.tolist() == want_counts
    assert bad.tolist() == [-1, -1]
    # The spare codes of the last byte read as missing.
    if n_smp % 4:
        assert all(int(b) >> (2 * (n_smp % 4)) == (1 << (2 * (4 - n_smp % 4))) - 1
                   for b in codes[:, -1])
    gt[variants[-1], n_smp - 1, 0] = 2  # an allele a biallelic record does not have
    assert kp.pack_dosages(gt, variants)[2].tolist() == [variants[-1], n_smp - 1]


def test_haploid_chunk_packs_missing():
    gt = np.array([[[0], [1], [-1]]], np.int8)
    codes, counts, _ = kp.pack_dosages(gt, np.array([0], np.int64))
    assert unpack(codes, 3) == [[3, 3, 3]] and counts.tolist() == [[0, 0, 0, 3]]


def test_standard_table_matches_naive():
    freq = np.array([0.01, 0.2, 0.5, 0.93])
    assert kp.standard_table(freq) == pytest.approx(np.array(naive.standard_table(freq)),
                                                    rel=1e-14)


@pytest.mark.parametrize("seed,n_var,n_smp,v0,v1,width", [
    (0, 30, 23, 0, 30, 3),
    (1, 17, 8, 5, 12, 1),
    (2, 9, 1, 0, 9, 2),
    (3, 40, 37, 39, 40, 4),
    (4, 6, 5, 3, 3, 2),
])
def test_products_match_naive(seed, n_var, n_smp, v0, v1, width):
    rng = np.random.default_rng(seed)
    gt = random_biallelic_genotypes(rng, n_var, n_smp)
    codes, _, _ = kp.pack_dosages(gt, np.arange(n_var, dtype=np.int64))
    table = rng.standard_normal((n_var, 4))  # any table: code 3 need not be 0
    x = naive.standardized_matrix(unpack(codes, n_smp), table.tolist())
    block = [row[v0:v1] for row in x]
    y = rng.standard_normal((n_smp, width))
    z = rng.standard_normal((v1 - v0, width))
    got = kp.xt_dot(codes, table, v0, v1, y)
    want = naive.matmul(naive.transpose(block), y.tolist()) if v1 > v0 else []
    assert got.shape == (v1 - v0, width)
    assert np.allclose(got, np.array(want).reshape(got.shape), rtol=1e-12, atol=1e-12)
    got = kp.x_dot(codes, table, v0, v1, z, n_smp)
    want = naive.matmul(block, z.tolist()) if v1 > v0 else np.zeros((n_smp, width))
    assert np.allclose(got, np.array(want), rtol=1e-12, atol=1e-12)


def correlated_dosages(rng, n_var, n_smp):
    """Dosage rows (None missing) where many rows copy an earlier one with a few changes."""
    rows = []
    for _ in range(n_var):
        if rows and rng.random() < 0.6:
            row = list(rows[-int(rng.integers(1, min(len(rows), 4) + 1))])
            for s in rng.choice(n_smp, size=int(rng.integers(0, n_smp // 3)), replace=False):
                row[s] = int(rng.integers(0, 3))
        else:
            p = rng.uniform(0.1, 0.6)
            row = [int(d) for d in rng.binomial(2, p, size=n_smp)]
        for s in np.flatnonzero(rng.random(n_smp) < 0.05):
            row[s] = None
        rows.append(row)
    return rows


def as_gt(dosages):
    """Genotype array (n_var, n_samples, 2) of dosage rows, None as ./."""
    table = {None: (-1, -1), 0: (0, 0), 1: (0, 1), 2: (1, 1)}
    return np.array([[table[d] for d in row] for row in dosages], np.int8)


@pytest.mark.parametrize("seed,n_smp", [(0, 30), (1, 13), (2, 5)])
def test_ld_r2_matches_naive(seed, n_smp):
    rng = np.random.default_rng(seed)
    rows = correlated_dosages(rng, 25, n_smp)
    codes, _, _ = kp.pack_dosages(as_gt(rows), np.arange(25, dtype=np.int64))
    for i in range(25):
        for j in range(25):
            got = kp.ld_r2(codes[i], codes[j], n_smp)
            assert got == pytest.approx(naive.ld_r2(rows[i], rows[j]), abs=1e-12), (i, j)


@pytest.mark.parametrize("seed,window,r2_max,pieces", [
    (0, 50, 0.5, [1, 10, 30]),
    (1, 200, 0.2, []),
    (2, 0, 0.5, [5]),
    (3, 30, 0.9, [2, 3, 4, 50]),
])
def test_thin_append_matches_naive(seed, window, r2_max, pieces):
    rng = np.random.default_rng(seed)
    n_smp, n_var = 24, 60
    rows = correlated_dosages(rng, n_var, n_smp)
    pos = np.cumsum(rng.integers(0, 12, size=n_var)).astype(np.int64) + 100
    cand, _, _ = kp.pack_dosages(as_gt(rows), np.arange(n_var, dtype=np.int64))
    matrix = np.zeros((n_var, cand.shape[1]), np.uint8)
    held = np.zeros(n_var, np.int64)
    n_rows, kept = 0, []
    bounds = [0, *pieces, n_var]
    for a, b in zip(bounds[:-1], bounds[1:]):
        # As the command does between chunks: the window starts at the first kept row
        # within reach of the piece's first candidate.
        start = int(np.searchsorted(held[:n_rows], pos[a] - window)) if b > a else 0
        n_rows, keep = kp.thin_append(matrix, held, n_rows, start, cand[a:b], pos[a:b],
                                      window, r2_max, n_smp)
        kept += (np.flatnonzero(keep) + a).tolist()
    assert kept == naive.ld_thin(rows, pos.tolist(), window, r2_max)
    assert (matrix[:n_rows] == cand[kept]).all() and held[:n_rows].tolist() == pos[kept].tolist()
    assert 0 < len(kept) < n_var
    # A negative window keeps everything.
    n_rows, keep = kp.thin_append(np.zeros_like(matrix), np.zeros_like(held), 0, 0, cand, pos,
                                  -1, 0.0, n_smp)
    assert n_rows == n_var and keep.all()


def psd_operator(rng, n, spectrum):
    basis, _ = np.linalg.qr(rng.standard_normal((n, len(spectrum))))
    return (basis * spectrum) @ basis.T


@pytest.mark.parametrize("seed,n,width,k", [(0, 300, 8, 4), (1, 40, 12, 10), (2, 60, 3, 2)])
def test_block_krylov_matches_eigh(seed, n, width, k):
    rng = np.random.default_rng(seed)
    spectrum = np.r_[[50.0, 20.0, 9.0], 1.0 + rng.random(n - 3)]
    a = psd_operator(rng, n, spectrum)
    got = pca.block_krylov_eigh(lambda q: a @ q, n, k, width=width, max_passes=40, seed=seed,
                                tol=1e-10)
    values, vectors = np.linalg.eigh(a)
    values, vectors = values[::-1][:k], vectors[:, ::-1][:, :k]
    assert got["converged"]
    assert got["values"] == pytest.approx(values, rel=1e-12)
    assert np.abs(align(vectors, got["vectors"]) - vectors).max() < 1e-8
    assert np.allclose(got["vectors"].T @ got["vectors"], np.eye(k), atol=1e-12)


def test_block_krylov_stops_on_an_invariant_subspace():
    rng = np.random.default_rng(5)
    a = psd_operator(rng, 50, np.array([9.0, 4.0, 2.0, 1.0]))  # rank 4
    calls = []
    got = pca.block_krylov_eigh(lambda q: calls.append(q.shape[1]) or a @ q, 50, 3, width=6,
                                max_passes=20, seed=1, tol=0.0)
    assert got["converged"] and len(calls) <= 2
    assert got["values"] == pytest.approx([9.0, 4.0, 2.0], rel=1e-12)
    with pytest.raises(ValueError, match="rank"):
        pca.block_krylov_eigh(lambda q: a @ q, 50, 6, width=3, max_passes=20, seed=1)


def test_fix_signs():
    scores = np.array([[0.1, -0.2, 0.5], [-0.7, 0.1, -0.5], [0.3, 0.15, 0.2]])
    assert pca.fix_signs(scores).tolist() == [-1.0, -1.0, 1.0]  # ties: the first sample


# End to end: the dense SVD, plink2.

def test_matches_dense_svd(structured, base):
    prefix, summary = base
    x, sites, names = dense_reference(structured["vcf"])
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    n, m = x.shape
    assert summary["n_variants"] == m and summary["n_samples"] == n == 250
    assert summary["n_records"] == 3000
    assert summary["algorithm"]["passes"] <= pca.MAX_PASSES
    eigen = pl.read_csv(f"{prefix}.pca_eigenval.tsv", separator="\t")
    want = s[:10] ** 2 / m
    assert eigen["EIGENVAL"].to_numpy() == pytest.approx(want, rel=1e-9)
    assert summary["eigenvalues"] == pytest.approx(want, rel=1e-9)
    assert eigen["VAR_SHARE"].to_numpy() == pytest.approx(want / ((x ** 2).sum() / m), rel=1e-9)
    scores = read(prefix, "scores")
    assert scores["sample"].to_list() == names
    got = scores.select(PCS).to_numpy()
    ref = align(got, u[:, :10])
    # PC1-2 (structure) to rounding; the bulk PCs, whose eigenvalues lie within 1% of
    # one another, to the Krylov method's convergence (their eigenvalues still to 1e-9).
    assert np.abs(got[:, :2] - ref[:, :2]).max() < 1e-10
    assert np.abs(got - ref).max() < 1e-4
    # The sign convention: the largest |score| of each PC is positive.
    assert (got[np.abs(got).argmax(axis=0), range(10)] > 0).all()
    loadings = read(prefix, "loadings")
    assert loadings.select("CHROM", "POS", "ID", "REF", "ALT").rows() == [r[:5] for r in sites]
    assert loadings["ALT_FREQ"].to_numpy() == pytest.approx([r[5] for r in sites], rel=1e-15)
    weights = loadings.select(PCS).to_numpy()
    want = x.T @ ref / s[:10] ** 2
    scale = np.abs(want).max(axis=0)
    assert (np.abs(weights[:, :2] - want[:, :2]) / scale[:2]).max() < 1e-9
    assert (np.abs(weights - want) / scale).max() < 1e-3


def run_plink2_pca(vcf, out: Path, mode: str, extra=()) -> Path:
    exe = need_tool("plink2")
    cmd = [exe, "--vcf", str(vcf), "--autosome", "--max-alleles", "2", "--maf", "0.01",
           "--pca", "10", *([mode] if mode else []), "allele-wts", *extra, "--seed", "1",
           "--threads", "1", "--memory", "1024", "--out", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    return out


@pytest.mark.parametrize("mode", ["approx", "meanimpute", ""])
def test_matches_plink2(structured, base, tmp_path, mode):
    prefix, summary = base
    out = run_plink2_pca(structured["vcf"], tmp_path / "plink", mode)
    vec = pl.read_csv(f"{out}.eigenvec", separator="\t")
    val = np.loadtxt(f"{out}.eigenval")
    scores = read(prefix, "scores")
    assert vec["#IID"].to_list() == scores["sample"].to_list()
    ours = np.array(summary["eigenvalues"])
    corr = [abs(np.corrcoef(vec[c], scores[c])[0, 1]) for c in PCS[:4]]
    if not mode:
        # plink2's exact --pca without 'meanimpute' handles missing calls pairwise (as
        # --make-rel), so its eigenvalues and the bulk PCs differ; the structure does not.
        assert min(corr[:2]) > 0.999
        assert abs(val[0] / ours[0] - 1) > 1e-2
        return
    # approx (always mean-imputed) and 'meanimpute' are ours; on 250 samples approx is exact.
    assert min(corr) > 0.999
    assert val == pytest.approx(ours, rel=1e-4)  # plink2 prints 6 significant digits
    # plink2's ALT-allele weights are ours x sqrt(eigenvalue) x M / 2, up to each PC's sign.
    alleles = pl.read_csv(f"{out}.eigenvec.allele", separator="\t")
    alt = alleles.filter(pl.col("A1") == pl.col("ALT"))
    loadings = read(prefix, "loadings")
    assert alt["ID"].to_list() == loadings["ID"].to_list()
    m = summary["n_variants"]
    for k, c in enumerate(PCS[:4]):
        want = loadings[c].to_numpy() * np.sqrt(ours[k]) * m / 2
        got = alt[c].to_numpy() * np.sign(alt[c].to_numpy() @ want)
        assert np.abs(got - want).max() < 1e-4 * np.abs(want).max(), c


# Projection.

def split_samples(vcf, folder):
    names = list(cyvcf2.VCF(str(vcf)).samples)
    held = names[4::5]
    path = Path(folder) / "held.txt"
    path.write_text("\n".join(held) + "\n")
    return names, held, str(path)


def test_projection_of_held_back_samples(structured, base, tmp_path):
    """PCA on 80% of the samples, the other 20% projected: against their full-PCA scores.

    Projected samples shrink towards 0 (they did not shape the PCs; the shrinkage grows
    as the eigenvalue falls towards the noise bulk), a factor per PC that correlation
    ignores. PC1 and PC2 carry the population structure, with eigenvalues 14 and 6 far
    above the bulk (about 1.8), so held-back samples land where the full PCA puts them:
    |r| >= 0.99 (0.9998 and 0.999 here). PC3 on are noise and have no such target.
    """
    full_prefix, _ = base
    names, held, held_file = split_samples(structured["vcf"], tmp_path)
    train, s_train = run_pca(structured["vcf"], tmp_path, "train",
                             exclude_samples_file=held_file)
    proj, s_proj = run_pca(structured["vcf"], tmp_path, "proj", samples_file=held_file,
                           project=f"{train}.pca_loadings.parquet")
    assert s_train["n_samples"] == 200 and s_proj["n_samples"] == 50
    assert s_proj["n_matched"] == s_proj["n_loadings_variants"] == s_train["n_variants"]
    assert s_proj["n_not_found"] == 0 and s_proj["n_matched_swapped"] == 0
    projected = read(proj, "projected")
    assert projected["sample"].to_list() == held
    full = read(full_prefix, "scores").filter(pl.col("sample").is_in(held))
    trained = read(train, "scores")
    for c in PCS[:2]:
        r = np.corrcoef(projected[c], full[c])[0, 1]
        assert abs(r) >= 0.99, c
        # Same cohort scale: the full PCA's unit vectors spread over 250 samples, not 200.
        slope = np.polyfit(full[c].to_numpy() * np.sqrt(250 / 200), projected[c].to_numpy(),
                           1)[0]
        assert 0.5 < abs(slope) < 1.0, c  # shrunk, not lost
    assert trained["PC1"].std() > projected["PC1"].std() * 0.9
    # n_called: matched variants with a complete diploid call (1-5% of calls are missing).
    assert projected["n_called"].max() < s_train["n_variants"]
    assert projected["n_called"].min() > 0.9 * s_train["n_variants"]


def test_projecting_the_training_samples_gives_their_scores(structured, base, tmp_path):
    prefix, _ = base
    out, summary = run_pca(structured["vcf"], tmp_path, "self",
                           project=f"{prefix}.pca_loadings.parquet", fmt="tsv")
    got = read(out, "projected", "tsv").select(PCS).to_numpy()
    want = read(prefix, "scores").select(PCS).to_numpy()
    assert np.abs(got[:, :2] - want[:, :2]).max() < 1e-10
    assert np.abs(got - want).max() < 1e-4
    assert summary["pcs"] == 10 and summary["n_duplicate_records"] == 0
    # --pcs takes the first N.
    out, _ = run_pca(structured["vcf"], tmp_path, "two", pcs=2,
                     project=f"{prefix}.pca_loadings.parquet")
    assert read(out, "projected").columns == ["sample", "n_called", "PC1", "PC2"]


def test_projection_matches_swapped_alleles_and_bare_contigs(structured, base, tmp_path):
    prefix, _ = base
    loadings = read(prefix, "loadings")
    # The same variants written the other way round: ALT <-> REF, so the ALT frequency is
    # 1 - p and the weights of the other allele's dosage (2 - d) are negated.
    flipped = loadings.with_columns(
        pl.col("CHROM").str.strip_prefix("chr"), REF=pl.col("ALT"), ALT=pl.col("REF"),
        ALT_FREQ=1 - pl.col("ALT_FREQ"), **{c: -pl.col(c) for c in PCS})
    flipped.write_parquet(tmp_path / "flipped.parquet")
    a, sa = run_pca(structured["vcf"], tmp_path, "a", project=f"{prefix}.pca_loadings.parquet")
    b, sb = run_pca(structured["vcf"], tmp_path, "b", project=str(tmp_path / "flipped.parquet"))
    assert sb["n_matched_swapped"] == sb["n_matched"] == sa["n_matched"]
    assert_frame_equal(read(a, "projected"), read(b, "projected"), check_exact=False,
                       abs_tol=1e-12)
    # A region: the loadings variants elsewhere are not found and add nothing.
    c, sc = run_pca(structured["vcf"], tmp_path, "c", region="chr2",
                    project=f"{prefix}.pca_loadings.parquet")
    n_chr2 = loadings.filter(pl.col("CHROM") == "chr2").height
    assert sc["n_matched"] == n_chr2 and sc["n_not_found"] == loadings.height - n_chr2
    assert (read(c, "projected")["n_called"] <= n_chr2).all()


def test_projection_matches_plink2_score(make_cohort, tmp_path):
    """plink2 --score with its allele weights and training frequencies: the SUM columns
    are ours x sqrt(eigenvalue) x M (both allele rows count), up to each PC's sign.

    Without missing calls only: plink2 2.00a3.5's variance-standardized mean imputation
    adds -2(1 - 2p)/sqrt(2p(1 - p)) x weight for each missing call (README)."""
    exe = need_tool("plink2")
    cohort = make_cohort("pcanomiss", n_samples=120, n_sites=1500, seed=4, populations=POPS,
                         missing_rate=(0.0, 0.0))
    names, held, held_file = split_samples(cohort["vcf"], tmp_path)
    (tmp_path / "train.txt").write_text("\n".join(s for s in names if s not in held) + "\n")
    train, s_train = run_pca(cohort["vcf"], tmp_path, "train", exclude_samples_file=held_file)
    proj, _ = run_pca(cohort["vcf"], tmp_path, "proj", samples_file=held_file,
                      project=f"{train}.pca_loadings.parquet")
    ptrain = run_plink2_pca(cohort["vcf"], tmp_path / "ptrain", "meanimpute",
                            ["--keep", str(tmp_path / "train.txt"), "--freq"])
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(read(train, "loadings")["ID"].to_list()) + "\n")
    cmd = [exe, "--vcf", cohort["vcf"], "--keep", held_file, "--extract", str(ids),
           "--read-freq", f"{ptrain}.afreq", "--score", f"{ptrain}.eigenvec.allele", "2", "5",
           "header-read", "variance-standardize", "cols=+scoresums", "--score-col-nums", "6-7",
           "--threads", "1", "--memory", "1024", "--out", str(tmp_path / "pproj")]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    score = pl.read_csv(tmp_path / "pproj.sscore", separator="\t")
    ours = read(proj, "projected")
    assert score["#IID"].to_list() == ours["sample"].to_list()
    for k, c in enumerate(PCS[:2]):
        want = ours[c].to_numpy() * np.sqrt(s_train["eigenvalues"][k]) * s_train["n_variants"]
        got = score[f"{c}_SUM"].to_numpy()
        got = got * np.sign(got @ want)
        assert np.abs(got - want).max() < 1e-4 * np.abs(want).max(), c


# LD thinning on a constructed file.

def thinning_vcf(path: Path, n_smp=40, n_base=30, seed=0, unsorted=False):
    """Independent variants 1 kb apart, each followed by a copy 10 bp after it and a
    REF/ALT-swapped copy (dosage 2 - d, so r² = 1) 20 bp after it."""
    rng = np.random.default_rng(seed)
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=chr1,length=100000>",
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT",
                        *[f"s{i}" for i in range(n_smp)]])]
    text = {0: "0/0", 1: "0/1", 2: "1/1", -1: "./."}
    records = []
    for i in range(n_base):
        dose = rng.binomial(2, rng.uniform(0.2, 0.5), size=n_smp)
        dose[rng.random(n_smp) < 0.05] = -1
        swapped = np.where(dose < 0, -1, 2 - dose)
        pos = 1000 * (i + 1)
        for kind, offset, d, ref, alt in (("base", 0, dose, "A", "G"), ("copy", 10, dose, "C", "T"),
                                          ("swap", 20, swapped, "T", "G")):
            records.append(f"chr1\t{pos + offset}\t{kind}{i}\t{ref}\t{alt}\t.\tPASS\t.\tGT\t"
                           + "\t".join(text[int(x)] for x in d))
    if unsorted:
        records[4], records[5] = records[5], records[4]
    path.write_text("\n".join(lines + records) + "\n")
    return path


@pytest.mark.parametrize("window,kinds", [
    (100, {"base"}),  # both copies are within 100 bp of their kept original
    (15, {"base", "swap"}),  # the swap is 20 bp from its original, and its copy was dropped
    (5, {"base", "copy", "swap"}),  # nothing within 5 bp
])
def test_thinning_drops_correlated_copies(tmp_path, window, kinds):
    vcf = thinning_vcf(tmp_path / "ld.vcf")
    prefix, summary = run_pca(vcf, tmp_path, pcs=3, maf=0.0, thin_window=window, thin_r2=0.8)
    ids = read(prefix, "loadings")["ID"].to_list()
    assert {i.rstrip("0123456789") for i in ids} == kinds
    assert len(ids) == 30 * len(kinds) == summary["n_variants"]
    assert summary["variants_skipped"]["ld_thinned"] == 90 - len(ids)
    assert summary["thin_window"] == window and summary["thin_r2"] == 0.8


def test_thinned_pca_equals_pca_of_the_kept_variants(tmp_path):
    vcf = thinning_vcf(tmp_path / "ld.vcf")
    thinned, a = run_pca(vcf, tmp_path, "t", pcs=3, maf=0.0, thin_window=100, thin_r2=0.8)
    only = tmp_path / "base.vcf"
    only.write_text("".join(ln + "\n" for ln in vcf.read_text().splitlines()
                            if "\tcopy" not in ln and "\tswap" not in ln))
    plain, b = run_pca(only, tmp_path, "p", pcs=3, maf=0.0)
    assert a["eigenvalues"] == pytest.approx(b["eigenvalues"], rel=1e-12)
    assert_frame_equal(read(thinned, "scores"), read(plain, "scores"), check_exact=False,
                       abs_tol=1e-12)


def test_thinning_needs_sorted_records(tmp_path):
    vcf = thinning_vcf(tmp_path / "ld.vcf", unsorted=True)
    with pytest.raises(InputError, match="not sorted") as e:
        run_pca(vcf, tmp_path, pcs=3, maf=0.0, thin_window=100, thin_r2=0.8)
    assert e.value.pos == 2010
    run_pca(vcf, tmp_path, pcs=3, maf=0.0)  # without thinning, order does not matter
    assert not list(tmp_path.glob(".*tmp*"))


# Options, determinism, outputs.

def test_threads_and_chunks_do_not_change_results(structured, base, tmp_path, monkeypatch):
    prefix, s1 = base
    other, s2 = run_pca(structured["vcf"], tmp_path, "t2", threads=2, chunk_variants=37)
    for kind in ("scores", "loadings"):
        assert_frame_equal(read(prefix, kind), read(other, kind))
    assert (Path(f"{prefix}.pca_eigenval.tsv").read_text()
            == Path(f"{other}.pca_eigenval.tsv").read_text())
    assert s1["algorithm"] == s2["algorithm"]
    # Other blocks sum in another order: the same to rounding.
    monkeypatch.setattr(pca, "BLOCK_VARIANTS", 100)
    small, s3 = run_pca(structured["vcf"], tmp_path, "t3", threads=2)
    assert s3["eigenvalues"] == pytest.approx(s1["eigenvalues"], rel=1e-12)
    a = read(prefix, "scores").select(PCS[:2]).to_numpy()
    b = read(small, "scores").select(PCS[:2]).to_numpy()
    assert np.abs(a - b).max() < 1e-12


@pytest.mark.parametrize("blas", ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"])
def test_blas_threads_do_not_change_results(structured, tmp_path, blas):
    """Byte-identical tables whatever BLAS thread count the environment asks for (more BLAS
    threads split the dense products' sums differently), with --threads 1 and 2."""
    import os

    tables = {}
    for blas_threads, threads in ((1, 1), (2, 2), (2, 1)):
        env = {k: v for k, v in os.environ.items()
               if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        env[blas] = str(blas_threads)
        out = tmp_path / f"b{blas_threads}t{threads}"
        r = cli("pca", structured["vcf"], "--out", str(out), "--threads", str(threads),
                "--format", "tsv", "-q", env=env)
        assert r.returncode == 0, r.stderr
        tables[blas_threads, threads] = [Path(f"{out}.pca_{kind}.tsv").read_bytes()
                                         for kind in ("scores", "eigenval", "loadings")]
    first = tables[1, 1]
    assert all(table.count(b"\n") > 5 for table in first)
    for key, other in tables.items():
        assert other == first, key


@pytest.mark.parametrize("options", [
    {}, {"threads": 2, "chunk_variants": 37, "thin_window": 200_000, "thin_r2": 0.05}])
def test_per_chromosome_files_equal_their_concatenation(structured, tmp_path, options):
    """Several files are read as the file `bcftools concat` makes of them (BCF and VCF.gz
    parts: both decoders), chunks spanning two files included: the same tables, bit for
    bit, and the same projection."""
    parts, joined = split_by_contig(structured["vcf"], tmp_path, {
        "chr1": "p1.bcf", "chr2": "p2.vcf.gz", "chrX,chrY": "sex.bcf"})
    a, sa = run_pca(parts, tmp_path, "parts", fmt="tsv", **options)
    b, sb = run_pca(joined, tmp_path, "joined", fmt="tsv", **options)
    for kind in ("scores", "eigenval", "loadings"):
        assert (Path(f"{a}.pca_{kind}.tsv").read_bytes()
                == Path(f"{b}.pca_{kind}.tsv").read_bytes()), kind
    for key in ("n_records", "n_variants", "variants_skipped", "eigenvalues", "algorithm"):
        assert sa[key] == sb[key], key
    assert sa["n_records"] == 3000 and sa["n_variants"] > 500
    if options:
        assert sa["variants_skipped"]["ld_thinned"] > 0
    chunks = {"chunk_variants": options.get("chunk_variants", 1000)}
    pa, _ = run_pca(parts, tmp_path, "pa", project=f"{a}.pca_loadings.tsv", **chunks)
    pb, _ = run_pca(joined, tmp_path, "pb", project=f"{a}.pca_loadings.tsv", **chunks)
    assert_frame_equal(read(pa, "projected"), read(pb, "projected"), check_exact=True)


def test_files_with_other_samples_are_refused(structured, tmp_path):
    bcftools = need_tool("bcftools")
    parts, _ = split_by_contig(structured["vcf"], tmp_path, {"chr1": "p1.bcf", "chr2": "p2.bcf"})
    samples = list(cyvcf2.VCF(parts[1]).samples)
    subprocess.run([bcftools, "view", "-s", ",".join([*samples[:-2], "NOT_THERE"]),
                    "--force-samples", "-Ob", "-o", str(tmp_path / "other.bcf"), parts[1]],
                   check=True, capture_output=True)
    assert_one_error_line(tmp_path, ["pca", parts[0], str(tmp_path / "other.bcf"), "-o",
                                     "{tmp}/x"], 1,
                          f"other.bcf: has {len(samples) - 2} samples, and {parts[0]} has "
                          f"{len(samples)}: its sample {len(samples) - 1} "
                          f"'{samples[-2]}' is missing here")


def test_seed_changes_only_the_bulk(structured, base, tmp_path):
    prefix, s1 = base
    other, s2 = run_pca(structured["vcf"], tmp_path, "seed", seed=7, pcs=4)
    assert s2["eigenvalues"][:2] == pytest.approx(s1["eigenvalues"][:2], rel=1e-12)
    assert s2["eigenvalues"] == pytest.approx(s1["eigenvalues"][:4], rel=1e-6)
    a = read(prefix, "scores").select(PCS[:2]).to_numpy()
    b = read(other, "scores").select(PCS[:2]).to_numpy()
    assert np.abs(a - b).max() < 1e-10


def test_sample_selection_and_tsv(structured, tmp_path):
    names = list(cyvcf2.VCF(structured["vcf"]).samples)
    (tmp_path / "out.txt").write_text("\n".join(names[::3]) + "\n")
    (tmp_path / "keep.txt").write_text("\n".join(n for n in names if n not in names[::3]))
    a, sa = run_pca(structured["vcf"], tmp_path, "a", pcs=3,
                    exclude_samples_file=str(tmp_path / "out.txt"))
    b, _ = run_pca(structured["vcf"], tmp_path, "b", pcs=3, fmt="tsv",
                   samples_file=str(tmp_path / "keep.txt"))
    assert sa["n_samples"] == len(names) - len(names[::3])
    for kind in ("scores", "loadings"):
        assert_frame_equal(read(a, kind), read(b, kind, "tsv"), check_exact=False,
                           rel_tol=1e-15)


def test_summary_json(base):
    prefix, summary = base
    on_disk = json.loads(Path(f"{prefix}.pca.json").read_text())
    assert on_disk["command"] == "pca" and on_disk["pcs"] == 10 and on_disk["seed"] == 1
    skipped = on_disk["variants_skipped"]
    assert on_disk["n_records"] == on_disk["n_variants"] + sum(skipped.values())
    assert skipped["non_autosomal"] > 0 and skipped["not_biallelic"] > 0
    assert skipped["below_maf"] > 0 and skipped["ld_thinned"] == 0
    assert on_disk["packed_bytes"] == on_disk["n_variants"] * -(-250 // 4)
    assert on_disk["variance_share"][0] == pytest.approx(
        on_disk["eigenvalues"][0] / on_disk["grm_trace"])
    assert on_disk["version"] and on_disk["elapsed_seconds"] >= 0
    assert sorted(Path(p).name for p in on_disk["outputs"]) == [
        "out.pca.json", "out.pca_eigenval.tsv", "out.pca_loadings.parquet",
        "out.pca_scores.parquet"]


@pytest.mark.parametrize("name", ["sites_only.vcf", "header_only.vcf", "edge_cases.vcf"])
def test_too_few_variants_is_an_error(tmp_path, name):
    with pytest.raises(InputError, match="PCs need at least"):
        run_pca(DATA / name, tmp_path)
    assert not list(tmp_path.iterdir())


def test_bad_loadings_tables(base, tmp_path):
    prefix, _ = base
    loadings = read(prefix, "loadings")
    cases = {
        "nofreq.parquet": loadings.drop("ALT_FREQ"),
        "nopcs.parquet": loadings.select("CHROM", "POS", "ID", "REF", "ALT", "ALT_FREQ"),
        "freq1.parquet": loadings.with_columns(ALT_FREQ=pl.lit(1.0)),
    }
    for name, df in cases.items():
        df.write_parquet(tmp_path / name)
        with pytest.raises(InputError, match="loadings table"):
            run_pca(DATA / "edge_cases.vcf", tmp_path, project=str(tmp_path / name))
    (tmp_path / "junk.parquet").write_text("not parquet\n")
    with pytest.raises(InputError, match="cannot read"):
        run_pca(DATA / "edge_cases.vcf", tmp_path, project=str(tmp_path / "junk.parquet"))



def test_cli_subprocess_run(structured, tmp_path):
    out = tmp_path / "c"
    r = cli("pca", structured["vcf"], "--out", str(out), "--pcs", "4", "--threads", "2",
            "--format", "tsv", "--thin-window", "1000", "--thin-r2", "0.5")
    assert r.returncode == 0, r.stderr
    assert "4 PCs" in r.stderr
    for suffix in (".pca_scores.tsv", ".pca_eigenval.tsv", ".pca_loadings.tsv", ".pca.json"):
        assert (tmp_path / f"c{suffix}").exists()
    r = cli("pca", structured["vcf"], "--out", str(tmp_path / "p"), "--project",
            str(tmp_path / "c.pca_loadings.tsv"))
    assert r.returncode == 0, r.stderr
    assert "loadings variants matched" in r.stderr
    assert (tmp_path / "p.pca_projected.parquet").exists()
    r = cli("pca", structured["vcf"], "--out", str(out), "--format", "tsv")
    assert r.returncode == 2 and "exists" in r.stderr and "--force" in r.stderr


def test_help_compiles_nothing():
    code = ("import sys; from genomekit.cli import cli; from click.testing import CliRunner; "
            "r = CliRunner().invoke(cli, ['pca', '--help']); "
            "print(r.exit_code, 'numba' in sys.modules, '--thin-window' in r.output)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.split() == ["0", "False", "True"]


EDGE = str(DATA / "edge_cases.vcf")


@pytest.mark.parametrize("args,code,text", [
    (["pca", "/no/such.vcf", "-o", "{tmp}/x"], 1, "no such file"),
    (["pca", EDGE, "-o", "{tmp}/x", "--pcs", "0"], 2, "--pcs"),
    (["pca", EDGE, "-o", "{tmp}/x", "--maf", "0.7"], 2, "--maf"),
    (["pca", EDGE, "-o", "{tmp}/x", "--thin-window", "1000"], 2, "--thin-r2"),
    (["pca", EDGE, "-o", "{tmp}/x", "--thin-window", "10", "--thin-r2", "1.5"], 2, "--thin-r2"),
    (["pca", EDGE, "-o", "{tmp}/x", "--thin-window", "-1", "--thin-r2", "0.2"], 2,
     "--thin-window"),
    (["pca", EDGE, "-o", "{tmp}/x", "--threads", "0"], 2, "--threads"),
    (["pca", EDGE, "-o", "{tmp}/x", "-r", "chr1:1-100"], 1, "need an index"),
    (["pca", EDGE, "-o", "{tmp}/x"], 1, "PCs need at least"),
    (["pca", EDGE, "-o", "{tmp}/x", "--project", "/no/such.parquet"], 2, "--project"),
    (["pca", EDGE, "-o", "{tmp}/x", "--project", EDGE], 1, "loadings table"),
    (["pca", EDGE, "-o", "{tmp}/x", "--project", EDGE, "--thin-window", "5", "--thin-r2",
      "0.5"], 2, "--project"),
    (["pca", EDGE, "-o", "{tmp}/nodir/x"], 2, "does not exist"),
])
def test_cli_errors_are_one_line(tmp_path, args, code, text):
    assert_one_error_line(tmp_path, args, code, text)
