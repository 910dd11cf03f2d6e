"""genomekit: cohort-scale genome analysis from VCF/BCF."""

__version__ = "0.1.0"
