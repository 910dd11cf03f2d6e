"""Readers and writers: the only modules that touch cyvcf2 and pysam."""
