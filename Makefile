# The two commands of the README: `make run` and `make test`.
# Both install what is missing first (scripts/install-deps is idempotent).

CARGO ?= cargo
RULES ?= rules

.PHONY: deps run test build bench fmt clippy

deps:
	@bash scripts/install-deps

build: deps
	$(CARGO) build --release -p interdict

# The gateway's main job on the bundled defaults. Until the inline proxies land,
# this decides the bundled sample traffic (plain events, raw SIP, raw SMPP) with
# the default rule pack and prints one JSON decision per input.
run: build
	./target/release/interdict rules validate $(RULES)
	./target/release/interdict check --rules $(RULES) --jsonl tests/samples/events.jsonl
	./target/release/interdict check --rules $(RULES) tests/samples/sip/*.sip tests/samples/smpp/*.hex

fmt: deps
	$(CARGO) fmt --all -- --check

clippy: deps
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Every test: formatting, lints, unit, doc, corpus, end-to-end and quality tests.
test: deps fmt clippy
	$(CARGO) test --workspace

bench: deps
	$(CARGO) bench --bench sip --bench smpp --bench engine
