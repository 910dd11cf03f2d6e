"""What the counting kernels share about one call: its alleles, read from ``gt``.

Genotype encoding (sgkit's): ``gt[v, s, p]`` is the allele index of ploidy slot ``p``
of sample ``s`` at variant ``v``; ``-1`` is a missing allele and ``-2`` pads calls of
lower ploidy than the chunk's widest call.
"""

from __future__ import annotations

from genomekit.kernels._jit import jit


@jit(inline="always")
def decode_call(gt, v, s, n_allele, calls):
    """The called alleles of sample ``s`` at variant ``v``, into ``calls``: (how many,
    ploidy slots used, whether one is not below ``n_allele``; the reading stops there)."""
    slots = 0
    k = 0
    for p in range(gt.shape[2]):
        a = gt[v, s, p]
        if a == -2:
            break
        slots += 1
        if a < 0:
            continue
        if a >= n_allele:
            return k, slots, True
        calls[k] = a
        k += 1
    return k, slots, False


@jit(inline="always")
def first_time(calls, i):
    """Whether allele ``calls[i]`` is not among ``calls[:i]``."""
    for j in range(i):
        if calls[j] == calls[i]:
            return False
    return True


@jit(inline="always")
def n_distinct(calls, k):
    """Number of different alleles among ``calls[:k]``."""
    distinct = 0
    for i in range(k):
        distinct += first_time(calls, i)
    return distinct
