# Shared definitions: paths, the sample sheet, the input files, and the input functions of
# the sharded steps. Only functions and constants here; the steps are in the other files.
import json
import os

import polars as pl

OUT = config["out"]
COHORT = config["cohort"]

# Consent values of the sample sheet (the schema admits exactly these, in any case).
CONSENT = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def out(path):
    """A path under the results folder."""
    return os.path.join(OUT, path)


def read_sample_sheet(path):
    """The sample sheet as strings (validated by workflows/schemas/samples.schema.yaml)."""
    return pl.read_csv(path, separator="\t", infer_schema=False, quote_char=None)


def check_unique_samples(sheet, path):
    dup = sheet.filter(pl.col("sample").is_duplicated())["sample"].unique().sort()
    if dup.len():
        raise ValueError(f"{path}: sample(s) listed twice: {', '.join(dup.head(5))}")


def sheet_bams(sheet):
    """{sample: BAM/CRAM path} of the sheet's rows with a bam and consent, in sheet order.

    Rows whose bam is empty (and a sheet without the column) have no BAM steps; samples
    without consent have none either, as they are left out of every count.
    """
    if "bam" not in sheet.columns:
        return {}
    consent = pl.col("consent").str.to_lowercase().replace_strict(CONSENT)
    rows = sheet.filter(consent & (pl.col("bam").str.strip_chars().str.len_chars() > 0))
    return dict(zip(rows["sample"], rows["bam"].str.strip_chars()))


def check_unique_bams(sheet, path):
    if "bam" not in sheet.columns:
        return
    bams = sheet["bam"].str.strip_chars()
    bams = bams.filter(bams.str.len_chars() > 0)
    dup = bams.filter(bams.is_duplicated()).unique().sort()
    if dup.len():
        raise ValueError(f"{path}: BAM(s) listed for two samples: {', '.join(dup.head(5))}")


def write_bam_manifest(sheet_path, manifest_path, log_path):
    """genomekit fingerprint's --manifest, SAMPLE<TAB>BAM, from the sheet (absolute paths:
    the manifest's relative paths would be read from its own folder)."""
    sheet = read_sample_sheet(sheet_path)
    bams = sheet_bams(sheet)
    with open(manifest_path, "w") as fh:
        fh.write("sample\tbam\n")
        fh.writelines(f"{name}\t{os.path.abspath(bam)}\n" for name, bam in bams.items())
    listed = sheet.filter(pl.col("bam").str.strip_chars().str.len_chars() > 0).height \
        if "bam" in sheet.columns else 0
    with open(log_path, "w") as fh:
        fh.write(f"{len(bams)} BAM(s) of samples with consent; {listed - len(bams)} of samples "
                 f"without consent left out; {sheet.height - listed} sample(s) without a BAM\n")


def vcf_samples(paths):
    """The samples of the cohort file(s), which must list the same samples in one order."""
    import pysam

    paths = [paths] if isinstance(paths, str) else list(paths)
    names = None
    for path in paths:
        with pysam.VariantFile(path) as vcf:
            these = list(vcf.header.samples)
        if names is not None and these != names:
            raise ValueError(f"{path}: samples differ from {paths[0]} (names or order): "
                             "every cohort file must list the same samples in the same order")
        names = these
    return names


def write_sample_lists(sheet_path, vcf_paths, pops_path, excluded_path, log_path):
    """From the sheet, write genomekit's --pops TSV and the --exclude-samples list.

    Excluded are the samples whose consent is false: they contribute to no count. Every
    sample of the cohort files must have a row (a consent) in the sheet.
    """
    sheet = read_sample_sheet(sheet_path)
    vcf_paths = [vcf_paths] if isinstance(vcf_paths, str) else list(vcf_paths)
    listed = set(sheet["sample"])
    try:
        in_vcf = vcf_samples(vcf_paths)
        unlisted = [s for s in in_vcf if s not in listed]
        if unlisted:
            raise ValueError(
                f"{len(unlisted)} sample(s) of {vcf_paths[0]} are not in the sample sheet "
                f"{sheet_path}, so their consent is unknown: {', '.join(unlisted[:5])}"
                f"{' ...' if len(unlisted) > 5 else ''} — add a row for each")
    except ValueError as e:
        with open(log_path, "w") as fh:
            fh.write(f"error: {e}\n")
        raise
    sheet.select("sample", "population", "sex").write_csv(pops_path, separator="\t")
    consent = pl.col("consent").str.to_lowercase().replace_strict(CONSENT)
    withdrawn = sheet.filter(~consent)["sample"].to_list()
    with open(excluded_path, "w") as fh:
        fh.write("# samples without consent, from the sample sheet\n")
        fh.writelines(f"{name}\n" for name in withdrawn)
    absent = sorted(listed - set(in_vcf))
    with open(log_path, "w") as fh:
        fh.write(f"{len(in_vcf)} samples in the cohort, all in the sheet; "
                 f"{len(withdrawn)} without consent are excluded; {len(absent)} sheet "
                 f"row(s) not in the cohort{': ' + ', '.join(absent[:20]) if absent else ''}\n")


