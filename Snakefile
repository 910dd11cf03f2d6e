# genomekit workflow: cohort allele frequencies. Run: snakemake --cores 2 --configfile workflows/config/demo.yaml
from snakemake.utils import min_version

min_version("8.0")


configfile: "workflows/config/demo.yaml"


include: "workflows/rules/freq.smk"


rule all:
    input:
        expand("{out}/cohort.freq.parquet", out=config["out"]),
