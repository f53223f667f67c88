# The two commands of the README: `make run` and `make test`.
# Both install what is missing first (scripts/install-deps is idempotent).

CARGO ?= cargo
RULES ?= rules

.PHONY: deps run test build bench fmt clippy

deps:
	@bash scripts/install-deps

build: deps
	$(CARGO) build --release -p interdict

# The gateway's main job on its defaults: `interdict serve` (SIP 127.0.0.1:5060, next hop
# 127.0.0.1:5070, metrics 127.0.0.1:9460) between a SIPp border and a SIPp core, driven
# with the bundled calls (ordinary, fraud-listed and suspect callers); prints the calls
# by verdict and the evidence of a blocked call, and fails unless every call went as
# expected. The binary is in $CARGO_TARGET_DIR when that is set.
run: build
	"$${CARGO_TARGET_DIR:-target}/release/interdict" rules validate $(RULES)
	bash scripts/demo-sip $(RULES)

fmt: deps
	$(CARGO) fmt --all -- --check

clippy: deps
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Every test: formatting, lints, unit, doc, corpus, end-to-end and quality tests.
test: deps fmt clippy
	$(CARGO) test --workspace

bench: deps
	$(CARGO) bench --bench sip --bench smpp --bench engine
