rule sample_lists:
    """Population/sex table and consent exclusion list from the sample sheet.

    Fails when a sample of the cohort has no row in the sheet (its consent is unknown).
    """
    input:
        sheet=config["samples"],
        vcfs=list(VCFS.values()),
    output:
        pops=out("samples/pops.tsv"),
        excluded=out("samples/excluded.txt"),
    log:
        out("logs/sample_lists.log"),
    benchmark:
        out("benchmarks/sample_lists.tsv")
    localrule: True
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    run:
        write_sample_lists(input.sheet, input.vcfs, output.pops, output.excluded, log[0])
