# genomekit: `make demo` runs freq on a generated sample cohort; `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PEERS := bcftools tabix plink2 samtools mosdepth
DEMO := demo

.PHONY: demo test test-all peers bench lint clean

$(BIN)/genomekit-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/genomekit-installed
	$(BIN)/genomekit simulate --out $(DEMO)/cohort --samples 500 --sites 20000 --seed 1 --force
	$(BIN)/genomekit freq $(DEMO)/cohort.vcf.gz --pops $(DEMO)/cohort.pops.tsv \
		--out $(DEMO)/cohort --sites-vcf --threads 2 --force
	@echo "demo outputs: $(DEMO)/cohort.freq.parquet $(DEMO)/cohort.freq.json $(DEMO)/cohort.sites.bcf"

# Peer tools are the test oracles: install them with apt-get when missing.
peers:
	@missing=""; for t in $(PEERS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing peer tools:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
			bcftools samtools plink2 mosdepth tabix libhts-dev >/dev/null; \
	fi

test: $(BIN)/genomekit-installed peers
	$(BIN)/pytest -q

test-all: $(BIN)/genomekit-installed peers
	$(BIN)/pytest -q -m ""

bench: $(BIN)/genomekit-installed peers
	$(BIN)/python benchmarks/bench_freq.py
	$(BIN)/python benchmarks/bench_qc.py

lint: $(BIN)/genomekit-installed
	$(BIN)/ruff check genomekit tests benchmarks

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
