"""`genomekit pca`: principal components of the standardized genotypes, and projection.

Input: a VCF/BCF, or several (one per chromosome, say) with the same samples
in the same order, read in the order given as if concatenated (io/chain.py).

Variants. The VCF is streamed once. A record is used when it lies on an
autosome (contigs 1 to 22, with or without 'chr'), has exactly one ALT allele,
varies among the complete diploid calls of the selected samples, and has a
minor allele frequency of at least --maf over those calls (as `relate`).
Haploid, half-missing and polyploid calls are missing.

LD thinning (--thin-window BP --thin-r2 R2). Greedy, in file order, contig by
contig: a variant is dropped when its r² with a variant already kept, at most
BP bp before it on the same contig, exceeds R2; otherwise it is kept. r² is the
squared Pearson correlation of the two ALT dosages over the samples with a
complete diploid call at both. Unlike plink's --indep-pairwise (a window that
slides by a step, within which correlated pairs are pruned by plink's own order
of preference), a variant is compared only with the kept variants before it,
and the earlier variant of a correlated pair always stays; the result does not
depend on chunking or --threads. Thinning costs n_samples x (kept variants
in the window) per variant.

Standardization (plink2 --pca): X[s, v] = (d - 2p) / sqrt(2p(1 - p)), d the ALT
dosage (0, 1, 2) of sample s at variant v, p the ALT frequency over the
complete diploid calls at v; missing calls are 0 (mean-imputed). The GRM is
X Xᵀ / M over the M variants used, and the PCs are its top eigenvectors.

Algorithm. Randomized block Krylov (Halko, Martinsson and Tropp 2011, §4.4-4.5;
the "blanczos" of Rokhlin, Szlam and Tygert 2009 that FastPCA and plink2
--pca approx use), in sample space: a Gaussian start of l = k + OVERSAMPLE
columns (seeded by --seed), then up to MAX_PASSES products Y = X Xᵀ Q with the
newest block Q, each block orthonormalized against all earlier ones; the
Rayleigh-Ritz eigenpairs of X Xᵀ on the span of the blocks give the PCs. The
passes stop early once every one of the top k Ritz pairs has a residual
||X Xᵀ u - θ u|| below RESIDUAL_TOL x θ. One more pass gives the loadings
Xᵀ U / s². The genotypes stay packed (2 bits each, kernels/pca.py), and each
pass streams them in blocks of BLOCK_VARIANTS variants: a block computes
X_b (X_bᵀ Q), the blocks' results are summed in block order, so results do not
depend on --threads. The dense steps run on one BLAS thread (BLAS_THREADS),
whatever OPENBLAS_NUM_THREADS or OMP_NUM_THREADS say, so results do not depend
on those either.

Outputs. Scores are the unit-length eigenvectors (plink2's .eigenvec);
eigenvalues are those of the GRM (plink2's .eigenval); loadings are the ALT
allele weights W = Xᵀ U / s² (s² = M x eigenvalue), so that a sample's score on
PC k is sum_v W[v, k] X[s, v]: applied to the PCA's own samples they give back
their scores. Signs: each PC is flipped so that the sample with the largest
absolute score (the first such sample on ties) has a positive score.

Projection (--project LOADINGS). A loadings table's variants are matched to
the biallelic records of the VCF by CHROM (without 'chr'), POS, REF and ALT;
a record with REF and ALT exchanged also matches, with its dosage counted as
2 - d. Each sample's dosages are standardized with the saved ALT_FREQ (missing
calls 0, i.e. mean-imputed with the saved frequency) and weighed by the saved
weights; loadings variants absent from the VCF add nothing. Only the first
record of a variant counts.

Memory. The packed genotypes take n_variants x ceil(n_samples / 4) bytes
(10,000 samples x 1,000,000 variants = 2.5 GB), plus up to 25% while they grow,
plus about 80 bytes and the CHROM, ID, REF and ALT text per variant (positions,
frequencies and the site columns of the loadings table). The Krylov basis takes
8 x n_samples x l x MAX_PASSES bytes, twice that while it grows (10,000
samples, k = 10: 19 MB), and each of up to 2 x --threads block jobs in flight
holds 8 x n_samples x l bytes. Projection holds the loadings table, a
dictionary of its variants and n_samples x k scores.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from genomekit.commands._common import (
    autosomal_biallelic,
    check_selection,
    check_threads,
    input_summary,
    ordered_map,
    write_summary,
)
from genomekit.commands._inputs import BadRecord, input_paths, open_inputs
from genomekit.errors import InputError, UsageError
from genomekit.genome import MAF_EPSILON, bare_name
from genomekit.io.outputs import OutputSet
from genomekit.progress import Progress

FORMATS = ("parquet", "tsv")
DEFAULT_PCS = 10
# Variants per product job. Fixed (not derived from --threads) because the jobs'
# results are summed in this order.
BLOCK_VARIANTS = 1024
# Columns of the random start beyond k (Halko et al. recommend 5 to 10).
OVERSAMPLE = 10
# Products X Xᵀ Q at most; each is one pass over the packed genotypes.
MAX_PASSES = 12
# Stop once ||X Xᵀ u - θ u|| <= RESIDUAL_TOL x θ for each of the top k Ritz pairs.
RESIDUAL_TOL = 1e-7
# Directions of a new block below this share of the top eigenvalue are already in
# the span (the Krylov space is invariant): they are dropped.
DEFLATION_TOL = 1e-11
# Spare packed rows added at each growth, as a share of those already used.
GROWTH = 0.25
# BLAS threads of the dense steps (the Krylov basis, n_samples x at most
# MAX_PASSES x (k + OVERSAMPLE)), whatever the environment sets: fixed, so that
# results do not depend on it. The genotype passes run on --threads.
BLAS_THREADS = 1


@dataclass(frozen=True)
class PcaOutputs:
    scores: str | None
    eigenval: str | None
    loadings: str | None
    projected: str | None
    summary: str

    @classmethod
    def for_prefix(cls, prefix: str, fmt: str, project: bool) -> PcaOutputs:
        if project:
            return cls(None, None, None, f"{prefix}.pca_projected.{fmt}", f"{prefix}.pca.json")
        return cls(
            scores=f"{prefix}.pca_scores.{fmt}",
            eigenval=f"{prefix}.pca_eigenval.tsv",
            loadings=f"{prefix}.pca_loadings.{fmt}",
            projected=None,
            summary=f"{prefix}.pca.json",
        )

    def paths(self) -> list[str]:
        return [p for p in (self.scores, self.eigenval, self.loadings, self.projected,
                            self.summary) if p]


def _check_args(fmt, pcs, maf, thin_window, thin_r2, project, threads, region, regions_file):
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not '{fmt}'")
    if pcs is not None and pcs < 1:
        raise UsageError(f"--pcs must be at least 1, not {pcs}")
    if not 0.0 <= maf <= 0.5:
        raise UsageError(f"--maf must be between 0 and 0.5, not {maf}")
    if (thin_window is None) != (thin_r2 is None):
        raise UsageError("--thin-window and --thin-r2 go together",
                         hint="give both, e.g. --thin-window 500000 --thin-r2 0.1")
    if thin_window is not None:
        if project:
            raise UsageError("--project uses the variants of the loadings table and cannot "
                             "thin them", hint="drop --thin-window and --thin-r2")
        if thin_window < 0:
            raise UsageError(f"--thin-window must be at least 0 bp, not {thin_window}")
        if not 0.0 <= thin_r2 < 1.0:
            raise UsageError(f"--thin-r2 must be at least 0 and below 1, not {thin_r2}",
                             hint="r² never exceeds 1, so nothing would be thinned")
    check_threads(threads)
    check_selection(region, regions_file)


def run(inputs: str | Sequence[str], out: str, *, pcs: int | None = None, maf: float = 0.01,
        thin_window: int | None = None, thin_r2: float | None = None,
        project: str | None = None, seed: int = 1, region: str | None = None,
        regions_file: str | None = None, samples_file: str | None = None,
        exclude_samples_file: str | None = None, fmt: str = "parquet", threads: int = 1,
        force: bool = False, engine: str = "auto", quiet: bool = False,
        command_line: str = "", chunk_variants: int | None = None) -> dict:
    """Compute the PCs of ``inputs`` (or, with ``project``, place its samples on saved
    loadings) and write the outputs named by ``out``.

    ``inputs`` is a VCF/BCF path, or several read in order as one file (the
    same samples in the same order in each, e.g. one file per chromosome).
    Returns the run summary (also written to ``OUT.pca.json``).
    """
    from threadpoolctl import threadpool_limits

    started = time.time()
    paths = input_paths(inputs)
    _check_args(fmt, pcs, maf, thin_window, thin_r2, project, threads, region, regions_file)
    outputs = PcaOutputs.for_prefix(out, fmt, bool(project))
    # One BLAS thread: more split the dense products' sums differently, and the results would
    # depend on OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS.
    with OutputSet(outputs.paths(), force) as files, threadpool_limits(BLAS_THREADS, "blas"):
        loadings = _read_loadings(project, pcs) if project else None
        reader, regions = open_inputs(
            paths, region=region, regions_file=regions_file, samples_file=samples_file,
            exclude_samples_file=exclude_samples_file, engine=engine, threads=threads,
            quiet=quiet)
        common = {
            "command_line": command_line,
            "inputs": input_summary(paths),
            "regions": [str(r) for r in regions] if regions else None,
            "format": fmt,
        }
        if loadings is not None:
            summary = _project(reader, loadings, files, outputs, quiet, chunk_variants)
            summary = {"command": "pca --project", **common, "loadings": os.path.abspath(project),
                       **summary}
        else:
            summary = _pca(reader, pcs or DEFAULT_PCS, maf, thin_window, thin_r2, seed, files,
                           outputs, threads, quiet, chunk_variants)
            summary = {"command": "pca", **common, **summary}
        summary["outputs"] = [os.path.abspath(p) for p in outputs.paths()]
        summary["elapsed_seconds"] = round(time.time() - started, 3)
        write_summary(files.tmp(outputs.summary), summary)
        files.commit()
    return summary


# Reading: select, pack and thin.

@dataclass(frozen=True)
class _Selected:
    """The records of a chunk that passed the filters, packed."""

    chunk: object
    rows: np.ndarray  # indices into the chunk
    codes: np.ndarray  # uint8 (len(rows), bytes per row)
    counts: np.ndarray  # int64 (len(rows), 4): samples per code
    alt_freq: np.ndarray
    skipped: dict


@dataclass(frozen=True)
class _SelectJob:
    """Packs the records of a chunk to use: autosomal, biallelic, varying, MAF >= maf."""

    maf: float

    def __call__(self, chunk):
        from genomekit.kernels import pca as kp

        candidates, skipped = autosomal_biallelic(chunk)
        codes, counts, bad = kp.pack_dosages(chunk.gt, candidates)
        if bad[0] >= 0:
            return BadRecord(chunk, int(bad[0]))
        n_called = counts[:, :3].sum(axis=1)
        n_alt = counts[:, 1] + 2 * counts[:, 2]
        varies = (n_alt > 0) & (n_alt < 2 * n_called)
        with np.errstate(invalid="ignore", divide="ignore"):
            freq = n_alt / (2.0 * n_called)
        minor = np.minimum(freq, 1.0 - freq)
        passed = varies & (minor >= self.maf * (1.0 - MAF_EPSILON)) if self.maf > 0 else varies
        skipped.update(monomorphic=int((~varies).sum()),
                       below_maf=int((varies & ~passed).sum()))
        return _Selected(chunk, candidates[passed], codes[passed], counts[passed],
                         freq[passed], skipped)


class _DosageMatrix:
    """The packed dosages (kernels/pca.py encoding) of the variants kept, grown as they arrive.

    Rows grow with ndarray.resize, which reallocates in place where the
    allocator can (mremap for large blocks).
    """

    def __init__(self, n_samples: int, thin_window: int | None, thin_r2: float | None):
        from genomekit.kernels import pca as kp

        self.n_samples = n_samples
        self.codes = np.zeros((0, kp.n_bytes(n_samples)), dtype=np.uint8)
        self.pos = np.zeros(0, dtype=np.int64)
        self.n_rows = 0
        self.window = -1 if thin_window is None else int(thin_window)
        self.r2_max = 1.0 if thin_r2 is None else float(thin_r2)
        self.contig: str | None = None
        self.contig_start = 0
        self.alt_freq: list[np.ndarray] = []
        self.sites: list = []  # polars DataFrames of the LOADINGS_KEY columns
        self.sum_squares: list[np.ndarray] = []
        self.n_thinned = 0

    def _reserve(self, extra: int) -> None:
        need = self.n_rows + extra
        have = self.codes.shape[0]
        if need > have:
            grown = max(need, have + int(have * GROWTH) + 1024)
            self.codes.resize((grown, self.codes.shape[1]), refcheck=False)
            self.pos.resize(grown, refcheck=False)

    def append(self, sel: _Selected, reader) -> None:
        import polars as pl

        from genomekit.kernels import pca as kp
        from genomekit.tables.pca import LOADINGS_KEY

        if len(sel.rows) == 0:
            return
        chunk = sel.chunk
        chrom = [chunk.chrom[r] for r in sel.rows]
        pos = chunk.pos[sel.rows]
        keep = np.zeros(len(sel.rows), dtype=bool)
        self._reserve(len(sel.rows))
        start = 0
        while start < len(chrom):
            # One contig run of candidates at a time: thinning never crosses contigs.
            end = start + 1
            while end < len(chrom) and chrom[end] == chrom[start]:
                end += 1
            if chrom[start] != self.contig:
                self.contig = chrom[start]
                self.contig_start = self.n_rows
            run_pos = pos[start:end]
            last = self.pos[self.n_rows - 1] if self.n_rows > self.contig_start else None
            if self.window >= 0 and (np.any(np.diff(run_pos) < 0)
                                     or (last is not None and run_pos[0] < last)):
                bad = start + int(np.argmax(np.diff(np.r_[last or 0, run_pos]) < 0))
                raise InputError("records are not sorted by position, which LD thinning "
                                 "needs", file=reader.path_of(chunk, int(sel.rows[bad])),
                                 chrom=chrom[bad], pos=int(pos[bad]),
                                 hint="sort the file with 'bcftools sort'")
            held = self.pos[self.contig_start:self.n_rows]
            window_start = self.contig_start + int(
                np.searchsorted(held, run_pos[0] - self.window, side="left"))
            self.n_rows, keep[start:end] = kp.thin_append(
                self.codes, self.pos, self.n_rows, window_start, sel.codes[start:end],
                run_pos, self.window, self.r2_max, self.n_samples)
            start = end
        self.n_thinned += int((~keep).sum())
        rows = sel.rows[keep]
        freq = sel.alt_freq[keep]
        counts = sel.counts[keep]
        self.alt_freq.append(freq)
        table = kp.standard_table(freq)
        # Per variant, summed once at the end: the total must not depend on chunking.
        self.sum_squares.append((counts[:, :3] * table[:, :3] ** 2).sum(axis=1))
        # Arrow columns, not Python strings: a few bytes per variant beyond the text.
        self.sites.append(pl.DataFrame({
            "CHROM": [chunk.chrom[r] for r in rows],
            "POS": chunk.pos[rows],
            "ID": [chunk.ids[r] for r in rows],
            "REF": [chunk.ref[r] for r in rows],
            "ALT": [chunk.alts[r][0] for r in rows],
            "ALT_FREQ": freq,
        }, schema=LOADINGS_KEY))

    def finish(self):
        """(codes, alt_freq, sites DataFrame, sum of X² over all rows) of the rows in use."""
        import polars as pl

        from genomekit.tables.pca import LOADINGS_KEY

        self.codes.resize((self.n_rows, self.codes.shape[1]), refcheck=False)
        self.pos.resize(self.n_rows, refcheck=False)
        alt_freq = np.concatenate(self.alt_freq) if self.alt_freq else np.zeros(0)
        sites = (pl.concat(self.sites, rechunk=True) if self.sites
                 else pl.DataFrame(schema=LOADINGS_KEY))
        sum_squares = float(np.concatenate(self.sum_squares).sum()) if self.sum_squares else 0.0
        return self.codes, alt_freq, sites, sum_squares


def _read(reader, maf, thin_window, thin_r2, quiet, chunk_variants):
    matrix = _DosageMatrix(len(reader.samples), thin_window, thin_r2)
    skipped = {"non_autosomal": 0, "not_biallelic": 0, "monomorphic": 0, "below_maf": 0}
    n_records = 0
    progress = Progress("pca", quiet=quiet)
    try:
        for result in reader.map_chunks(_SelectJob(maf), chunk_variants):
            if isinstance(result, BadRecord):
                raise result.error(reader)
            matrix.append(result, reader)
            n_records += result.chunk.n_variants
            for key, value in result.skipped.items():
                skipped[key] += value
            chunk = result.chunk
            progress.update(chunk.n_variants, f"{chunk.chrom[-1]}:{chunk.pos[-1]}")
    finally:
        progress.close()
        reader.close()
    skipped["ld_thinned"] = matrix.n_thinned
    codes, alt_freq, sites, sum_squares = matrix.finish()
    stats = {"n_records": n_records, "n_variants": int(matrix.n_rows),
             "variants_skipped": skipped}
    return codes, alt_freq, sites, sum_squares, stats


# The eigen-decomposition.

def block_krylov_eigh(apply: Callable[[np.ndarray], np.ndarray], n: int, k: int, *,
                      width: int, max_passes: int, seed: int, tol: float = RESIDUAL_TOL,
                      on_pass: Callable[[int], None] | None = None) -> dict:
    """Top-k eigenpairs of a symmetric positive semi-definite n x n operator.

    ``apply(Q)`` returns A @ Q for Q float64 (n, w). Randomized block Krylov
    with full reorthogonalization (module docstring): at most ``max_passes``
    calls of ``apply``, on blocks of at most ``width`` columns, started from a
    Gaussian block drawn with ``seed``.

    Returns a dict: ``values`` float64 (k,) descending, ``vectors`` float64
    (n, k) orthonormal, ``passes``, ``residuals`` (k,) = ||A u - θ u|| / θ and
    ``converged`` (every residual <= tol, or the Krylov space became invariant).
    """
    rng = np.random.default_rng(seed)
    block, _ = np.linalg.qr(rng.standard_normal((n, min(width, n))))
    basis = np.zeros((n, 0))
    gram = np.zeros((0, 0))
    passes = 0
    invariant = False
    while True:
        if on_pass is not None:
            on_pass(passes + 1)
        y = apply(block)
        passes += 1
        w = block.shape[1]
        basis = np.hstack([basis, block])
        # New column block of H = basisᵀ A basis; the new row block is its
        # transpose, since A is symmetric.
        column = basis.T @ y
        size = basis.shape[1]
        grown = np.zeros((size, size))
        grown[:size - w, :size - w] = gram
        grown[:, size - w:] = column
        grown[size - w:, :size - w] = column[:size - w].T
        gram = (grown + grown.T) / 2
        theta, ritz = np.linalg.eigh(gram)
        theta, ritz = theta[::-1], ritz[:, ::-1]
        # What A moves out of the span: (I - P Pᵀ) Y, twice for orthogonality.
        rest = y - basis @ column
        rest -= basis @ (basis.T @ rest)
        # A P - P H = rest on the newest block only, so a Ritz pair's residual is
        # ||rest @ (its newest-block coordinates)||.
        kk = min(k, size)
        residuals = np.linalg.norm(rest @ ritz[size - w:, :kk], axis=0)
        top = max(theta[0], np.finfo(float).tiny)
        scale = np.maximum(theta[:kk], top * DEFLATION_TOL)
        done = size >= k and bool(np.all(residuals <= tol * scale))
        if done or passes >= max_passes or size >= n:
            break
        u, s, _ = np.linalg.svd(rest, full_matrices=False)
        new = s > DEFLATION_TOL * top
        new[n - size:] = False  # never more columns than samples
        if not new.any():
            invariant = True
            break
        block = u[:, new]
    if basis.shape[1] < k or theta[k - 1] <= DEFLATION_TOL * top:
        raise ValueError(f"the operator has rank below {k}")
    return {
        "values": theta[:k].copy(),
        "vectors": basis @ ritz[:, :k],
        "passes": passes,
        "residuals": residuals[:k] / np.maximum(theta[:k], top * DEFLATION_TOL),
        "converged": invariant or size >= n or bool(np.all(residuals[:k] <= tol * scale[:k])),
    }


@dataclass(frozen=True)
class _GramJob:
    """X_b (X_bᵀ Q) for one block of variants [v0, v1)."""

    codes: np.ndarray
    table: np.ndarray
    q: np.ndarray

    def __call__(self, block):
        from genomekit.kernels import pca as kp

        v0, v1 = block
        z = kp.xt_dot(self.codes, self.table, v0, v1, self.q)
        return kp.x_dot(self.codes, self.table, v0, v1, z, self.q.shape[0])


@dataclass(frozen=True)
class _XtJob:
    """X_bᵀ U for one block of variants [v0, v1)."""

    codes: np.ndarray
    table: np.ndarray
    u: np.ndarray

    def __call__(self, block):
        from genomekit.kernels import pca as kp

        v0, v1 = block
        return block, kp.xt_dot(self.codes, self.table, v0, v1, self.u)


def variant_blocks(n_variants: int, size: int = 0) -> list[tuple[int, int]]:
    size = size or BLOCK_VARIANTS
    return [(v0, min(v0 + size, n_variants)) for v0 in range(0, n_variants, size)]


def fix_signs(scores: np.ndarray) -> np.ndarray:
    """+1/-1 per column: the sample with the largest |score| gets a positive score."""
    top = np.argmax(np.abs(scores), axis=0)
    return np.where(scores[top, np.arange(scores.shape[1])] < 0, -1.0, 1.0)


def _pca(reader, k, maf, thin_window, thin_r2, seed, files, outputs, threads, quiet,
         chunk_variants):
    from genomekit.io.tables import TableWriter
    from genomekit.kernels import pca as kp
    from genomekit.tables.pca import (
        EIGENVAL_SCHEMA,
        build_eigenval,
        build_loadings,
        build_scores,
        loadings_schema,
        scores_schema,
    )

    names = list(reader.samples)
    path = reader.path
    codes, alt_freq, sites, sum_squares, stats = _read(reader, maf, thin_window, thin_r2,
                                                       quiet, chunk_variants)
    n, m = len(names), stats["n_variants"]
    if n < k + 1 or m < k:
        raise InputError(f"{k} PCs need at least {k + 1} samples and {k} variants, and "
                         f"{n} samples and {m} autosomal biallelic variants with MAF >= "
                         f"{maf} are left", file=path,
                         hint="lower --pcs or --maf, or give more samples")
    table = kp.standard_table(alt_freq)
    blocks = variant_blocks(m)
    width = min(k + OVERSAMPLE, n)
    progress = Progress("pca", total=MAX_PASSES * m, unit="variants", quiet=quiet)

    def apply(q):
        y = np.zeros((n, q.shape[1]))
        # Summed in block order whatever the thread that computed each block.
        for (v0, v1), part in zip(blocks, ordered_map(_GramJob(codes, table, q), blocks,
                                                      threads)):
            y += part
            progress.update(v1 - v0)
        return y

    def on_pass(i):
        progress.where = f"pass {i} of at most {MAX_PASSES}"

    try:
        result = block_krylov_eigh(apply, n, k, width=width, max_passes=MAX_PASSES, seed=seed,
                                   on_pass=on_pass)
    except ValueError:
        raise InputError(f"the standardized genotypes have fewer than {k} nonzero principal "
                         "components (duplicate samples or variants?)", file=path,
                         hint="lower --pcs") from None
    finally:
        progress.close()
    theta = result["values"]
    signs = fix_signs(result["vectors"])
    scores = result["vectors"] * signs
    eigenvalues = theta / m
    trace = sum_squares / m

    scores_table = TableWriter(files.tmp(outputs.scores), _format_of(outputs.scores),
                               scores_schema(k))
    scores_table.write(build_scores(names, scores))
    scores_table.close()
    eig = TableWriter(files.tmp(outputs.eigenval), "tsv", EIGENVAL_SCHEMA)
    eig.write(build_eigenval(eigenvalues, trace))
    eig.close()
    loadings = TableWriter(files.tmp(outputs.loadings), _format_of(outputs.loadings),
                           loadings_schema(k))
    try:
        for (v0, v1), z in ordered_map(_XtJob(codes, table, scores), blocks, threads):
            loadings.write(build_loadings(sites.slice(v0, v1 - v0), z / theta))
    finally:
        loadings.close()
    return {
        "n_samples": n,
        **stats,
        "maf": maf,
        "thin_window": thin_window,
        "thin_r2": thin_r2,
        "pcs": k,
        "seed": seed,
        "eigenvalues": eigenvalues.tolist(),
        "variance_share": (eigenvalues / trace).tolist() if trace > 0 else None,
        "grm_trace": trace,
        "algorithm": {
            "method": "randomized block Krylov (Halko et al. 2011), sample space",
            "block_width": width,
            "passes": result["passes"],
            "max_passes": MAX_PASSES,
            "converged": result["converged"],
            "max_relative_residual": float(result["residuals"].max()),
        },
        "packed_bytes": int(codes.nbytes),
    }


def _format_of(path: str) -> str:
    """The table format an output path was named for."""
    return "tsv" if path.endswith(".tsv") else "parquet"


# Projection.

@dataclass(frozen=True)
class _Loadings:
    path: str
    index: dict  # (bare CHROM, POS, REF, ALT) -> row
    alt_freq: np.ndarray
    weights: np.ndarray  # (m, k)
    pcs: list[str]


def _read_loadings(path: str, pcs: int | None) -> _Loadings:
    import polars as pl

    from genomekit.tables.pca import LOADINGS_KEY

    hint = "give the PREFIX.pca_loadings table of a 'genomekit pca' run"
    try:
        if path.endswith(".tsv"):
            df = pl.read_csv(path, separator="\t", infer_schema_length=None)
        else:
            df = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as e:
        raise InputError(f"cannot read the loadings table ({type(e).__name__})", file=path,
                         hint=hint) from None
    names = [c for c in df.columns if c.startswith("PC") and c[2:].isdigit()]
    expected = [f"PC{i + 1}" for i in range(len(names))]
    missing = [c for c in LOADINGS_KEY if c not in df.columns]
    if missing or not names or names != expected:
        what = f"no {missing[0]} column" if missing else "no PC1, PC2, ... columns"
        raise InputError(f"not a loadings table ({what})", file=path, hint=hint)
    if pcs is not None:
        if pcs > len(names):
            raise UsageError(f"--pcs {pcs} asks for more PCs than the {len(names)} of the "
                             "loadings table", file=path, hint=f"give --pcs {len(names)} or less")
        names = names[:pcs]
    try:
        df = df.select([*LOADINGS_KEY, *names]).cast(
            {**LOADINGS_KEY, **dict.fromkeys(names, pl.Float64)})
    except pl.exceptions.PolarsError:
        raise InputError("the loadings table has a column of the wrong type", file=path,
                         hint=hint) from None
    freq = df["ALT_FREQ"].to_numpy()
    weights = df.select(names).to_numpy().astype(np.float64)
    bad = ~((freq > 0) & (freq < 1)) | ~np.isfinite(weights).all(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError("a variant of the loadings table has no usable ALT_FREQ (0 < f < 1) "
                         "or weights", file=path, chrom=df["CHROM"][row], pos=df["POS"][row],
                         hint=hint)
    index: dict = {}
    keys = zip(df["CHROM"].to_list(), df["POS"].to_list(), df["REF"].to_list(),
               df["ALT"].to_list())
    for i, (chrom, pos, ref, alt) in enumerate(keys):
        index.setdefault((bare_name(chrom), pos, ref, alt), i)
    return _Loadings(path, index, freq, np.ascontiguousarray(weights), names)


@dataclass(frozen=True)
class _ProjectJob:
    """The matched records of a chunk and their contribution to each sample's scores."""

    loadings: _Loadings

    def __call__(self, chunk):
        records, rows, swapped = [], [], []
        index = self.loadings.index
        for v in range(chunk.n_variants):
            if chunk.n_alleles[v] != 2:
                continue
            chrom, pos = bare_name(chunk.chrom[v]), int(chunk.pos[v])
            ref, alt = chunk.ref[v], chunk.alts[v][0]
            row = index.get((chrom, pos, ref, alt))
            flip = row is None
            if flip:
                row = index.get((chrom, pos, alt, ref))
            if row is not None:
                records.append(v)
                rows.append(row)
                swapped.append(flip)
        return (chunk, np.array(records, np.int64), np.array(rows, np.int64),
                np.array(swapped, bool), *self.contribution(chunk, records, rows, swapped))

    def contribution(self, chunk, records, rows, swapped):
        """(scores (n, k), n_called (n,)) of the given records, or (BadRecord, None)."""
        from genomekit.kernels import pca as kp

        n = chunk.gt.shape[1]
        k = self.loadings.weights.shape[1]
        records = np.asarray(records, np.int64)
        if len(records) == 0:
            return np.zeros((n, k)), np.zeros(n, np.int64)
        codes, _, bad = kp.pack_dosages(chunk.gt, records)
        if bad[0] >= 0:
            return BadRecord(chunk, int(bad[0])), None
        rows = np.asarray(rows, np.int64)
        table = kp.standard_table(self.loadings.alt_freq[rows])
        swapped = np.asarray(swapped, bool)
        # The file's ALT is the loadings' REF: the loadings-ALT dosage is 2 - d.
        table[swapped, :3] = table[swapped, 2::-1]
        m = len(records)
        scores = kp.x_dot(codes, table, 0, m, self.loadings.weights[rows], n)
        called = np.zeros((m, 4))
        called[:, :3] = 1.0
        n_called = kp.x_dot(codes, called, 0, m, np.ones((m, 1)), n)[:, 0]
        return scores, np.rint(n_called).astype(np.int64)


