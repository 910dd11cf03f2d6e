rule freq:
    input:
        vcf=config["vcf"],
        pops=config["pops"],
    output:
        table="{out}/cohort.freq.parquet",
        summary="{out}/cohort.freq.json",
    log:
        "{out}/logs/freq.log",
    benchmark:
        "{out}/benchmarks/freq.tsv"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=60,
    shell:
        "genomekit freq {input.vcf} --pops {input.pops} --build {config[build]} "
        "--out {wildcards.out}/cohort --threads {threads} --force 2> {log}"
