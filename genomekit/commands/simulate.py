"""`genomekit simulate`: write a seeded sample cohort (VCF.gz + index, sample sheet)."""

from __future__ import annotations

import os

from genomekit.errors import UsageError
from genomekit.io.outputs import OutputSet
from genomekit.progress import Progress

FIELDS = ("GT", "AD", "DP", "GQ")


def run(out: str, *, n_samples: int = 500, n_sites: int = 5000, seed: int = 1,
        fields: str = "GT", bcf: bool = False, male_x: str = "haploid",
        half_call_rate: float = 0.0, male_het_rate: float = 0.0, phased_rate: float = 0.0,
        many_allele_sites: int = 0, force: bool = False, quiet: bool = False) -> dict:
    from genomekit.simulate import cohort_config, write_cohort

    if n_samples < 1 or n_sites < 1:
        raise UsageError("--samples and --sites must be at least 1")
    field_list = tuple(f.strip() for f in fields.split(",") if f.strip())
    if not field_list or field_list[0] != "GT" or any(f not in FIELDS for f in field_list):
        raise UsageError(f"--fields must start with GT and use only {','.join(FIELDS)}")
    for name, rate in (("--half-calls", half_call_rate), ("--male-het", male_het_rate),
                       ("--phased", phased_rate)):
        if not 0.0 <= rate <= 1.0:
            raise UsageError(f"{name} must be between 0 and 1")
    paths = [out + s for s in (".vcf.gz", ".vcf.gz.tbi", ".pops.tsv")]
    if bcf:
        paths += [out + ".bcf", out + ".bcf.csi"]
    folder = os.path.dirname(out)
    if folder:
        os.makedirs(folder, exist_ok=True)
    OutputSet(paths, force)  # refuses existing outputs before any work
    cfg = cohort_config(n_samples=n_samples, n_sites=n_sites, seed=seed, fields=field_list,
                        male_x=male_x, half_call_rate=half_call_rate,
                        male_het_rate=male_het_rate, phased_rate=phased_rate,
                        many_allele_sites=many_allele_sites)
    progress = Progress("simulate", total=n_sites, quiet=quiet)
    try:
        written = write_cohort(cfg, out, bcf=bcf, progress=progress)
    except BaseException:
        for p in paths + [out + ".vcf"]:
            if os.path.exists(p):
                os.remove(p)
        raise
    finally:
        progress.close()
    return written
