"""Command-line interface: Click definitions only; each command calls commands.<verb>.run."""

from __future__ import annotations

import os
import shlex
import sys

import click

from genomekit import __version__, process
from genomekit.errors import GenomekitError

_DEBUG = {"on": False}


class _Group(click.Group):
    """Turns errors into one line and an exit status: 1 bad input, 2 bad usage, 130 Ctrl-C."""

    def main(self, args=None, prog_name=None, **extra):
        args = list(sys.argv[1:] if args is None else args)
        _DEBUG["on"] = "--debug" in args
        extra.pop("standalone_mode", None)
        try:
            super().main(args=args, prog_name=prog_name or "genomekit", standalone_mode=False,
                         **extra)
        except click.exceptions.Exit as e:
            sys.exit(e.exit_code)
        except click.UsageError as e:
            hint = f" — see '{e.ctx.command_path} --help'" if e.ctx else ""
            click.echo(f"genomekit: error: {e.format_message()}{hint}", err=True)
            sys.exit(2)
        except (click.Abort, KeyboardInterrupt):
            click.echo("genomekit: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)
        except GenomekitError as e:
            if _DEBUG["on"]:
                raise
            click.echo(f"genomekit: error: {e.message()}", err=True)
            sys.exit(e.exit_code)
        except click.ClickException as e:
            click.echo(f"genomekit: error: {e.format_message()}", err=True)
            sys.exit(e.exit_code)
        except Exception as e:
            if _DEBUG["on"]:
                raise
            click.echo(f"genomekit: error: internal error: {type(e).__name__}: {e} — rerun "
                       "with --debug and report it", err=True)
            sys.exit(1)
        sys.exit(0)


def _command_line() -> str:
    return shlex.join(["genomekit", *sys.argv[1:]])


# Options shared by commands, defined once.
def out_option(outputs: str):
    return click.option("-o", "--out", "out", required=True, metavar="PREFIX",
                        help=f"Output prefix; writes {outputs}.")


threads_option = click.option("-t", "--threads", type=int, default=1, show_default=True,
                              help="Worker threads; results do not depend on it.")
force_option = click.option("--force", is_flag=True, help="Overwrite existing outputs.")
quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress or warnings.")
debug_option = click.option("--debug", is_flag=True, expose_value=False,
                            help="Show a traceback on errors.")
format_option = click.option("--format", "fmt", type=click.Choice(["parquet", "tsv"]),
                             default="parquet", show_default=True, help="Table format.")
build_option = click.option("--build", type=click.Choice(["GRCh38", "GRCh37"]), default="GRCh38",
                            show_default=True, help="Reference build, for the PAR boundaries.")


def pops_option(purpose: str):
    return click.option("--pops", "pops_file", type=click.Path(exists=True, dir_okay=False),
                        metavar="TSV", help="Sample sheet: sample, population, sex (M/F/unknown), "
                        f"tab-separated; {purpose}.")


def selection_options(func):
    """-r/-R regions, -S/--exclude-samples samples and --engine, shared by the VCF readers."""
    options = [
        click.option("-r", "--region", metavar="CHR:START-END",
                     help="Only records whose POS is in this region (needs a .tbi/.csi index)."),
        click.option("-R", "--regions-file", type=click.Path(exists=True, dir_okay=False),
                     metavar="BED",
                     help="Only records whose POS is in these BED regions (needs an index)."),
        click.option("-S", "--samples", "samples_file", metavar="FILE",
                     type=click.Path(exists=True, dir_okay=False),
                     help="Samples to include, one per line."),
        click.option("--exclude-samples", "exclude_samples_file", metavar="FILE",
                     type=click.Path(exists=True, dir_okay=False),
                     help="Samples to exclude (e.g. withdrawn consent); they contribute nothing."),
        click.option("--engine", type=click.Choice(["auto", "fast", "cyvcf2"]), default="auto",
                     show_default=True,
                     help="Genotype decoder: fast (VCF text and BCF decoded directly, regions "
                          "through the index), cyvcf2 (htslib), or auto: fast where it applies, "
                          "else cyvcf2. Results are identical."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def run_options(func):
    """--threads, --force, --quiet and --debug, shared by every command that computes."""
    for option in (debug_option, quiet_option, force_option, threads_option):
        func = option(func)
    return func


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"],
                                           "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="genomekit")
@debug_option
def cli():
    """genomekit: cohort-scale genome analysis from VCF/BCF files."""


@cli.command()
@click.argument("input", metavar="VCF")
@out_option("PREFIX.freq.parquet (or .tsv), PREFIX.freq.json and, with --sites-vcf, "
            "PREFIX.sites.bcf(.csi)")
@selection_options
@pops_option("adds per-population and per-sex columns, sex-aware chrX/chrY")
@build_option
@format_option
@click.option("--sites-vcf", is_flag=True,
              help="Also write a sites-only BCF with bcftools +fill-tags INFO tags, indexed.")
@click.option("--min-gq", type=int, help="Genotype quality filter for the AC_adj/AN_adj counts.")
@click.option("--min-dp", type=int, help="Depth filter for the AC_adj/AN_adj counts.")
@click.option("--min-ab", type=float,
              help="Allele balance filter of heterozygous calls for the adj counts.")
@click.option("--hwe-midp", is_flag=True, help="Mid-p values for HWE and ExcHet.")
@run_options
def freq(input, out, fmt, quiet, **options):
    """Allele counts and frequencies per ALT allele, population and sex."""
    from genomekit.commands import freq as command

    summary = command.run(input, out, fmt=fmt, quiet=quiet, command_line=_command_line(),
                          **options)
    if not quiet:
        click.echo(f"genomekit freq: {summary['n_sites']} sites, {summary['n_alleles']} ALT "
                   f"alleles, {summary['n_samples']} samples -> {', '.join(summary['outputs'])}",
                   err=True)


@cli.command("sample-qc")
@click.argument("input", metavar="VCF")
@out_option("PREFIX.sample_qc.parquet (or .tsv) and PREFIX.sample_qc.json")
@selection_options
@pops_option("outliers are judged within each population, sexes are checked")
@build_option
@click.option("--mad-k", type=float, default=4.0, show_default=True,
              help="Flag samples outside median ± k·MAD of their population, per metric.")
@format_option
@run_options
def sample_qc(input, out, fmt, quiet, **options):
    """Per-sample genotype counts, sex check and outlier flags."""
    from genomekit.commands import sample_qc as command

    summary = command.run(input, out, fmt=fmt, quiet=quiet, command_line=_command_line(),
                          **options)
    if not quiet:
        click.echo(f"genomekit sample-qc: {summary['n_samples']} samples, {summary['n_sites']} "
                   f"sites, {summary['n_qc_pass']} pass QC -> {', '.join(summary['outputs'])}",
                   err=True)


@cli.command()
@click.argument("inputs", nargs=-1, required=True, metavar="VCF...")
@out_option("PREFIX.relate.parquet (or .tsv), PREFIX.relate.json and, with --unrelated, "
            "PREFIX.unrelated.txt")
@click.option("--maf", type=float, default=0.01, show_default=True,
              help="Use autosomal biallelic variants with a minor allele frequency at least this.")
@click.option("--min-kinship", type=float, default=0.0442, show_default=True,
              help="Report pairs with a kinship at least this (0.0442: third degree).")
@click.option("--unrelated", is_flag=True,
              help="Also write a maximal set of samples with no related pair.")
@click.option("--tile", metavar="I/N",
              help="Compute part I of N of the sample pairs; the N tables concatenate to all.")
@selection_options
@format_option
@run_options
def relate(inputs, out, fmt, quiet, **options):
    """KING-robust kinship of every sample pair; related pairs with their degree.

    Several VCFs (one per chromosome, say; the same samples in the same order) are read in
    the order given, as one.
    """
    from genomekit.commands import relate as command

    summary = command.run(list(inputs), out, fmt=fmt, quiet=quiet, command_line=_command_line(),
                          **options)
    if not quiet:
        click.echo(f"genomekit relate: {summary['n_variants']} variants, {summary['n_samples']} "
                   f"samples, {summary['n_pairs_reported']} pairs reported -> "
                   f"{', '.join(summary['outputs'])}", err=True)


@cli.command()
@click.argument("input", metavar="VCF")
@click.option("--size", type=int, default=10_000_000, show_default=True, metavar="BP",
              help="Shard length in bp.")
@click.option("-o", "--out", "out", required=True, metavar="BED",
              help="Write the shard plan to this BED file.")
@force_option
@debug_option
def shards(input, size, out, force):
    """Plan region shards of an indexed VCF/BCF (BED), for runs that merge exactly."""
    from genomekit.commands import shards as command

    regions = command.run(input, out, size=size, force=force)
    click.echo(f"genomekit shards: {len(regions)} shards -> {out}", err=True)


@cli.command()
@click.argument("tables", nargs=-1, required=True, metavar="TABLE...")
@out_option("PREFIX.<kind>.parquet (or .tsv) and PREFIX.<kind>.json")
@format_option
@click.option("--unrelated", is_flag=True,
              help="relate tiles: also write PREFIX.unrelated.txt.")
@click.option("--mad-k", type=float,
              help="sample-qc shards: outlier bound k (default: the shards' own).")
@force_option
@quiet_option
@debug_option
def merge(tables, out, fmt, unrelated, mad_k, force, quiet):
    """Merge the tables of shard runs: freq and sample-qc region shards, relate tiles.

    freq shards go in genome order; sample-qc shards must hold the same samples;
    relate tiles go in any order.
    """
    from genomekit.commands import merge as command

    summary = command.run(list(tables), out, fmt=fmt, force=force, unrelated=unrelated,
                          mad_k=mad_k, command_line=_command_line())
    if not quiet:
        click.echo(f"genomekit merge: {len(tables)} tables -> {', '.join(summary['outputs'])}",
                   err=True)


@cli.command()
@click.argument("tables", nargs=-1, required=True, metavar="FREQ_TABLE...")
@out_option("PREFIX.release.parquet (or .tsv), PREFIX.release.json and, with --sites-vcf, "
            "PREFIX.release.bcf(.csi)")
@format_option
@click.option("--min-group-size", type=int, default=20, show_default=True, metavar="N",
              help="Drop the columns of a population or sex with fewer samples than N.")
@click.option("--min-cell", type=int, default=5, show_default=True, metavar="K",
              help="Withhold a group's counts at a row where a count (AC, AN-AC, REF, "
              "nhomalt, ...) is between 0 and K, exclusive, and what would recompute them.")
@click.option("--min-ac", type=int, default=0, show_default=True,
              help="Remove rows whose AC is below this.")
@click.option("--af-digits", type=int, metavar="D",
              help="Round frequencies to D significant digits (default: full precision).")
@click.option("--sites-vcf", is_flag=True,
              help="Also write a sites-only BCF with bcftools INFO tags, indexed.")
@force_option
@quiet_option
@debug_option
def release(tables, out, fmt, quiet, **options):
    """Allele-frequency tables safe to share outside the cohort, from freq tables.

    Give one merged freq table, or region shards in genome order.
    """
    from genomekit.commands import release as command

    summary = command.run(list(tables), out, fmt=fmt, quiet=quiet,
                          command_line=_command_line(), **options)
    if not quiet:
        dropped = [g["group"] for g in summary["groups"] if not g["released"]]
        click.echo(f"genomekit release: {summary['rows']['released']} of {summary['rows']['in']} "
                   f"rows, {summary['rows']['with_suppression']} with withheld counts, groups "
                   f"dropped: {', '.join(dropped) or 'none'} -> "
                   f"{', '.join(o['path'] for o in summary['outputs'])}", err=True)


@cli.command()
@click.argument("vcf", metavar="VCF")
@click.argument("bams", nargs=-1, metavar="BAM...")
@out_option("PREFIX.fingerprint.parquet (or .tsv), PREFIX.fingerprint.json and, with "
            "--all-pairs, PREFIX.fingerprint_pairs.parquet (or .tsv)")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False), metavar="TSV",
              help="SAMPLE<TAB>BAM lines: BAMs and the sample each is declared to be "
              "(default: the SM of the BAM's read groups).")
@click.option("--reference", type=click.Path(exists=True, dir_okay=False), metavar="FASTA",
              help="Reference for CRAM files.")
@click.option("--maf", type=float, default=0.05, show_default=True,
              help="Fingerprint sites: biallelic autosomal SNVs with at least this MAF.")
@click.option("--min-call-rate", type=float, default=0.9, show_default=True,
              help="Fingerprint sites: share of samples with a complete diploid call.")
@click.option("--max-sites", type=int, default=20_000, show_default=True,
              help="Use at most this many sites (a fixed pseudo-random subset).")
@click.option("--min-mapq", type=int, default=20, show_default=True,
              help="Skip reads with a lower mapping quality.")
@click.option("--min-baseq", type=int, default=13, show_default=True,
              help="Skip bases with a lower base quality (samtools mpileup -Q).")
@click.option("--error-rate", type=float, default=0.01, show_default=True,
              help="Per-base error rate of the genotype likelihoods.")
@click.option("--geno-error", type=float, default=0.01, show_default=True,
              help="Chance that a VCF genotype is wrong, in the LOD.")
@click.option("--min-depth", type=int, default=5, show_default=True,
              help="Hard-call the BAM at sites with this many REF+ALT reads (discordance).")
@click.option("--min-margin", type=float, default=1.0, show_default=True,
              help="... and a best genotype this many log10 units above the second.")
@click.option("--lod-threshold", type=float, default=5.0, show_default=True,
              help="LOD at or above: the reads are the sample's; at or below minus: not.")
@click.option("--max-contamination", type=float, default=0.03, show_default=True,
              help="Flag BAMs whose contamination estimate is at least this.")
@click.option("--min-contamination-sites", type=int, default=50, show_default=True,
              help="Fewer homozygous sites with reads: the estimate is not enough to flag.")
@click.option("--all-pairs", is_flag=True,
              help="Also write the LOD and discordance of every BAM against every sample.")
@selection_options
@format_option
@run_options
def fingerprint(vcf, bams, out, fmt, quiet, **options):
    """Check that each BAM is the sample it is declared to be: swaps and contamination.

    Compares base counts at common SNPs of the cohort VCF with every sample's genotypes
    (as Picard CrosscheckFingerprints and bcftools gtcheck do).
    """
    from genomekit.commands import fingerprint as command

    summary = command.run(vcf, list(bams), out, fmt=fmt, quiet=quiet,
                          command_line=_command_line(), **options)
    if not quiet:
        results = ", ".join(f"{n} {r}" for r, n in summary["results"].items())
        click.echo(f"genomekit fingerprint: {summary['n_bams']} BAMs, {summary['sites']['used']} "
                   f"sites: {results}; {len(summary['contaminated'])} contaminated -> "
                   f"{', '.join(summary['outputs'])}", err=True)


@cli.command()
@click.argument("inputs", nargs=-1, required=True, metavar="VCF...")
@out_option("PREFIX.pca_scores.parquet (or .tsv), PREFIX.pca_eigenval.tsv, "
            "PREFIX.pca_loadings.parquet (or .tsv) and PREFIX.pca.json; with --project, "
            "PREFIX.pca_projected.parquet (or .tsv) and PREFIX.pca.json")
@click.option("--pcs", type=int,
              help="Principal components to compute (default 10); with --project, use the "
              "first N of the loadings (default all).")
@click.option("--maf", type=float, default=0.01, show_default=True,
              help="Use autosomal biallelic variants with a minor allele frequency at least this.")
@click.option("--thin-window", type=int, metavar="BP",
              help="LD thinning, with --thin-r2: compare each variant with the kept variants "
              "up to BP bp before it.")
@click.option("--thin-r2", type=float, metavar="R2",
              help="LD thinning: drop a variant whose r² with a kept variant in the window "
              "exceeds R2.")
@click.option("--project", type=click.Path(exists=True, dir_okay=False), metavar="LOADINGS",
              help="Place the samples on the PCs of a PREFIX.pca_loadings table instead.")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Seed of the random start of the randomized SVD.")
@selection_options
@format_option
@run_options
def pca(inputs, out, fmt, quiet, **options):
    """Principal components of the standardized genotypes (plink2 --pca), or projection.

    Several VCFs (one per chromosome, say; the same samples in the same order) are read in
    the order given, as one.
    """
    from genomekit.commands import pca as command

    summary = command.run(list(inputs), out, fmt=fmt, quiet=quiet, command_line=_command_line(),
                          **options)
    if not quiet:
        what = (f"{summary['n_matched']} of {summary['n_loadings_variants']} loadings variants "
                "matched" if options["project"] else f"{summary['n_variants']} variants")
        click.echo(f"genomekit pca: {what}, {summary['n_samples']} samples, {summary['pcs']} PCs "
                   f"-> {', '.join(summary['outputs'])}", err=True)


@cli.command()
@out_option("PREFIX.report.html and, for MultiQC, PREFIX_genomekit_sampleqc_mqc.tsv, "
            "PREFIX_genomekit_sexcheck_mqc.json, PREFIX_genomekit_sfs_mqc.json, "
            "PREFIX_genomekit_bamqc_mqc.tsv and PREFIX_genomekit_coverage_mqc.json")
@click.option("--from", "from_prefix", metavar="PREFIX",
              help="Use the tables a run wrote under PREFIX: PREFIX.freq, .sample_qc, .relate, "
              ".pca_scores, .bam_qc, .coverage_dist, .fingerprint and .release (.parquet or "
              ".tsv), whichever exist; the options below override.")
@click.option("--freq", metavar="TABLE", help="freq table: frequency spectrum, AF by population.")
@click.option("--sample-qc", metavar="TABLE",
              help="sample-qc table: per-sample QC, sex check, flagged samples.")
@click.option("--relate", metavar="TABLE", help="relate table: kinship vs IBS0, related pairs.")
@click.option("--pca", metavar="TABLE", help="pca scores table (sample, PC1..PCk).")
@click.option("--bam-qc", metavar="TABLE",
              help="bam-qc table: coverage, mapping, sex check by depth; its .coverage_dist "
              "table beside it is found too.")
@click.option("--coverage-dist", metavar="TABLE",
              help="bam-qc coverage distribution (default: the one beside --bam-qc).")
@click.option("--fingerprint", metavar="TABLE",
              help="fingerprint table: swaps, mismatches and contamination.")
@click.option("--release", metavar="TABLE",
              help="release table (and its .release.json): policy, groups, withheld counts.")
@click.option("--min-depth", type=float, default=15.0, show_default=True,
              help="Coverage: mark BAMs whose mean autosomal depth is below this.")
@pops_option("colours the plots by population; sexes for the depth sex check")
@click.option("--title", help="Page title (default: 'genomekit report: ' and the PREFIX name).")
@force_option
@quiet_option
@debug_option
def report(out, quiet, **options):
    """One self-contained HTML report of a run's tables, and MultiQC custom content."""
    from genomekit.commands import report as command

    summary = command.run(out, quiet=quiet, command_line=_command_line(), **options)
    if not quiet:
        click.echo(f"genomekit report: {len(summary['sections'])} sections -> "
                   f"{', '.join(summary['outputs'])}", err=True)


@cli.command()
@out_option("PREFIX.vcf.gz(.tbi), PREFIX.pops.tsv and, with --bcf, PREFIX.bcf(.csi)")
@click.option("--samples", "n_samples", type=int, default=500, show_default=True)
@click.option("--sites", "n_sites", type=int, default=5000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--fields", default="GT", show_default=True,
              help="FORMAT fields, GT first: any of GT,AD,DP,GQ.")
@click.option("--bcf", is_flag=True, help="Also write an indexed BCF.")
@click.option("--male-x", type=click.Choice(["haploid", "diploid"]), default="haploid",
              show_default=True, help="How male calls outside the PARs are written: 1 or 1/1.")
@click.option("--half-calls", "half_call_rate", type=float, default=0.0,
              help="Share of calls written half-missing (./1).")
@click.option("--male-het", "male_het_rate", type=float, default=0.0,
              help="Share of male calls outside the PARs written heterozygous.")
@click.option("--phased", "phased_rate", type=float, default=0.0,
              help="Share of sites written phased.")
@click.option("--many-allele-sites", type=int, default=0,
              help="Number of sites with 12 alleles.")
@force_option
@quiet_option
@debug_option
def simulate(out, **options):
    """Write a seeded sample cohort: Korean-like majority, a few outgroups, chrX/chrY."""
    from genomekit.commands import simulate as command

    written = command.run(out, **options)
    if not options["quiet"]:
        click.echo(f"genomekit simulate: wrote {', '.join(written.values())}", err=True)


@cli.command("bam-qc")
@click.argument("bams", nargs=-1, required=True, metavar="BAM...")
@out_option("PREFIX.bam_qc.parquet (or .tsv), PREFIX.coverage_dist.parquet (or .tsv), "
            "PREFIX.bam_qc.json and, with --by, PREFIX.regions.parquet (or .tsv)")
@click.option("-b", "--by", type=click.Path(exists=True, dir_okay=False), metavar="BED",
              help="Mean depth per BED region; depth figures over the regions instead of "
                   "the whole contigs (mosdepth --by).")
@click.option("--reference", type=click.Path(exists=True, dir_okay=False), metavar="FASTA",
              help="Reference FASTA of CRAM inputs.")
@click.option("-Q", "--min-mapq", type=int, default=0, show_default=True,
              help="Depth counts reads with at least this mapping quality (mosdepth -Q).")
@click.option("-F", "--exclude-flag", type=int, default=1796, show_default=True,
              help="Depth leaves out reads with any of these flag bits (mosdepth -F).")
@click.option("--include-flag", type=int, default=0, show_default=True,
              help="Depth counts only reads with some of these flag bits (mosdepth -i).")
@click.option("-x", "--fast-mode", is_flag=True,
              help="Depth from read start to end, deletions included, mates not corrected "
                   "(mosdepth -x).")
@click.option("--thresholds", default="1,10,20,30", show_default=True, metavar="D,D,...",
              help="Report the fraction of bases with at least each depth.")
@click.option("--x-ratio", default="0.65,0.8", show_default=True, metavar="LOW,HIGH",
              help="Karyotype: chrX/autosome depth <= LOW is one X, >= HIGH two.")
@click.option("--y-ratio", default="0.05,0.1", show_default=True, metavar="LOW,HIGH",
              help="Karyotype: chrY/autosome depth <= LOW is no Y, >= HIGH a Y.")
@build_option
@format_option
@run_options
def bam_qc(bams, out, fmt, quiet, **options):
    """Flag counts (samtools flagstat), depth of coverage (mosdepth) and karyotype by depth,
    one row per BAM/CRAM (coordinate-sorted; no index needed)."""
    from genomekit.commands import bam_qc as command

    summary = command.run(list(bams), out, fmt=fmt, quiet=quiet, command_line=_command_line(),
                          **options)
    if not quiet:
        click.echo(f"genomekit bam-qc: {summary['n_bams']} BAM(s) -> "
                   f"{', '.join(summary['outputs'])}", err=True)


@cli.command("simulate-bams")
@click.argument("vcf", metavar="VCF")
@click.option("-o", "--out-dir", required=True, metavar="DIR",
              help="Writes DIR/reference.fa(.fai) and DIR/SAMPLE.bam(.bai).")
@click.option("--samples", metavar="S1,S2,...", help="Samples to simulate (default: all).")
@click.option("--depth", type=float, default=20.0, show_default=True,
              help="Mean depth of two-copy regions.")
@click.option("--span", type=int, metavar="BP",
              help="Reads over BP bp per contig from 1 kb before its first site "
                   "(default: whole contigs).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--swap", metavar="S1,S2", help="Swap the reads of two samples' BAMs.")
@click.option("--sexes", metavar="TSV",
              type=click.Path(exists=True, dir_okay=False),
              help="sample<TAB>...<TAB>sex sheet (genomekit simulate's PREFIX.pops.tsv); "
                   "default: a called chrY genotype means male.")
@click.option("-t", "--threads", type=int, default=1, show_default=True,
              help="BAM compression threads.")
@force_option
@quiet_option
@debug_option
def simulate_bams(vcf, out_dir, **options):
    """Write a reference FASTA and one sorted, indexed BAM per sample whose reads carry the
    sample's genotypes from a `genomekit simulate` VCF, with realistic noise."""
    from genomekit.commands import simulate_bams as command

    written = command.run(vcf, out_dir, **options)
    if not options["quiet"]:
        click.echo(f"genomekit simulate-bams: wrote {len(written['bams'])} BAM(s) and "
                   f"{written['reference']}", err=True)


def main():
    process.setup()
    try:
        cli.main()
    finally:
        process.finish()
