rule concat_vcf:
    """relate and pca read one file: with one cohort file per chromosome, concatenate them."""
    input:
        vcfs=list(VCFS.values()),
    output:
        bcf=out("concat/cohort.bcf"),
    log:
        out("logs/concat_vcf.log"),
    benchmark:
        out("benchmarks/concat_vcf.tsv")
    conda:
        "../envs/genomekit.yaml"
    threads: 2
    resources:
        mem_mb=lambda w, attempt: 2000 * attempt,
        runtime=lambda w, attempt: 240 * attempt,
    shell:
        "bcftools concat --threads {threads} -Ob -o {output.bcf} {input.vcfs} 2> {log}"
