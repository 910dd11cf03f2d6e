"""Sites-only BCF (plus CSI index) with bcftools +fill-tags INFO names."""

from __future__ import annotations

import math
import os

import polars as pl

from genomekit import __version__

_INFO = [
    ("AC", "A", "Integer", "Allele count in genotypes"),
    ("AN", "1", "Integer", "Total number of alleles in called genotypes"),
    ("AF", "A", "Float", "Allele frequency"),
    ("AC_Het", "A", "Integer", "Allele counts in heterozygous genotypes"),
    ("AC_Hom", "A", "Integer", "Allele counts in homozygous genotypes"),
    ("AC_Hemi", "A", "Integer", "Allele counts in hemizygous genotypes"),
    ("HWE", "A", "Float", "HWE test (PMID:15789306); 1=good, 0=bad"),
    ("ExcHet", "A", "Float", "Test excess heterozygosity; 1=good, 0=bad"),
    ("F_MISSING", "1", "Float", "Fraction of missing genotypes"),
    ("NS", "1", "Integer", "Number of samples with data"),
    ("AC_XX", "A", "Integer", "Allele count in XX samples"),
    ("AN_XX", "1", "Integer", "Total number of alleles in XX samples"),
    ("AC_XY", "A", "Integer", "Allele count in XY samples"),
    ("AN_XY", "1", "Integer", "Total number of alleles in XY samples"),
]
_PER_SITE = {"AN", "F_MISSING", "NS", "AN_XX", "AN_XY"}
_TABLE_COLUMN = {"AC_Het": "n_het", "AC_Hemi": "n_hemi_alt", "NS": "n_called"}


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "."
    if isinstance(x, float):
        return f"{x:.6g}"
    return str(x)


class SitesWriter:
    """Collects freq table rows and writes them as a sites-only BCF with a CSI index."""

    def __init__(self, path: str, index_path: str, contigs: list[tuple[str, int | None]],
                 populations: tuple[str, ...], command: str, workdir: str):
        self.path = path
        self.index_path = index_path
        self.contigs = list(contigs)
        self._known = {c for c, _ in contigs}
        self.populations = populations
        self.command = command
        self.tags = list(_INFO)
        for pop in populations:
            self.tags += [
                (f"AC_{pop}", "A", "Integer", f"Allele count in {pop}"),
                (f"AN_{pop}", "1", "Integer", f"Total number of alleles in {pop}"),
                (f"AF_{pop}", "A", "Float", f"Allele frequency in {pop}"),
            ]
        self._body_path = os.path.join(workdir, f".{os.path.basename(path)}.body{os.getpid()}")
        self._body = open(self._body_path, "w")

    def write(self, df: pl.DataFrame, site_of_row) -> None:
        """Append rows of one chunk; ``site_of_row`` numbers the site of each row."""
        cols = {t: df[_TABLE_COLUMN.get(t, t)].to_list() for t, *_ in self.tags}
        chrom, pos, ids, ref, alt = (df[c].to_list() for c in ("CHROM", "POS", "ID", "REF", "ALT"))
        site = list(site_of_row)
        n = len(site)
        i = 0
        out = []
        while i < n:
            j = i + 1
            while j < n and site[j] == site[i]:
                j += 1
            if chrom[i] not in self._known:
                self._known.add(chrom[i])
                self.contigs.append((chrom[i], None))
            info = []
            for tag, number, *_ in self.tags:
                values = cols[tag][i:j] if number == "A" else cols[tag][i:i + 1]
                info.append(f"{tag}={','.join(_fmt(v) for v in values)}")
            out.append(f"{chrom[i]}\t{pos[i]}\t{ids[i]}\t{ref[i]}\t{','.join(alt[i:j])}"
                       f"\t.\t.\t{';'.join(info)}\n")
            i = j
        self._body.write("".join(out))

    def close(self) -> None:
        """Write the BCF and its index (to the paths given), removing the scratch text."""
        import pysam.bcftools

        self._body.close()
        text_path = self._body_path + ".vcf"
        try:
            with open(text_path, "w") as fh:
                fh.write("##fileformat=VCFv4.2\n")
                fh.write(f"##source=genomekit {__version__}\n")
                fh.write(f"##genomekitCommand={self.command}\n")
                for name, length in self.contigs:
                    fh.write(f"##contig=<ID={name}{f',length={length}' if length else ''}>\n")
                for tag, number, typ, desc in self.tags:
                    fh.write(f'##INFO=<ID={tag},Number={number},Type={typ},Description="{desc}">\n')
                fh.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
                with open(self._body_path) as body:
                    while block := body.read(1 << 20):
                        fh.write(block)
            pysam.bcftools.view("-Ob", "-o", self.path, text_path, catch_stdout=False)
            pysam.bcftools.index("--csi", "-o", self.index_path, self.path, catch_stdout=False)
        finally:
            for p in (self._body_path, text_path):
                if os.path.exists(p):
                    os.remove(p)

    def abort(self) -> None:
        self._body.close()
        if os.path.exists(self._body_path):
            os.remove(self._body_path)
