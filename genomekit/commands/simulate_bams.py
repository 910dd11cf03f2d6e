"""`genomekit simulate-bams`: a reference FASTA and one BAM per sample of a simulated VCF."""

from __future__ import annotations

import os

from genomekit.errors import InputError, UsageError
from genomekit.genome import SEX_FEMALE, SEX_MALE
from genomekit.progress import Progress


def run(vcf: str, out_dir: str, *, samples: str | None = None, depth: float = 20.0,
        span: int | None = None, seed: int = 1, swap: str | None = None,
        sexes: str | None = None, threads: int = 1, force: bool = False,
        quiet: bool = False) -> dict:
    """Write ``out_dir/reference.fa`` and ``out_dir/<sample>.bam`` (see genomekit.simulate_bam).

    Returns {'reference': path, 'bams': {sample: path}}.
    """
    from genomekit.io.samples import read_pops
    from genomekit.simulate_bam import BamSimConfig, simulate_bams

    if depth <= 0:
        raise UsageError(f"--depth must be positive, not {depth}")
    if span is not None and span < 1000:
        raise UsageError(f"--span must be at least 1000 bp, not {span}")
    if threads < 1:
        raise UsageError(f"--threads must be at least 1, not {threads}")
    names = [s.strip() for s in samples.split(",") if s.strip()] if samples else None
    pair = None
    if swap:
        pair = tuple(s.strip() for s in swap.split(","))
        if len(pair) != 2 or pair[0] == pair[1]:
            raise UsageError(f"--swap needs two different sample names, not '{swap}'")
    if not os.path.isfile(vcf):
        raise UsageError("no such file", file=vcf, hint="check the VCF path")
    sex_of = None
    if sexes:
        sheet = read_pops(sexes)
        sex_of = {s: {SEX_MALE: "M", SEX_FEMALE: "F"}[c] for s, c in sheet.sex.items()
                  if c in (SEX_MALE, SEX_FEMALE)}
    targets = [os.path.join(out_dir, "reference.fa")]
    if names:
        targets += [os.path.join(out_dir, f"{s}.bam") for s in names]
    existing = [p for p in targets if os.path.exists(p)]
    if existing and not force:
        raise UsageError(f"output {existing[0]} exists",
                         hint="use --force to overwrite or choose another --out-dir")
    cfg = BamSimConfig(depth=depth, span=span, seed=seed)
    progress = Progress("simulate-bams", total=len(names) if names else None, unit="BAMs",
                        quiet=quiet)
    try:
        sim = simulate_bams(vcf, out_dir, names, config=cfg, swap=pair, sexes=sex_of,
                            threads=threads, progress=progress)
    except ValueError as e:
        raise InputError(str(e), hint="check --samples and --swap against the VCF") from None
    finally:
        progress.close()
    return {"reference": sim.reference, "bams": sim.bams}
