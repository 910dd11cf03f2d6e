rule sample_qc_shard:
    """Per-sample counts over the records in one shard (sums, so shards add up)."""
    input:
        vcf=lambda w: VCFS[w.part],
        index=lambda w: vcf_index(VCFS[w.part]),
        regions=out("shards/{part}/regions/{shard}.bed"),
        pops=out("samples/pops.tsv"),
        excluded=out("samples/excluded.txt"),
    output:
        table=out("shards/{part}/sample_qc/{shard}.sample_qc.parquet"),
        summary=out("shards/{part}/sample_qc/{shard}.sample_qc.json"),
    params:
        prefix=lambda w, output: output.table.removesuffix(".sample_qc.parquet"),
        build=config["build"],
        mad_k=config["sample_qc"]["mad_k"],
    log:
        out("logs/sample_qc/{part}/{shard}.log"),
    benchmark:
        out("benchmarks/sample_qc/{part}/{shard}.tsv")
    conda:
        "../envs/genomekit.yaml"
    threads: 2
    resources:
        mem_mb=lambda w, attempt: 2000 * attempt,
        runtime=lambda w, attempt: 60 * attempt,
    shell:
        "genomekit sample-qc {input.vcf} -R {input.regions} --pops {input.pops}"
        " --exclude-samples {input.excluded} --build {params.build} --mad-k {params.mad_k}"
        " --out {params.prefix} --threads {threads} 2> {log}"


rule sample_qc_merge:
    """The shards' counts summed per sample; ratios, karyotypes and flags derived again."""
    input:
        shard_tables("sample_qc"),
    output:
        table=out(f"{COHORT}.sample_qc.parquet"),
        summary=out(f"{COHORT}.sample_qc.json"),
    params:
        prefix=lambda w, output: output.table.removesuffix(".sample_qc.parquet"),
        tables=lambda w, input: [p for p in input if p.endswith(".parquet")],
        mad_k=config["sample_qc"]["mad_k"],
    log:
        out("logs/sample_qc_merge.log"),
    benchmark:
        out("benchmarks/sample_qc_merge.tsv")
    conda:
        "../envs/genomekit.yaml"
    threads: 1
    resources:
        mem_mb=lambda w, attempt: 4000 * attempt,
        runtime=lambda w, attempt: 30 * attempt,
    shell:
        "genomekit merge {params.tables} --mad-k {params.mad_k} --out {params.prefix} 2> {log}"
