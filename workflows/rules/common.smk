# Shared definitions: paths, the sample sheet, the input files, and the input functions of
# the sharded steps. Only functions and constants here; the steps are in the other files.
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


def final_outputs():
    return [
        out(f"{COHORT}.freq.parquet"),
        out(f"{COHORT}.sample_qc.parquet"),
        out(f"{COHORT}.relate.parquet"),
        out(f"{COHORT}.unrelated.txt"),
        out(f"{COHORT}.pca_scores.parquet"),
        out(f"{COHORT}.all.pca_projected.parquet"),
        out(f"{COHORT}.report.html"),
    ]