def vcf_label(path):
    """A file's name without its VCF/BCF extension: the {part} of its shard paths."""
    name = os.path.basename(path)
    for ext in (".vcf.gz", ".vcf.bgz", ".bcf", ".vcf"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def input_vcfs(value):
    """{label: path} of the cohort file(s), in the order given."""
    paths = [value] if isinstance(value, str) else list(value)
    labels = [vcf_label(p) for p in paths]
    if len(set(labels)) < len(labels):
        raise ValueError(f"config vcf: files must have different names, not {paths}")
    return dict(zip(labels, paths))


def vcf_index(path):
    """The index beside a VCF/BCF: .csi or .tbi, whichever exists (.csi for BCF if none)."""
    for ext in (".csi", ".tbi"):
        if os.path.exists(path + ext):
            return path + ext
    return path + (".csi" if path.endswith(".bcf") else ".tbi")


VCFS = input_vcfs(config["vcf"])


def shard_tables(kind):
    """Input function: every shard's KIND table and JSON summary, in genome order.

    The shards exist only once the checkpoint shard_plan has cut each file's index into
    regions, so this is evaluated after it ran. Files come in config order, shards in plan
    order (zero-padded numbers), which is genome order within a file.
    """

    def tables(wildcards):
        paths = []
        for part in VCFS:
            regions = checkpoints.shard_plan.get(part=part).output.regions
            shards = sorted(glob_wildcards(os.path.join(regions, "{shard}.bed")).shard)
            for shard in shards:
                prefix = out(f"shards/{part}/{kind}/{shard}")
                paths += [f"{prefix}.{kind}.parquet", f"{prefix}.{kind}.json"]
        return paths

    return tables


def freq_filter_args():
    """freq's optional filter options from the config."""
    opts = config["freq"]
    args = [f"--{key.replace('_', '-')} {opts[key]}" for key in ("min_gq", "min_dp", "min_ab")
            if opts[key] is not None]
    if opts["hwe_midp"]:
        args.append("--hwe-midp")
    return " ".join(args)


def pca_args():
    """pca's options from the config."""
    opts = config["pca"]
    args = [f"--pcs {opts['pcs']}", f"--maf {opts['maf']}", f"--seed {opts['seed']}"]
    if opts["thin_window"] is not None or opts["thin_r2"] is not None:
        args.append(f"--thin-window {opts['thin_window']} --thin-r2 {opts['thin_r2']}")
    return " ".join(args)


def cohort_vcfs():
    """The cohort file(s), in config order: relate and pca read them in turn, as one file."""
    return list(VCFS.values())


def fingerprint_vcf():
    """The cohort file fingerprint reads (it takes one): config fingerprint.vcf, else the first."""
    chosen = config["fingerprint"]["vcf"]
    if chosen is None:
        return next(iter(VCFS.values()))
    if chosen in VCFS.values():
        return chosen
    if chosen in VCFS:
        return VCFS[chosen]
    raise ValueError(f"config fingerprint.vcf: {chosen} is not one of the files of vcf "
                     f"({', '.join(VCFS.values())})")


def reference_arg():
    """--reference for CRAM files, from the config (empty without one)."""
    return f"--reference {config['reference']}" if config["reference"] else ""


def bam_qc_args():
    """bam-qc's options from the config (but --by, an input)."""
    opts = config["bam_qc"]
    return " ".join([f"--min-mapq {opts['min_mapq']}",
                     f"--thresholds {','.join(str(t) for t in opts['thresholds'])}",
                     f"--build {config['build']}", reference_arg()]).strip()


def fingerprint_args():
    """fingerprint's options from the config."""
    opts = config["fingerprint"]
    keys = ("maf", "min_call_rate", "max_sites", "min_mapq", "lod_threshold",
            "max_contamination", "min_contamination_sites")
    return " ".join([f"--{key.replace('_', '-')} {opts[key]}" for key in keys]
                    + [reference_arg()]).strip()


def release_args():
    """release's policy options from the config."""
    opts = config["release"]
    args = [f"--min-group-size {opts['min_group_size']}", f"--min-cell {opts['min_cell']}",
            f"--min-ac {opts['min_ac']}"]
    if opts["af_digits"] is not None:
        args.append(f"--af-digits {opts['af_digits']}")
    if opts["sites_vcf"]:
        args.append("--sites-vcf")
    return " ".join(args)


def release_outputs():
    """{name: path} of the release step: the table, its summary, and the sites BCF if asked."""
    prefix = out(f"release/{COHORT}")
    paths = {"table": f"{prefix}.release.parquet", "summary": f"{prefix}.release.json"}
    if config["release"]["sites_vcf"]:
        paths |= {"bcf": f"{prefix}.release.bcf", "csi": f"{prefix}.release.bcf.csi"}
    return paths


BAM_QC_KINDS = ("bam_qc", "coverage_dist") + (("regions",) if config["bam_qc"]["by"] else ())


def bam_qc_outputs(prefix):
    """{kind: path} of the tables bam-qc writes after --out PREFIX, and its summary."""
    return {kind: f"{prefix}.{kind}.parquet" for kind in BAM_QC_KINDS} | {
        "summary": f"{prefix}.bam_qc.json"}


def gather_bam_qc(prefixes, outputs, log_path):
    """The per-BAM bam-qc runs as one: their tables concatenated in the order given (rows in
    the order one `genomekit bam-qc BAM...` run writes them, the per-chromosome depth columns
    in order of first appearance, as it does) and one summary of the runs."""
    for kind in BAM_QC_KINDS:
        parts = [f"{p}.{kind}.parquet" for p in prefixes]
        if kind == "bam_qc":  # a column per chromosome of each BAM's header
            pl.concat([pl.read_parquet(p) for p in parts], how="diagonal").write_parquet(
                outputs[kind])
        else:
            pl.scan_parquet(parts).sink_parquet(outputs[kind])
    summaries = []
    for p in prefixes:
        with open(f"{p}.bam_qc.json") as fh:
            summaries.append(json.load(fh))
    first = summaries[0]
    shared = ("tool", "version", "command", "depth_rules", "thresholds",
              "karyotype_thresholds", "build", "flagstat_columns")
    for p, s in zip(prefixes, summaries):
        differ = [k for k in shared if s.get(k) != first.get(k)]
        if differ:
            raise ValueError(f"{p}.bam_qc.json: {', '.join(differ)} differ from "
                             f"{prefixes[0]}.bam_qc.json: rerun the bam_qc jobs")
    karyotypes, bams, others = {}, [], {}
    for s in summaries:
        for k, n in s["karyotypes"].items():
            karyotypes[k] = karyotypes.get(k, 0) + n
        bams += s["inputs"][: s["n_bams"]]  # the BAMs, then the --by BED
        others |= {i["path"]: i for i in s["inputs"][s["n_bams"]:]}
    summary = {k: first[k] for k in shared if k in first} | {
        "gathered_from": [os.path.abspath(f"{p}.bam_qc.json") for p in prefixes],
        "inputs": bams + list(others.values()),
        "n_bams": sum(s["n_bams"] for s in summaries),
        "samples": [name for s in summaries for name in s["samples"]],
        "karyotypes": karyotypes,
        "outputs": [os.path.abspath(p) for p in outputs.values()],
        "elapsed_seconds": round(sum(s["elapsed_seconds"] for s in summaries), 3),
    }
    with open(outputs["summary"], "w") as fh:
        json.dump(summary, fh, indent=2)
        fh.write("\n")
    with open(log_path, "w") as fh:
        fh.write(f"{summary['n_bams']} BAM(s) gathered; karyotypes by depth: "
                 f"{', '.join(f'{k} {n}' for k, n in karyotypes.items())}\n")


def report_inputs():
    """{report option: table} of the report: the cohort's tables, and those of the BAM steps
    and the release when they run; `pops` is the sheet's population/sex table."""
    tables = {
        "freq": out(f"{COHORT}.freq.parquet"),
        "sample_qc": out(f"{COHORT}.sample_qc.parquet"),
        "relate": out(f"{COHORT}.relate.parquet"),
        "pca": out(f"{COHORT}.all.pca_projected.parquet"),
        "pops": out("samples/pops.tsv"),
    }
    if BAMS:
        tables |= {"bam_qc": out(f"{COHORT}.bam_qc.parquet"),
                   "coverage_dist": out(f"{COHORT}.coverage_dist.parquet"),
                   "fingerprint": out(f"{COHORT}.fingerprint.parquet")}
    if config["release"]["enabled"]:
        tables["release"] = release_outputs()["table"]
    return tables


def report_table_args(input):
    """--freq TABLE --sample-qc TABLE ...: the report's tables (its inputs but the sheet)."""
    return " ".join(f"--{key.replace('_', '-')} {path}" for key, path in input.items()
                    if key != "pops")


def report_multiqc():
    """The suffixes of the report's MultiQC files (after OUT/COHORT)."""
    suffixes = ["_genomekit_sampleqc_mqc.tsv", "_genomekit_sexcheck_mqc.json",
                "_genomekit_sfs_mqc.json"]
    if BAMS:
        suffixes += ["_genomekit_bamqc_mqc.tsv", "_genomekit_coverage_mqc.json"]
    return suffixes


def final_outputs():
    outputs = [
        out(f"{COHORT}.freq.parquet"),
        out(f"{COHORT}.sample_qc.parquet"),
        out(f"{COHORT}.relate.parquet"),
        out(f"{COHORT}.unrelated.txt"),
        out(f"{COHORT}.pca_scores.parquet"),
        out(f"{COHORT}.all.pca_projected.parquet"),
        out(f"{COHORT}.report.html"),
    ]
    if BAMS:
        outputs += [out(f"{COHORT}.bam_qc.parquet"), out(f"{COHORT}.fingerprint.parquet")]
    if config["release"]["enabled"]:
        outputs += list(release_outputs().values())
    return outputs
