rule bam_manifest:
    """The BAMs of the samples with consent, SAMPLE<TAB>BAM: what each BAM is declared to be."""
    input:
        sheet=config["samples"],
    output:
        manifest=out("samples/bams.tsv"),
    log:
        out("logs/bam_manifest.log"),
    benchmark:
        out("benchmarks/bam_manifest.tsv")
    localrule: True
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    run:
        write_bam_manifest(input.sheet, output.manifest, log[0])


rule bam_qc:
    """Flag counts, depth of coverage and karyotype by depth of one sample's BAM."""
    input:
        bam=lambda w: BAMS[w.sample],
        by=config["bam_qc"]["by"] or [],
        reference=config["reference"] or [],
    output:
        **bam_qc_outputs(out("bam_qc/{sample}")),
    params:
        prefix=lambda w, output: output.bam_qc.removesuffix(".bam_qc.parquet"),
        by=lambda w, input: f"--by {input.by}" if input.by else "",
        options=bam_qc_args(),
    log:
        out("logs/bam_qc/{sample}.log"),
    benchmark:
        out("benchmarks/bam_qc/{sample}.tsv")
    conda:
        "../envs/genomekit.yaml"
    threads: 2
    resources:
        mem_mb=lambda w, attempt: 2000 * attempt,
        runtime=lambda w, attempt: 120 * attempt,
    shell:
        "genomekit bam-qc {input.bam} {params.by} {params.options}"
        " --out {params.prefix} --threads {threads} 2> {log}"


rule bam_qc_merge:
    """The BAMs' bam-qc tables as one cohort table (rows in sheet order), and one summary."""
    input:
        expand(out("bam_qc/{sample}.bam_qc.{ext}"), sample=BAMS, ext=["parquet", "json"]),
    output:
        **bam_qc_outputs(out(COHORT)),
    params:
        prefixes=lambda w, input: [p.removesuffix(".bam_qc.json") for p in input
                                   if p.endswith(".json")],
    log:
        out("logs/bam_qc_merge.log"),
    benchmark:
        out("benchmarks/bam_qc_merge.tsv")
    threads: 1
    resources:
        mem_mb=lambda w, attempt: 4000 * attempt,
        runtime=lambda w, attempt: 30 * attempt,
    run:
        gather_bam_qc(params.prefixes, dict(output.items()), log[0])


rule fingerprint:
    """Each BAM against every sample of the cohort file: swaps, mismatches, contamination."""
    input:
        vcf=fingerprint_vcf(),
        bams=list(BAMS.values()),
        manifest=out("samples/bams.tsv"),
        excluded=out("samples/excluded.txt"),
        reference=config["reference"] or [],
    output:
        table=out(f"{COHORT}.fingerprint.parquet"),
        summary=out(f"{COHORT}.fingerprint.json"),
    params:
        prefix=lambda w, output: output.table.removesuffix(".fingerprint.parquet"),
        options=fingerprint_args(),
    log:
        out("logs/fingerprint.log"),
    benchmark:
        out("benchmarks/fingerprint.tsv")
    conda:
        "../envs/genomekit.yaml"
    threads: 2
    resources:
        mem_mb=lambda w, attempt: 4000 * attempt,
        runtime=lambda w, attempt: 120 * attempt,
    shell:
        "genomekit fingerprint {input.vcf} --manifest {input.manifest}"
        " --exclude-samples {input.excluded} {params.options}"
        " --out {params.prefix} --threads {threads} 2> {log}"
