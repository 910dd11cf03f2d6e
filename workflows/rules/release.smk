rule release:
    """Allele frequencies safe to share outside the cohort, from the merged freq table.

    OUT/release/ holds only the release outputs: the folder to hand on.
    """
    input:
        freq=out(f"{COHORT}.freq.parquet"),
        summary=out(f"{COHORT}.freq.json"),
    output:
        **release_outputs(),
    params:
        prefix=lambda w, output: output.table.removesuffix(".release.parquet"),
        policy=release_args(),
    log:
        out("logs/release.log"),
    benchmark:
        out("benchmarks/release.tsv")
    conda:
        "../envs/genomekit.yaml"
    threads: 1
    resources:
        mem_mb=lambda w, attempt: 4000 * attempt,
        runtime=lambda w, attempt: 60 * attempt,
    shell:
        "genomekit release {input.freq} {params.policy} --out {params.prefix} 2> {log}"
