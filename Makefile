# Makefile - builds comment-ingest, starts the real services and runs every test.
# The two commands a newcomer needs: `make run` and `make test` (see README.md).

SHELL := /bin/bash
.DEFAULT_GOAL := build

SRC_DIR   := services/comment-ingest/src
BUILD     := build
ASAN      := $(BUILD)/asan
VENV      := .venv
PY        := $(VENV)/bin/python
VERSION   := 0.1.0

PKGS      := rdkafka libpq jansson libuv libutf8proc libcrypto
CC        ?= cc
WARN      := -Wall -Wextra -Werror -Wshadow -Wformat=2
CFLAGS_COMMON = -std=c11 -D_GNU_SOURCE -DCOMMENT_INGEST_VERSION='"$(VERSION)"' $(WARN) \
                $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -I$(SRC_DIR) -I$(BUILD)/gen
LDLIBS    = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhttp_parser
RELEASE_FLAGS := -O2 -g
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined

# Every module but main.c; the unit tests link the same objects.
LIB_SRCS  := $(filter-out $(SRC_DIR)/main.c,$(wildcard $(SRC_DIR)/*.c))
HDRS      := $(wildcard $(SRC_DIR)/*.h)
GEN_MIG   := $(BUILD)/gen/migrations.c
SQL       := $(sort $(wildcard sql/*.sql))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(ASAN)/unit/%,$(UNIT_SRCS))
# Test tools linked with the service modules, e.g. the contract corpus's decider.
TOOL_BINS := $(ASAN)/tools/decide

# libFuzzer targets: every tests/fuzz/fuzz_<name>.c, built with clang into build/fuzz/fuzz_<name>;
# its seeds are tests/fuzz/corpus/<name>/ (see tests/fuzz/run.sh).
FUZZ_CC     := clang-14
FUZZ_FLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_COMMON := tests/fuzz/check.c
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 60
FUZZ_CI_SECONDS ?= 12

# Starts the local services and exports their settings into the recipe's shell. A failing up.sh
# stops the recipe: `eval "$$(deploy/up.sh)"` alone would go on with eval's status, and the tests
# would then run against whatever listens on the default ports.
UP = up_env="$$(deploy/up.sh)" && eval "$$up_env"

.PHONY: build build-asan bootstrap up down run test unit contract integration faults chaos bench bench-rules bench-isolation fuzz fuzz-ci image image-test alerts-test clean help

help:
	@echo "make run    install what is missing, start Kafka + PostgreSQL, run the service on the seed comments"
	@echo "make test   the same bootstrap, then unit tests, a short fuzz pass, contract, alert rules, integration, image and fault tests"
	@echo "make chaos  the fault tests at full size (50,000 events, 20 kills; see docs/faults.md)"
	@echo "make up     start Kafka and PostgreSQL (prints export lines); make down stops them"
	@echo "make build  build $(BUILD)/comment-ingest"
	@echo "make bench the service against its limits and Kafka Connect (BENCH_N=200000 events, BENCH_RUNS=3); make bench-rules the rules path alone"
	@echo "make bench-isolation  what row isolation costs (a batch with one refused row against one without)"
	@echo "make alerts-test  the Prometheus alert rules: promtool check rules, and their unit tests"
	@echo "make fuzz   every libFuzzer target in tests/fuzz for FUZZ_SECONDS (60) each; make fuzz-ci $(FUZZ_CI_SECONDS) s each"
	@echo "make image  build the container image comment-ingest:local from deploy/Dockerfile with Podman"
	@echo "make image-test  build it, run it against make up's Kafka and PostgreSQL and check it (tests/image)"

$(GEN_MIG): $(SQL) services/comment-ingest/gen-migrations.sh
	@mkdir -p $(dir $@)
	services/comment-ingest/gen-migrations.sh sql $@

build: $(BUILD)/comment-ingest
build-asan: $(ASAN)/comment-ingest

$(BUILD)/comment-ingest: $(SRC_DIR)/main.c $(LIB_SRCS) $(HDRS) $(GEN_MIG)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(RELEASE_FLAGS) -o $@ $(SRC_DIR)/main.c $(LIB_SRCS) $(GEN_MIG) $(LDLIBS)

$(ASAN)/comment-ingest: $(SRC_DIR)/main.c $(LIB_SRCS) $(HDRS) $(GEN_MIG)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -o $@ $(SRC_DIR)/main.c $(LIB_SRCS) $(GEN_MIG) $(LDLIBS)

# The rules path as it was, and how it is compared: included by test_rules_reference.c and fuzz_reference.c.
REF_SRCS := tests/unit/rules_ref.c tests/unit/ref_compare.h

$(ASAN)/unit/%: tests/unit/%.c $(LIB_SRCS) $(HDRS) $(GEN_MIG) $(REF_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -o $@ $< $(LIB_SRCS) $(GEN_MIG) $(LDLIBS) -lcmocka

$(ASAN)/tools/%: tests/tools/%.c $(LIB_SRCS) $(HDRS) $(GEN_MIG)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -o $@ $< $(LIB_SRCS) $(GEN_MIG) $(LDLIBS)

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_COMMON) tests/fuzz/check.h $(LIB_SRCS) $(HDRS) $(GEN_MIG) $(REF_SRCS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_COMMON) $(FUZZ_FLAGS) -Itests/fuzz -o $@ $< $(FUZZ_COMMON) $(LIB_SRCS) $(GEN_MIG) $(LDLIBS)

$(BUILD)/bench/%: tests/bench/%.c tests/bench/bench_common.c tests/bench/bench_common.h $(LIB_SRCS) $(HDRS) $(GEN_MIG)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(RELEASE_FLAGS) -o $@ $< tests/bench/bench_common.c $(LIB_SRCS) $(GEN_MIG) $(LDLIBS)

# The rules path alone (decode, normalize, validate, triage; no I/O), on one core.
bench-rules: bootstrap $(BUILD)/bench/bench_rules
	$(BUILD)/bench/bench_rules 200000 deploy/rules/default.json

# The whole service against its limits (Kafka, COPY), the peer people would pick instead (Kafka
# Connect + Debezium JDBC sink, fetched by deploy/connect.sh) and a naive one, latency at 1,000/s
# and at half load, and peak RSS, on BENCH_N events; BENCH_RUNS runs and their medians. The rules
# path alone is part of each run. Writes results/bench-*.{json,png}.
BENCH_N   ?= 200000
BENCH_RUNS ?= 3
BENCH_BINS := $(addprefix $(BUILD)/bench/,bench_rules loadgen bare_consumer naive_peer latency_probe)
bench: bootstrap
	$(MAKE) --no-print-directory build $(BENCH_BINS)
	BENCH_N=$(BENCH_N) BENCH_RUNS=$(BENCH_RUNS) $(PY) tests/bench/run_bench.py

# What row isolation costs: a batch stored as usual against the same batch with one refused row.
bench-isolation: bootstrap build
	$(UP) && COMMENT_INGEST_BIN=$(BUILD)/comment-ingest $(PY) tests/bench/isolation_cost.py

# Installs the Debian packages and the Python venv that build and tests need.
bootstrap:
	@deploy/bootstrap.sh

up: bootstrap
	@deploy/up.sh

down:
	@deploy/down.sh

unit: bootstrap $(UNIT_BINS)
	@rc=0; for t in $(UNIT_BINS); do echo "== $$t"; $$t || rc=1; done; exit $$rc

# Each fuzz target runs FUZZ_SECONDS on its working corpus build/fuzz/corpus-<name>/ (seeded from
# tests/fuzz/corpus/<name>/); a crash, leak or sanitizer report fails, its input kept in
# build/fuzz/artifacts/<name>/. fuzz-ci is the short pass that `make test` runs.
fuzz: bootstrap
	$(MAKE) --no-print-directory $(FUZZ_BINS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_BINS)

fuzz-ci:
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_CI_SECONDS)

# The alert rules (deploy/prometheus/alerts.yml, runbook docs/operations.md): their syntax, and a unit
# test of each alert (deploy/prometheus/alerts.test.yml), with Debian's promtool; and compose's
# Prometheus configuration (deploy/prometheus/prometheus.yml).
alerts-test: bootstrap
	promtool check config deploy/prometheus/prometheus.yml
	promtool check rules deploy/prometheus/alerts.yml
	promtool test rules deploy/prometheus/alerts.test.yml

# The compose checks ask the release binary (--help, --check-config) and the Kafka jars.
contract: bootstrap $(TOOL_BINS) $(BUILD)/comment-ingest
	$(PY) -m pytest -q tests/contract

integration: bootstrap build-asan
	$(UP) && $(PY) -m pytest -q tests/integration

# Fault tests (docs/faults.md): SIGKILL, PostgreSQL and Kafka restarts, rebalances, SIGTERM.
# They restart the shared Kafka and PostgreSQL for a few seconds. `faults` is the reduced size
# (part of `make test`), `chaos` the full one.
faults: bootstrap build-asan
	$(UP) && $(PY) -m pytest -q tests/faults

chaos: bootstrap build-asan
	$(UP) && FAULTS_SCALE=full $(PY) -m pytest -q tests/faults

test: bootstrap
	$(MAKE) --no-print-directory build build-asan
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory fuzz-ci
	$(MAKE) --no-print-directory contract
	$(MAKE) --no-print-directory alerts-test
	$(MAKE) --no-print-directory integration
	$(MAKE) --no-print-directory image-test
	$(MAKE) --no-print-directory faults

# The container image, with Podman (deploy/image.sh): the base image debian:bookworm-slim is made
# once from Debian's packages (mmdebstrap), nothing is pulled from a registry.
image: bootstrap
	@deploy/image.sh build

# The image on the host network against `make up`'s services: --help/--version, a non-root user,
# /healthz and the HEALTHCHECK, the seed's comments through the container, podman stop.
image-test: bootstrap
	$(UP) && deploy/image.sh test

run: bootstrap build
	@deploy/run-demo.sh

clean:
	rm -rf $(BUILD)
