rule freq_shard:
    """Allele counts and frequencies of the records in one shard."""
    input:
        vcf=lambda w: VCFS[w.part],
        index=lambda w: vcf_index(VCFS[w.part]),
        regions=out("shards/{part}/regions/{shard}.bed"),
        pops=out("samples/pops.tsv"),
        excluded=out("samples/excluded.txt"),
    output:
        table=out("shards/{part}/freq/{shard}.freq.parquet"),
        summary=out("shards/{part}/freq/{shard}.freq.json"),
    params:
        prefix=lambda w, output: output.table.removesuffix(".freq.parquet"),
        build=config["build"],
        filters=freq_filter_args(),
    log:
        out("logs/freq/{part}/{shard}.log"),
    benchmark:
        out("benchmarks/freq/{part}/{shard}.tsv")
    conda:
        "../envs/genomekit.yaml"
    threads: 2
    resources:
        mem_mb=lambda w, attempt: 2000 * attempt,
        runtime=lambda w, attempt: 60 * attempt,
    shell:
        "genomekit freq {input.vcf} -R {input.regions} --pops {input.pops}"
        " --exclude-samples {input.excluded} --build {params.build} {params.filters}"
        " --out {params.prefix} --threads {threads} 2> {log}"


rule freq_merge:
    """The shards' freq tables, in genome order: the table of the whole cohort."""
    input:
        shard_tables("freq"),
    output:
        table=out(f"{COHORT}.freq.parquet"),
        summary=out(f"{COHORT}.freq.json"),
    params:
        prefix=lambda w, output: output.table.removesuffix(".freq.parquet"),
        tables=lambda w, input: [p for p in input if p.endswith(".parquet")],
    log:
        out("logs/freq_merge.log"),
    benchmark:
        out("benchmarks/freq_merge.tsv")
    conda:
        "../envs/genomekit.yaml"
    threads: 1
    resources:
        mem_mb=lambda w, attempt: 4000 * attempt,
        runtime=lambda w, attempt: 60 * attempt,
    shell:
        "genomekit merge {params.tables} --out {params.prefix} 2> {log}"
