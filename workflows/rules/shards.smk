checkpoint shard_plan:
    """Cut each cohort file into region shards of shard_size bp, from its index.

    A checkpoint: the number of shards depends on the contigs that hold records, which
    only the index knows. The plan is one BED; each line also goes to its own numbered
    BED in regions/ for `-R`.
    """
    input:
        vcf=lambda w: VCFS[w.part],
        index=lambda w: vcf_index(VCFS[w.part]),
    output:
        plan=out("shards/{part}/plan.bed"),
        regions=directory(out("shards/{part}/regions")),
    params:
        size=config["shard_size"],
    log:
        out("logs/shard_plan/{part}.log"),
    benchmark:
        out("benchmarks/shard_plan/{part}.tsv")
    localrule: True
    conda:
        "../envs/genomekit.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "(genomekit shards {input.vcf} --size {params.size} -o {output.plan}"
        " && mkdir -p {output.regions}"
        " && split --lines=1 --numeric-suffixes=1 --suffix-length=6 --additional-suffix=.bed"
        " {output.plan} {output.regions}/) 2> {log}"
