rule report:
    """One HTML page of the cohort's tables, and MultiQC custom content."""
    input:
        freq=out(f"{COHORT}.freq.parquet"),
        sample_qc=out(f"{COHORT}.sample_qc.parquet"),
        relate=out(f"{COHORT}.relate.parquet"),
        pca=out(f"{COHORT}.all.pca_projected.parquet"),
        pops=out("samples/pops.tsv"),
    output:
        html=out(f"{COHORT}.report.html"),
        multiqc=multiext(
            out(COHORT),
            "_genomekit_sampleqc_mqc.tsv",
            "_genomekit_sexcheck_mqc.json",
            "_genomekit_sfs_mqc.json",
        ),
    params:
        prefix=lambda w, output: output.html.removesuffix(".report.html"),
    log:
        out("logs/report.log"),
    benchmark:
        out("benchmarks/report.tsv")
    conda:
        "../envs/genomekit.yaml"
    threads: 1
    resources:
        mem_mb=lambda w, attempt: 4000 * attempt,
        runtime=lambda w, attempt: 30 * attempt,
    shell:
        "genomekit report --freq {input.freq} --sample-qc {input.sample_qc}"
        " --relate {input.relate} --pca {input.pca} --pops {input.pops}"
        " --out {params.prefix} 2> {log}"
