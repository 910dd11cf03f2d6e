"""Command-line interface: Click definitions only; each command calls commands.<verb>.run."""

from __future__ import annotations

import os
import shlex
import sys

import click

from genomekit import __version__
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
@click.option("-r", "--region", metavar="CHR:START-END",
              help="Only records whose POS is in this region (needs a .tbi/.csi index).")
@click.option("-R", "--regions-file", type=click.Path(exists=True, dir_okay=False),
              metavar="BED", help="Only records whose POS is in these BED regions (needs an index).")
@click.option("-S", "--samples", "samples_file", type=click.Path(exists=True, dir_okay=False),
              metavar="FILE", help="Samples to include, one per line.")
@click.option("--exclude-samples", "exclude_samples_file", metavar="FILE",
              type=click.Path(exists=True, dir_okay=False),
              help="Samples to exclude (e.g. withdrawn consent); they contribute nothing.")
@click.option("--pops", "pops_file", type=click.Path(exists=True, dir_okay=False), metavar="TSV",
              help="Sample sheet: sample, population, sex (M/F/unknown), tab-separated.")
@click.option("--build", type=click.Choice(["GRCh38", "GRCh37"]), default="GRCh38",
              show_default=True, help="Reference build, for the chrX/chrY PAR boundaries.")
@format_option
@click.option("--sites-vcf", is_flag=True,
              help="Also write a sites-only BCF with bcftools +fill-tags INFO tags, indexed.")
@click.option("--min-gq", type=int, help="Genotype quality filter for the AC_adj/AN_adj counts.")
@click.option("--min-dp", type=int, help="Depth filter for the AC_adj/AN_adj counts.")
@click.option("--min-ab", type=float,
              help="Allele balance filter of heterozygous calls for the adj counts.")
@click.option("--hwe-midp", is_flag=True, help="Mid-p values for HWE and ExcHet.")
@threads_option
@force_option
@quiet_option
@debug_option
def freq(input, out, region, regions_file, samples_file, exclude_samples_file, pops_file, build,
         fmt, sites_vcf, min_gq, min_dp, min_ab, hwe_midp, threads, force, quiet):
    """Allele counts and frequencies per ALT allele, population and sex."""
    from genomekit.commands import freq as command

    summary = command.run(
        input, out, fmt=fmt, region=region, regions_file=regions_file,
        samples_file=samples_file, exclude_samples_file=exclude_samples_file,
        pops_file=pops_file, build=build, sites_vcf=sites_vcf, threads=threads, force=force,
        min_gq=min_gq, min_dp=min_dp, min_ab=min_ab, hwe_midp=hwe_midp, quiet=quiet,
        command_line=_command_line(),
    )
    if not quiet:
        click.echo(f"genomekit freq: {summary['n_sites']} sites, {summary['n_alleles']} ALT "
                   f"alleles, {summary['n_samples']} samples -> {', '.join(summary['outputs'])}",
                   err=True)


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


def main():
    cli.main()
