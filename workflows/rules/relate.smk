rule relate_tile:
    """KING-robust kinship of tile I of N of the sample pairs (reads the whole cohort)."""
    input:
        vcfs=cohort_vcfs(),
        excluded=out("samples/excluded.txt"),
    output:
        table=out("relate/tiles/{tile}.relate.parquet"),
        summary=out("relate/tiles/{tile}.relate.json"),
    params:
        prefix=lambda w, output: output.table.removesuffix(".relate.parquet"),
        tiles=config["relate"]["tiles"],
        maf=config["relate"]["maf"],
        min_kinship=config["relate"]["min_kinship"],
    log:
        out("logs/relate/{tile}.log"),
    benchmark:
        out("benchmarks/relate/{tile}.tsv")
    conda:
        "../envs/genomekit.yaml"
    threads: 2
    resources:
        mem_mb=lambda w, attempt: 4000 * attempt,
        runtime=lambda w, attempt: 120 * attempt,
    shell:
        "genomekit relate {input.vcfs} --exclude-samples {input.excluded}"
        " --maf {params.maf} --min-kinship {params.min_kinship}"
        " --tile {wildcards.tile}/{params.tiles}"
        " --out {params.prefix} --threads {threads} 2> {log}"


rule relate_merge:
    """The N tiles' related pairs, and a maximal set of unrelated samples."""
    input:
        expand(
            out("relate/tiles/{tile}.relate.{ext}"),
            tile=range(1, config["relate"]["tiles"] + 1),
            ext=["parquet", "json"],
        ),
    output:
        table=out(f"{COHORT}.relate.parquet"),
        summary=out(f"{COHORT}.relate.json"),
        unrelated=out(f"{COHORT}.unrelated.txt"),
    params:
        prefix=lambda w, output: output.table.removesuffix(".relate.parquet"),
        tables=lambda w, input: [p for p in input if p.endswith(".parquet")],
    log:
        out("logs/relate_merge.log"),
    benchmark:
        out("benchmarks/relate_merge.tsv")
    conda:
        "../envs/genomekit.yaml"
    threads: 1
    resources:
        mem_mb=lambda w, attempt: 4000 * attempt,
        runtime=lambda w, attempt: 30 * attempt,
    shell:
        "genomekit merge {params.tables} --unrelated --out {params.prefix} 2> {log}"
