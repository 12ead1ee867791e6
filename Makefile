# Entry points for people and CI. `make scan-examples` is the quick start's main job; `make test`
# is the full test run that .ci/run calls.

NODE ?= node
CLI := $(NODE) dist/operator/cli/main.js

.PHONY: all install build check test test-unit controlplane tools scan-examples demo bench bench-quick clean

all: build

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

install: node_modules/.package-lock.json

build: install
	npm run build

check: install
	npm run check

# Builds kube-apiserver and etcd from Go modules into the user's cache, or reuses them. Exit 3 means
# no Go toolchain: the integration tests then report themselves as skipped.
controlplane:
	@bash hack/controlplane/build.sh || [ $$? -eq 3 ]

# promtool and prometheus (Debian's package) for the alert-rule tests and the Prometheus end-to-end
# test. Without root or apt they stay missing and those tests report themselves as skipped.
tools:
	@bash hack/install-promtool.sh || echo "== promtool unavailable: its tests will be skipped"

test: install controlplane tools
	npm test

test-unit: build
	$(NODE) hack/run-tests.mjs unit corpus

scan-examples: build
	@echo "== hardened-mesh"
	@$(CLI) scan deploy/examples/hardened-mesh --policy deploy/examples/policies/hardened.yaml --fail-on none
	@echo
	@echo "== insecure-mesh"
	@$(CLI) scan deploy/examples/insecure-mesh --fail-on none

# The operator's main job on one command: the test control plane (built from Go modules on the first
# run), the CRDs, an example mesh, the operator, its report and gauges before and after a switch to
# PERMISSIVE. Stops everything it started.
demo: build controlplane
	$(NODE) hack/demo.mjs

bench: build
	$(NODE) dist/bench/run.js

bench-quick: build
	$(NODE) dist/bench/run.js --namespaces 500 --pods 5000 --policies 1000 --runs 3

clean:
	rm -rf dist
