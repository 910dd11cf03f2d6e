"""Checks shared by the tests of the fast readers (FastVcfReader, FastBcfReader): VcfReader
(cyvcf2/htslib) is the oracle, on single files and on the whole shared corpus."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import numpy as np

from genomekit.errors import GenomekitError


def assert_same(fast, ref):
    """Chunks equal in every field, dtypes included."""
    fast, ref = list(fast), list(ref)
    assert len(fast) == len(ref)
    for a, b in zip(fast, ref, strict=True):
        assert a.index == b.index
        assert a.chrom == b.chrom
        assert a.ids == b.ids
        assert a.ref == b.ref
        assert a.alts == b.alts
        for name in ("pos", "n_alleles", "gt", "gq", "dp", "ad"):
            x, y = getattr(a, name), getattr(b, name)
            assert (x is None) == (y is None), name
            if x is None:
                continue
            assert x.dtype == y.dtype, name
            assert x.shape == y.shape, name
            assert np.array_equal(x, y), name
            assert x.flags.c_contiguous, name


def read_both(fast_cls, path, chunk_variants=None, threads=1, check_header=False, **kwargs):
    """The chunks of ``path`` through ``fast_cls`` and through VcfReader, after checking
    that both readers agree on everything else they tell (the header text too with
    ``check_header``, unless samples are chosen: htslib drops the others from it)."""
    from genomekit.io.vcf import VcfReader

    fast = fast_cls(str(path), threads=threads, **kwargs)
    ref = VcfReader(str(path), **kwargs)
    try:
        assert fast.samples == ref.samples
        assert fast.format_fields == ref.format_fields
        assert fast.missing_format_fields == ref.missing_format_fields
        assert fast.contigs() == ref.contigs()
        if check_header and "samples" not in kwargs and "exclude" not in kwargs:
            assert fast.header == ref.header
        got = list(fast.chunks(chunk_variants))
        want = list(ref.chunks(chunk_variants))
        assert (fast.last_chrom, fast.last_pos, fast.records_read) == \
               (ref.last_chrom, ref.last_pos, ref.records_read)
        assert fast.contigs() == ref.contigs()
    finally:
        fast.close()
        ref.close()
    return got, want


def assert_edge_case(fast_cls, path, fields, check_header=False):
    """The same chunks as VcfReader, or an InputError where it raises one, with all
    samples, with FORMAT ``fields`` and with two samples out of order."""
    import pytest

    from genomekit.errors import InputError
    from genomekit.io.vcf import VcfReader

    for kwargs in ({}, {"format_fields": fields}, {"samples": ["S3", "S1"]}):
        try:
            list(VcfReader(path, **kwargs).chunks(2))
        except InputError:
            with pytest.raises(InputError):  # htslib rejects it: so must we
                list(fast_cls(path, **kwargs).chunks(2))
            continue
        got, want = read_both(fast_cls, path, 2, check_header=check_header, **kwargs)
        assert_same(got, want)


_VCFREADER_WORKER = """
import json, os, pickle, sys
from genomekit.errors import GenomekitError
from genomekit.io.vcf import VcfReader
out, kwargs = sys.argv[1], json.loads(sys.argv[2])
for i, path in enumerate(sys.argv[3:]):
    print(path, flush=True)
    try:
        reader = VcfReader(path, **kwargs)
        result = ("ok", list(reader.chunks(7)))
    except GenomekitError as e:
        result = ("error", e.message())
    except Exception as e:
        result = ("exception", repr(e))
    with open(os.path.join(out, f"{abs(hash(path))}.pkl"), "wb") as fh:
        pickle.dump((path, result), fh)
"""


def vcfreader_results(files, kwargs, folder) -> dict:
    """VcfReader's result on every file, in subprocesses that may crash ('crash')."""
    todo = list(files)
    results = {}
    while todo:
        proc = subprocess.run([sys.executable, "-c", _VCFREADER_WORKER, folder,
                               json.dumps(kwargs)] + todo, capture_output=True, text=True)
        started = [line for line in proc.stdout.splitlines() if line]
        if proc.returncode == 0:
            break
        last = started[-1] if started else todo[0]
        results[last] = ("crash", proc.returncode)
        todo = todo[todo.index(last) + 1:]
    for name in os.listdir(folder):
        if name.endswith(".pkl"):
            with open(os.path.join(folder, name), "rb") as fh:
                path, result = pickle.load(fh)
            results.setdefault(path, result)
    return results


def assert_files_match_vcfreader(reader_type, files, kwargs, folder, *, refused=()) -> None:
    """``reader_type(path, **kwargs)`` gives VcfReader's chunks on every file VcfReader
    reads, and an error on every file VcfReader rejects or crashes on; more than 100
    files compared. Files it refuses with an exception of ``refused`` are passed over.
    ``folder`` is an empty folder for the results of VcfReader's subprocesses."""
    reference = vcfreader_results(files, kwargs, folder)
    compared = 0
    for path in files:
        kind, *detail = reference[path]
        try:
            got = list(reader_type(path, **kwargs).chunks(7))
            outcome = "ok"
        except refused:
            continue
        except GenomekitError:
            outcome = "error"
        if kind == "ok":
            assert outcome == "ok", path
            assert_same(got, detail[0])
            compared += 1
        else:
            assert outcome == "error", (path, kind, detail)
    assert compared > 100
