# genomekit cohort workflow: shard plan -> freq and sample-qc per shard -> merge;
# relate in tiles -> merge -> pca of the unrelated samples -> projection of all;
# bam-qc per BAM -> gathered, and fingerprint of the BAMs, when the sheet lists BAMs;
# release of the frequencies, when enabled -> report.
# See workflows/config/config.yaml for the settings.
#
#   snakemake --profile workflows/profiles/local --configfile my-cohort.yaml --cores 8
#   snakemake --profile workflows/profiles/slurm --configfile my-cohort.yaml
# Add --sdm conda to run every rule in workflows/envs/genomekit.yaml instead of on PATH.
import os

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "workflows/config/config.yaml"


validate(config, "workflows/schemas/config.schema.yaml")

# The conda environment installs genomekit from this checkout (workflows/envs/genomekit.yaml).
os.environ.setdefault("GENOMEKIT_SOURCE", workflow.basedir)


include: "workflows/rules/common.smk"


# The sheet is checked once, by the main process: cluster jobs parse this file again, and
# per-row validation takes seconds for a sheet of thousands of samples.
SAMPLES = read_sample_sheet(config["samples"])
if workflow.is_main_process:
    validate(SAMPLES, "workflows/schemas/samples.schema.yaml", set_default=False)
    check_unique_samples(SAMPLES, config["samples"])
    check_unique_bams(SAMPLES, config["samples"])
# The samples of the BAM steps, with the sheet's bam and consent: {sample: BAM}.
BAMS = sheet_bams(SAMPLES)


wildcard_constraints:
    part=r"[^/]+",
    shard=r"\d+",
    tile=r"\d+",
    sample=r"[^/]+",


include: "workflows/rules/samples.smk"
include: "workflows/rules/shards.smk"
include: "workflows/rules/freq.smk"
include: "workflows/rules/sample_qc.smk"
include: "workflows/rules/relate.smk"
include: "workflows/rules/pca.smk"
include: "workflows/rules/bams.smk"
include: "workflows/rules/release.smk"
include: "workflows/rules/report.smk"


rule all:
    input:
        final_outputs(),
    default_target: True
