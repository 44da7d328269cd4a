# logscale: the two commands a newcomer needs are `make demo` and `make test`.
# Every target installs what it needs first (see scripts/setup.sh).

SHELL := /bin/bash
export LOGSCALE_VENV ?= $(CURDIR)/.venv
export LOGSCALE_SAM_VENV ?= $(CURDIR)/.venv-sam
export LOGSCALE_CHECKOV_VENV ?= $(CURDIR)/.venv-checkov
# The linters read a region and credentials from the environment; these are dummies.
LINT_ENV := AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=test \
	AWS_SECRET_ACCESS_KEY=test SAM_CLI_TELEMETRY=0

.PHONY: setup demo test unit lint build package deploy bench fuzz simulate clean sam-invoke coldstart

setup:
	@scripts/setup.sh

## Run one cycle of the Lambda on a local AWS stand-in and show the capacity change.
demo: setup
	@scripts/demo.sh

## The function under `sam local invoke` (SAM's Lambda container, a Docker engine of its own)
## against the stand-in, with events/scheduled.json and events/dry-run.json. Needs root; installs
## Debian's docker.io if missing; stops everything it started (see scripts/sam-invoke.sh).
sam-invoke: setup
	@scripts/sam-invoke.sh

## Cold-start proxy: exec to the first poll of the Runtime API (Init) and the first invocation
## (a dry run against the stand-in), logscale-lambda against a hello-world
## (crates/coldstart/src/bin/hello_lambda.rs), both from `cargo lambda build --release`; where
## Init goes (init_profile); the deployable zip's size. Release builds go to their own target
## directory so they never evict the debug build; the first run compiles the AWS SDK once in
## release (about 10 minutes on two cores), later runs take seconds.
COLDSTART_TARGET_DIR ?= $(HOME)/.cache/logscale/target-release
COLDSTART_BUILD := PATH="$(LOGSCALE_VENV)/bin:$$PATH" CARGO_TARGET_DIR=$(COLDSTART_TARGET_DIR) nice -n 19 cargo lambda build --release
COLDSTART_OUT := $(COLDSTART_TARGET_DIR)/x86_64-unknown-linux-gnu/release
coldstart: setup
	$(COLDSTART_BUILD) --bin logscale-lambda --output-format zip
	$(COLDSTART_BUILD) -p logscale-coldstart --bin hello_lambda --bin init_profile
	$(LOGSCALE_VENV)/bin/python scripts/coldstart.py --runs $(or $(RUNS),21) --standin \
		--profile $(COLDSTART_TARGET_DIR)/lambda/init_profile/bootstrap \
		--zip $(COLDSTART_TARGET_DIR)/lambda/logscale-lambda/bootstrap.zip \
		$(COLDSTART_OUT)/logscale-lambda $(COLDSTART_TARGET_DIR)/lambda/hello_lambda/bootstrap

## Every test: formatting, clippy, the template linters, unit, integration and end-to-end.
test: setup lint
	cargo test --workspace --all-targets --no-fail-fast
	cargo test --workspace --doc

## The fast loop: the unit tests of both crates (the pipeline and crates/logs) only.
unit:
	cargo test --workspace --lib

lint: setup
	cargo fmt --all -- --check
# Advisories (offline, against ../shared/reference/advisory-db), licences and banned crates.
	scripts/supply-chain.sh
	cargo clippy --workspace --all-targets -- -D warnings
	$(LINT_ENV) $(LOGSCALE_VENV)/bin/cfn-lint template.yaml
	$(LINT_ENV) $(LOGSCALE_SAM_VENV)/bin/sam validate --lint
# checkov on the template after the SAM transform (offline), with every option off and on.
	$(LINT_ENV) $(LOGSCALE_SAM_VENV)/bin/python tools/sam_transform.py template.yaml .aws-sam/checkov
	$(LOGSCALE_CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -d .aws-sam/checkov

build:
	cargo build --bins

## The deployable zip (target/lambda/logscale-lambda/bootstrap.zip).
package: setup
	PATH="$(LOGSCALE_VENV)/bin:$$PATH" cargo lambda build --release --bin logscale-lambda --output-format zip

## Build with SAM (which calls cargo-lambda) and deploy, asking for the parameters.
deploy: setup
	PATH="$(LOGSCALE_VENV)/bin:$$PATH" $(LOGSCALE_SAM_VENV)/bin/sam build
	$(LOGSCALE_SAM_VENV)/bin/sam deploy --guided

## Four policies (original, default, target tracking, HPA) on every trace: the README's table and docs/simulate/*.svg.
simulate:
	cargo build --bin logscale
	python3 scripts/simulate.py

## Throughput and memory against mawk, the original's Python and gzip (see the README).
bench:
	cargo build --release --bin logscale
	python3 scripts/bench.py $(BENCH_ARGS)
	cargo bench -p logscale-logs --bench parse

## Each parser under libFuzzer (cargo-fuzz on the stable toolchain via RUSTC_BOOTSTRAP).
FUZZ_RUNS ?= 2000000
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	for t in original alb combined json; do mkdir -p fuzz/corpus/$$t && \
		cargo run -q --bin logscale -- loggen -n 20 --format $$t -o fuzz/corpus/$$t/seed.log || exit 1; done
	mkdir -p fuzz/corpus/auto_gzip && gzip -c fuzz/corpus/alb/seed.log > fuzz/corpus/auto_gzip/seed.gz
	cd fuzz && for t in original alb combined json auto_gzip; do \
		RUSTC_BOOTSTRAP=1 cargo fuzz run -O $$t -- -runs=$(FUZZ_RUNS) -max_len=4096 || exit 1; \
	done

clean:
	rm -rf .venv .venv-sam .venv-checkov .aws-sam target
