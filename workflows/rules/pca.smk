rule pca:
    """Principal components of the unrelated samples (relatives would pull the axes)."""
    input:
        vcfs=cohort_vcfs(),
        excluded=out("samples/excluded.txt"),
        unrelated=out(f"{COHORT}.unrelated.txt"),
    output:
        scores=out(f"{COHORT}.pca_scores.parquet"),
        eigenval=out(f"{COHORT}.pca_eigenval.tsv"),
        loadings=out(f"{COHORT}.pca_loadings.parquet"),
        summary=out(f"{COHORT}.pca.json"),
    params:
        prefix=lambda w, output: output.scores.removesuffix(".pca_scores.parquet"),
        options=pca_args(),
    log:
        out("logs/pca.log"),
    benchmark:
        out("benchmarks/pca.tsv")
    conda:
        "../envs/genomekit.yaml"
    threads: 2
    resources:
        mem_mb=lambda w, attempt: 8000 * attempt,
        runtime=lambda w, attempt: 120 * attempt,
    shell:
        "genomekit pca {input.vcfs} -S {input.unrelated} --exclude-samples {input.excluded}"
        " {params.options} --out {params.prefix} --threads {threads} 2> {log}"


rule pca_project:
    """Every sample with consent, relatives included, placed on the unrelated samples' PCs."""
    input:
        vcfs=cohort_vcfs(),
        excluded=out("samples/excluded.txt"),
        loadings=out(f"{COHORT}.pca_loadings.parquet"),
    output:
        scores=out(f"{COHORT}.all.pca_projected.parquet"),
        summary=out(f"{COHORT}.all.pca.json"),
    params:
        prefix=lambda w, output: output.scores.removesuffix(".pca_projected.parquet"),
    log:
        out("logs/pca_project.log"),
    benchmark:
        out("benchmarks/pca_project.tsv")
    conda:
        "../envs/genomekit.yaml"
    threads: 2
    resources:
        mem_mb=lambda w, attempt: 4000 * attempt,
        runtime=lambda w, attempt: 60 * attempt,
    shell:
        "genomekit pca {input.vcfs} --project {input.loadings}"
        " --exclude-samples {input.excluded} --out {params.prefix} --threads {threads} 2> {log}"