def _project(reader, loadings, files, outputs, quiet, chunk_variants):
    from genomekit.io.tables import TableWriter
    from genomekit.tables.pca import build_projected, projected_schema

    names = list(reader.samples)
    n, k = len(names), len(loadings.pcs)
    m = len(loadings.alt_freq)
    scores = np.zeros((n, k))
    n_called = np.zeros(n, np.int64)
    seen = np.zeros(m, dtype=bool)
    counts = {"n_records": 0, "n_matched": 0, "n_matched_swapped": 0, "n_duplicate_records": 0}
    job = _ProjectJob(loadings)
    progress = Progress("pca", quiet=quiet)
    try:
        for chunk, records, rows, swapped, part, called in reader.map_chunks(
                job, chunk_variants):
            first = ~seen[rows]
            # A variant counts once: drop repeats within the chunk too.
            _, where = np.unique(rows, return_index=True)
            once = np.zeros(len(rows), bool)
            once[where] = True
            first &= once
            if not first.all():
                part, called = job.contribution(chunk, records[first], rows[first],
                                                swapped[first])
            if isinstance(part, BadRecord):
                raise part.error(reader)
            counts["n_duplicate_records"] += int((~first).sum())
            seen[rows[first]] = True
            scores += part
            n_called += called
            counts["n_records"] += chunk.n_variants
            counts["n_matched"] += int(first.sum())
            counts["n_matched_swapped"] += int((swapped & first).sum())
            progress.update(chunk.n_variants, f"{chunk.chrom[-1]}:{chunk.pos[-1]}")
    finally:
        progress.close()
        reader.close()
    table = TableWriter(files.tmp(outputs.projected), _format_of(outputs.projected),
                        projected_schema(k))
    table.write(build_projected(names, n_called, scores))
    table.close()
    return {
        "n_samples": n,
        "n_records": counts["n_records"],
        "pcs": k,
        "n_loadings_variants": m,
        "n_matched": counts["n_matched"],
        "n_matched_swapped": counts["n_matched_swapped"],
        "n_not_found": int(m - seen.sum()),
        "n_duplicate_records": counts["n_duplicate_records"],
    }
