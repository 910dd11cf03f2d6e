rule report:
    """One HTML page of the cohort's tables, and MultiQC custom content."""
    input:
        **report_inputs(),
    output:
        html=out(f"{COHORT}.report.html"),
        multiqc=multiext(out(COHORT), *report_multiqc()),
    params:
        prefix=lambda w, output: output.html.removesuffix(".report.html"),
        tables=lambda w, input: report_table_args(input),
        min_depth=config["report"]["min_depth"],
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
        "genomekit report {params.tables} --pops {input.pops} --min-depth {params.min_depth}"
        " --out {params.prefix} 2> {log}"
