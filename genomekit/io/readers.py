"""One entry point for the chunked genotype readers: choose the engine per input.

Engines:

- ``"cyvcf2"``: ``VcfReader``, htslib's full record parser. Reads everything:
  VCF, VCF.gz, BCF, region queries through the index.
- ``"fast"``: ``FastVcfReader``, which parses the VCF text itself, or
  ``FastBcfReader``, which decodes BCF2.2 records itself (several times
  faster on cohort files). Regions are read through the .tbi/.csi index of a
  VCF.gz or the .csi of a BCF. Records outside their strict subsets are still
  decoded by htslib, one chunk at a time, so the chunks are the ones
  ``VcfReader`` gives. Inputs they cannot read at all (BCF 2.1, regions on a
  VCF that is not BGZF-compressed, ...) raise UsageError.
- ``"auto"`` (default): ``"fast"`` where it applies, else ``"cyvcf2"``.

Both readers have the same constructor keywords, attributes and methods, and
yield the same ``VariantChunk``s.
"""

from __future__ import annotations

from collections.abc import Sequence

from genomekit.errors import UsageError
from genomekit.io.vcf import Region, VcfReader

ENGINES = ("auto", "fast", "cyvcf2")


def open_reader(path: str, *, engine: str = "auto", samples: Sequence[str] | None = None,
                exclude: Sequence[str] = (), regions: Sequence[Region] | None = None,
                threads: int = 1, format_fields: Sequence[str] = (), verbose: bool = False):
    """Open ``path`` for chunked genotype reading with the engine asked for.

    Returns a ``FastVcfReader``, ``FastBcfReader`` or ``VcfReader``; the other arguments are
    theirs. Raises UsageError for an unknown engine or when ``engine="fast"``
    cannot read the input, and InputError for a missing or unreadable file.
    """
    if engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, not '{engine}'")
    kwargs = dict(samples=samples, exclude=exclude, regions=regions, threads=threads,
                  format_fields=format_fields, verbose=verbose)
    if engine == "cyvcf2":
        return VcfReader(path, **kwargs)
    from genomekit.io.bgzf import sniff
    from genomekit.io.fastvcf import FastVcfReader, unsupported_reason

    reason = unsupported_reason(path, regions=regions)
    if reason is None:
        if sniff(path) == "bcf":
            from genomekit.io.fastbcf import FastBcfReader

            return FastBcfReader(path, **kwargs)
        return FastVcfReader(path, **kwargs)
    if engine == "fast":
        raise UsageError(f"--engine fast cannot read {path}: {reason}",
                         hint="use --engine auto or --engine cyvcf2")
    return VcfReader(path, **kwargs)
