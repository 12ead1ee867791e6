# Entry points for people and CI. `make scan-examples` is the quick start's main job; `make test`
# is the full test run that .ci/run calls.

NODE ?= node
CLI := $(NODE) dist/operator/cli/main.js

.PHONY: all install build check test test-unit controlplane scan-examples bench clean

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

test: install controlplane
	npm test

test-unit: build
	$(NODE) hack/run-tests.mjs unit corpus

scan-examples: build
	@echo "== hardened-mesh"
	@$(CLI) scan deploy/examples/hardened-mesh --policy deploy/examples/policies/hardened.yaml --fail-on none
	@echo
	@echo "== insecure-mesh"
	@$(CLI) scan deploy/examples/insecure-mesh --fail-on none

bench: build
	$(NODE) dist/bench/run.js

clean:
	rm -rf dist
