# genomekit: `make demo` runs the cohort workflow on a generated sample cohort; `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Test oracles and test tools, by the command each package installs.
PEERS := bcftools tabix plink2 plink1.9 samtools mosdepth chromium
DEMO := demo
# Samples of the demo with BAMs (the rest have none); the reads of two, a woman and a man, swapped.
DEMO_BAMS := KOR00001,KOR00002,KOR00003,KOR00004,KOR00005,KOR00006
DEMO_SWAP := KOR00002,KOR00005
DEMO_SPAN := 100000

.PHONY: demo test test-all peers bench lint clean

$(BIN)/genomekit-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The cohort workflow (Snakefile) on a generated cohort; every 50th sample has withdrawn consent.
# A few samples get BAMs with reads over DEMO_SPAN bp per contig (depth figures over those
# spans: bams/spans.bed); the sheet's bam column names them, and is empty for the others.
demo: $(BIN)/genomekit-installed
	$(BIN)/genomekit simulate --out $(DEMO)/cohort --samples 500 --sites 20000 --seed 1 --force
	$(BIN)/genomekit simulate-bams $(DEMO)/cohort.vcf.gz --out-dir $(DEMO)/bams \
		--samples $(DEMO_BAMS) --swap $(DEMO_SWAP) --sexes $(DEMO)/cohort.pops.tsv \
		--depth 10 --span $(DEMO_SPAN) --threads 2 --force
	gzip -dc $(DEMO)/cohort.vcf.gz | awk -v span=$(DEMO_SPAN) 'BEGIN {OFS = "\t"} \
		!/^#/ && !($$1 in seen) {seen[$$1]; print $$1, $$2 - 1001, $$2 - 1001 + span}' \
		> $(DEMO)/bams/spans.bed
	awk -v bams=$(DEMO_BAMS) -v dir=$(DEMO)/bams 'BEGIN {FS = OFS = "\t"; split(bams, b, ","); \
		for (i in b) bam[b[i]] = dir "/" b[i] ".bam"; print "sample", "population", "sex", "bam", "consent"} \
		NR > 1 {print $$1, $$2, $$3, bam[$$1], (NR % 50 == 1 ? "false" : "true")}' \
		$(DEMO)/cohort.pops.tsv > $(DEMO)/samples.tsv
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores 2 --profile workflows/profiles/local \
		--configfile workflows/config/demo.yaml
	@echo "demo outputs: $(DEMO)/cohort.report.html; tables $(DEMO)/cohort.freq.parquet" \
		"$(DEMO)/cohort.sample_qc.parquet $(DEMO)/cohort.relate.parquet $(DEMO)/cohort.unrelated.txt" \
		"$(DEMO)/cohort.pca_scores.parquet $(DEMO)/cohort.all.pca_projected.parquet" \
		"$(DEMO)/cohort.bam_qc.parquet $(DEMO)/cohort.coverage_dist.parquet $(DEMO)/cohort.regions.parquet" \
		"$(DEMO)/cohort.fingerprint.parquet (each with a .json); release (safe to share)" \
		"$(DEMO)/release/cohort.release.parquet, .release.bcf and .release.json;" \
		"logs in $(DEMO)/logs/, benchmarks in $(DEMO)/benchmarks/"

# Peer tools are the test oracles (chromium renders the report): apt-get them when missing.
peers:
	@missing=""; for t in $(PEERS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing peer tools:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
			bcftools samtools plink2 plink1.9 mosdepth tabix libhts-dev chromium >/dev/null; \
	fi

test: $(BIN)/genomekit-installed peers
	$(BIN)/pytest -q

test-all: $(BIN)/genomekit-installed peers
	$(BIN)/pytest -q -m ""

bench: $(BIN)/genomekit-installed peers
	$(BIN)/python benchmarks/bench_freq.py
	$(BIN)/python benchmarks/bench_qc.py
	$(BIN)/python benchmarks/bench_bam.py

lint: $(BIN)/genomekit-installed
	$(BIN)/ruff check genomekit tests benchmarks

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
