#!/usr/bin/env bash
# Installs promtool and prometheus from Debian's `prometheus` package when promtool is missing.
# The alert-rule tests and the Prometheus end-to-end test use them; without them those tests
# report themselves as skipped. Needs root (or sudo) and apt; exits 0 when already installed.
set -euo pipefail

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  echo "== promtool: $(promtool --version 2>&1 | head -1)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "== promtool missing and apt-get unavailable: install Prometheus 2.x tools by hand" >&2
  exit 3
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# --no-install-recommends keeps out the node exporter and the web UI assets' extras; Debian starts
# no service without systemd, and the tests run their own Prometheus on loopback.
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
echo "== promtool: $(promtool --version 2>&1 | head -1)"
