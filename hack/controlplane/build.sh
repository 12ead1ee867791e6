#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver and etcd) from their Go modules into a cache
# outside the repository. The integration tests run against these real binaries so that CRD
# validation, RBAC, watches and TokenRequest behave as in a cluster rather than as in a fake.
#
# Exit codes: 0 built or reused, 3 no Go toolchain (integration tests then skip), 1 any other
# failure. The cache is reused when its stamp names the same releases and the binaries answer.
#
# Output layout (see test/harness/paths.ts, which must agree):
#   ${XDG_CACHE_HOME:-$HOME/.cache}/mesh-compliance/controlplane/k8s-<v>-etcd-<v>/
#     bin/kube-apiserver  bin/etcd  stamp.json  src/ (wrapper modules)  logs/
set -euo pipefail

K8S_VERSION="v1.34.4"
ETCD_VERSION="v3.6.16"
# Bump when the way the binaries are built changes, so older caches are rebuilt.
RECIPE=1

CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/mesh-compliance/controlplane"
CACHE_DIR="${CACHE_ROOT}/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}"
BIN_DIR="${CACHE_DIR}/bin"
SRC_DIR="${CACHE_DIR}/src"
LOG_DIR="${CACHE_DIR}/logs"
STAMP="${CACHE_DIR}/stamp.json"

log() { printf '[controlplane] %s\n' "$*"; }
die() {
  printf '[controlplane] ERROR: %s\n' "$*" >&2
  exit 1
}

stamp_matches() {
  [[ -x "${BIN_DIR}/kube-apiserver" && -x "${BIN_DIR}/etcd" && -f "${STAMP}" ]] || return 1
  grep -q "\"kubernetes\": \"${K8S_VERSION}\"" "${STAMP}" || return 1
  grep -q "\"etcd\": \"${ETCD_VERSION}\"" "${STAMP}" || return 1
  grep -q "\"recipe\": ${RECIPE}," "${STAMP}" || return 1
  # The binaries must still run and name the release the stamp promises.
  "${BIN_DIR}/kube-apiserver" --version 2>/dev/null | grep -q "Kubernetes ${K8S_VERSION}\$" || return 1
  "${BIN_DIR}/etcd" --version 2>/dev/null | grep -q "etcd Version: ${ETCD_VERSION#v}\$" || return 1
}

mkdir -p "${CACHE_DIR}"
# One build at a time per cache: CI and developers may call this concurrently.
exec 9>"${CACHE_DIR}/.lock"
if ! flock -n 9; then
  log "another build holds ${CACHE_DIR}/.lock; waiting for it"
  flock 9
fi

if stamp_matches; then
  log "reusing kube-apiserver ${K8S_VERSION} and etcd ${ETCD_VERSION} from ${BIN_DIR}"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "[controlplane] MISSING: no Go toolchain ('go' not on PATH); cannot build kube-apiserver ${K8S_VERSION} and etcd ${ETCD_VERSION} — integration tests will be skipped" >&2
  exit 3
fi

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"
GO_VERSION="$(go env GOVERSION)"
GOMODCACHE_DIR="$(go env GOMODCACHE)"
GOCACHE_DIR="$(go env GOCACHE)"
mkdir -p "${BIN_DIR}" "${SRC_DIR}" "${LOG_DIR}" "${GOMODCACHE_DIR}" "${GOCACHE_DIR}"

dir_bytes() { du -sb "$1" 2>/dev/null | cut -f1; }
now() { date +%s; }

log "cold build of kube-apiserver ${K8S_VERSION} and etcd ${ETCD_VERSION} with ${GO_VERSION} into ${CACHE_DIR}"
T_START="$(now)"
MODCACHE_BEFORE="$(dir_bytes "${GOMODCACHE_DIR}")"
DOWNLOAD_BEFORE="$(dir_bytes "${GOMODCACHE_DIR}/cache/download" || echo 0)"
GOCACHE_BEFORE="$(dir_bytes "${GOCACHE_DIR}")"

# Reads one string field from `go mod download -json` output without needing jq.
json_field() { sed -n "s/^[[:space:]]*\"$1\": \"\\(.*\\)\",\\{0,1\\}\$/\\1/p" | head -n1; }

# Prints `replace` directives that pin every staging module that k8s.io/kubernetes requires at
# v0.0.0 (and replaces with ./staging/...) to the matching published v0.X.Y release. The list comes
# from the release's own go.mod so that it follows upstream when the release changes.
staging_replaces() {
  local gomod="$1" staging_version="$2"
  awk -v sv="${staging_version}" '
    /^replace[[:space:]]*\(/ { inblock = 1; next }
    inblock && /^\)/ { inblock = 0; next }
    /^replace[[:space:]]+[^(]/ { sub(/^replace[[:space:]]+/, ""); line = $0; handle(line); next }
    inblock { handle($0) }
    function handle(l,   parts) {
      split(l, parts, /[[:space:]]+=>[[:space:]]+/)
      gsub(/^[[:space:]]+|[[:space:]]+$/, "", parts[1])
      gsub(/^[[:space:]]+|[[:space:]]+$/, "", parts[2])
      if (parts[2] ~ /^\.\/staging\//) {
        printf "replace %s => %s %s\n", parts[1], parts[1], sv
      } else if (parts[1] != "") {
        printf "replace %s => %s\n", parts[1], parts[2]
      }
    }
  ' "${gomod}"
}

# Lists modules required at v0.0.0, which must all have a generated replace.
zero_requires() {
  awk '
    /^require[[:space:]]*\(/ { inblock = 1; next }
    inblock && /^\)/ { inblock = 0; next }
    inblock && $2 == "v0.0.0" { print $1 }
    /^require[[:space:]]+[^(]/ && $3 == "v0.0.0" { print $2 }
  ' "$1"
}

# Builds one wrapper module; progress goes to the terminal as a package count, the full
# `go build -v` output to a log file.
go_build_logged() {
  local name="$1" dir="$2" ldflags="$3" out="$4" logfile="${LOG_DIR}/build-${1}.log"
  log "${name}: compiling (full package list in ${logfile})"
  if ! (cd "${dir}" && go build -v -trimpath -ldflags "${ldflags}" -o "${out}.tmp" .) 2>&1 |
    tee "${logfile}" |
    awk -v n="${name}" '{ c++ } c % 100 == 0 { printf "[controlplane] %s: %d packages compiled (last: %s)\n", n, c, $0; fflush() }
      END { printf "[controlplane] %s: %d packages compiled\n", n, c }'; then
    tail -n 40 "${logfile}" >&2
    die "${name}: go build failed (log: ${logfile})"
  fi
  mv -f "${out}.tmp" "${out}"
}

# ---------------------------------------------------------------------------------------------
# kube-apiserver
# ---------------------------------------------------------------------------------------------
T0="$(now)"
log "kube-apiserver: resolving k8s.io/kubernetes@${K8S_VERSION}"
K8S_JSON="$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}")" ||
  die "go mod download k8s.io/kubernetes@${K8S_VERSION} failed"
K8S_GOMOD="$(printf '%s\n' "${K8S_JSON}" | json_field GoMod)"
K8S_COMMIT="$(printf '%s\n' "${K8S_JSON}" | json_field Hash)"
[[ -f "${K8S_GOMOD}" ]] || die "no go.mod for k8s.io/kubernetes@${K8S_VERSION} in the download output"
K8S_GO_DIRECTIVE="$(awk '$1 == "go" { print $2; exit }' "${K8S_GOMOD}")"

# v1.34.4 -> v0.34.4: staging modules are published with the minor and patch of the release.
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
K8S_MINOR="${K8S_VERSION#v1.}"
K8S_MINOR="${K8S_MINOR%%.*}"

KA_DIR="${SRC_DIR}/kube-apiserver"
rm -rf "${KA_DIR}"
mkdir -p "${KA_DIR}"
REPLACES="$(staging_replaces "${K8S_GOMOD}" "${STAGING_VERSION}")"
for mod in $(zero_requires "${K8S_GOMOD}"); do
  grep -q "^replace ${mod} => " <<<"${REPLACES}" || die "k8s.io/kubernetes requires ${mod} v0.0.0 without a staging replace"
done
log "kube-apiserver: generated $(grep -c "=> .* ${STAGING_VERSION}\$" <<<"${REPLACES}") staging replaces at ${STAGING_VERSION}"
{
  echo "// Generated by hack/controlplane/build.sh; wraps kube-apiserver ${K8S_VERSION}."
  echo "module meshcompliance.local/controlplane/kube-apiserver"
  echo
  echo "go ${K8S_GO_DIRECTIVE}"
  echo
  echo "require k8s.io/kubernetes ${K8S_VERSION}"
  echo
  echo "${REPLACES}"
} >"${KA_DIR}/go.mod"
cat >"${KA_DIR}/main.go" <<'EOF'
// Generated by hack/controlplane/build.sh: runs the upstream kube-apiserver command unchanged.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
EOF
log "kube-apiserver: go mod tidy (downloads the module graph)"
(cd "${KA_DIR}" && go mod tidy) >"${LOG_DIR}/tidy-kube-apiserver.log" 2>&1 || {
  tail -n 40 "${LOG_DIR}/tidy-kube-apiserver.log" >&2
  die "kube-apiserver: go mod tidy failed"
}
# Every k8s.io module must stay at the one release: tidy must not have moved any.
if (cd "${KA_DIR}" && go list -m all) | awk -v kv="${K8S_VERSION}" -v sv="${STAGING_VERSION}" '
    $1 == "k8s.io/kubernetes" && $2 != kv { bad = 1; print }
    $3 == "=>" && $1 ~ /^k8s\.io\// && $5 != sv { bad = 1; print }
    END { exit bad ? 0 : 1 }' >&2; then
  die "kube-apiserver: a k8s.io module is not at ${K8S_VERSION}/${STAGING_VERSION} (listed above)"
fi
T_KA_DEPS="$(( $(now) - T0 ))"

BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
VPKGS=(k8s.io/component-base/version k8s.io/client-go/pkg/version)
KA_LDFLAGS="-s -w"
for p in "${VPKGS[@]}"; do
  KA_LDFLAGS+=" -X ${p}.gitVersion=${K8S_VERSION} -X ${p}.gitMajor=1 -X ${p}.gitMinor=${K8S_MINOR}"
  KA_LDFLAGS+=" -X ${p}.gitCommit=${K8S_COMMIT} -X ${p}.gitTreeState=archive -X ${p}.buildDate=${BUILD_DATE}"
done
T0="$(now)"
go_build_logged kube-apiserver "${KA_DIR}" "${KA_LDFLAGS}" "${BIN_DIR}/kube-apiserver"
T_KA_BUILD="$(( $(now) - T0 ))"
"${BIN_DIR}/kube-apiserver" --version | grep -q "Kubernetes ${K8S_VERSION}\$" ||
  die "kube-apiserver --version does not report ${K8S_VERSION}"
log "kube-apiserver: $("${BIN_DIR}/kube-apiserver" --version) (deps ${T_KA_DEPS}s, compile ${T_KA_BUILD}s)"

# ---------------------------------------------------------------------------------------------
# etcd
# ---------------------------------------------------------------------------------------------
T0="$(now)"
log "etcd: resolving go.etcd.io/etcd/server/v3@${ETCD_VERSION}"
ETCD_JSON="$(go mod download -json "go.etcd.io/etcd/server/v3@${ETCD_VERSION}")" ||
  die "go mod download go.etcd.io/etcd/server/v3@${ETCD_VERSION} failed"
ETCD_COMMIT="$(printf '%s\n' "${ETCD_JSON}" | json_field Hash)"
ETCD_GOMOD="$(printf '%s\n' "${ETCD_JSON}" | json_field GoMod)"
ETCD_GO_DIRECTIVE="$(awk '$1 == "go" { print $2; exit }' "${ETCD_GOMOD}")"
ET_DIR="${SRC_DIR}/etcd"
rm -rf "${ET_DIR}"
mkdir -p "${ET_DIR}"
cat >"${ET_DIR}/go.mod" <<EOF
// Generated by hack/controlplane/build.sh; wraps etcd ${ETCD_VERSION}.
module meshcompliance.local/controlplane/etcd

go ${ETCD_GO_DIRECTIVE}

require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}
EOF
cat >"${ET_DIR}/main.go" <<'EOF'
// Generated by hack/controlplane/build.sh: runs the upstream etcd command unchanged.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
EOF
log "etcd: go mod tidy"
(cd "${ET_DIR}" && go mod tidy) >"${LOG_DIR}/tidy-etcd.log" 2>&1 || {
  tail -n 40 "${LOG_DIR}/tidy-etcd.log" >&2
  die "etcd: go mod tidy failed"
}
T_ET_DEPS="$(( $(now) - T0 ))"
T0="$(now)"
ET_LDFLAGS="-s -w"
if [[ -n "${ETCD_COMMIT}" ]]; then
  ET_LDFLAGS+=" -X go.etcd.io/etcd/api/v3/version.GitSHA=${ETCD_COMMIT:0:10}"
fi
go_build_logged etcd "${ET_DIR}" "${ET_LDFLAGS}" "${BIN_DIR}/etcd"
T_ET_BUILD="$(( $(now) - T0 ))"
"${BIN_DIR}/etcd" --version | grep -q "etcd Version: ${ETCD_VERSION#v}\$" ||
  die "etcd --version does not report ${ETCD_VERSION}"
log "etcd: $("${BIN_DIR}/etcd" --version | head -n1) (deps ${T_ET_DEPS}s, compile ${T_ET_BUILD}s)"

# ---------------------------------------------------------------------------------------------
# stamp
# ---------------------------------------------------------------------------------------------
T_TOTAL="$(( $(now) - T_START ))"
MODCACHE_GROWTH="$(( $(dir_bytes "${GOMODCACHE_DIR}") - MODCACHE_BEFORE ))"
DOWNLOAD_GROWTH="$(( $(dir_bytes "${GOMODCACHE_DIR}/cache/download") - DOWNLOAD_BEFORE ))"
GOCACHE_GROWTH="$(( $(dir_bytes "${GOCACHE_DIR}") - GOCACHE_BEFORE ))"
BIN_BYTES="$(dir_bytes "${BIN_DIR}")"
CACHE_BYTES="$(dir_bytes "${CACHE_DIR}")"
cat >"${STAMP}.tmp" <<EOF
{
  "recipe": ${RECIPE},
  "kubernetes": "${K8S_VERSION}",
  "kubernetesCommit": "${K8S_COMMIT}",
  "stagingVersion": "${STAGING_VERSION}",
  "etcd": "${ETCD_VERSION}",
  "etcdCommit": "${ETCD_COMMIT}",
  "go": "${GO_VERSION}",
  "buildDate": "${BUILD_DATE}",
  "nproc": $(nproc),
  "durationsSeconds": {
    "kubeApiserverDeps": ${T_KA_DEPS},
    "kubeApiserverCompile": ${T_KA_BUILD},
    "etcdDeps": ${T_ET_DEPS},
    "etcdCompile": ${T_ET_BUILD},
    "total": ${T_TOTAL}
  },
  "bytes": {
    "moduleDownloads": ${DOWNLOAD_GROWTH},
    "moduleCacheGrowth": ${MODCACHE_GROWTH},
    "goBuildCacheGrowth": ${GOCACHE_GROWTH},
    "binaries": ${BIN_BYTES},
    "controlPlaneCache": ${CACHE_BYTES}
  },
  "binaries": {
    "kubeApiserver": "${BIN_DIR}/kube-apiserver",
    "etcd": "${BIN_DIR}/etcd"
  }
}
EOF
mv -f "${STAMP}.tmp" "${STAMP}"
log "done in ${T_TOTAL}s; stamp: ${STAMP}"
log "module downloads $(( DOWNLOAD_GROWTH / 1048576 )) MiB, module cache +$(( MODCACHE_GROWTH / 1048576 )) MiB, go build cache +$(( GOCACHE_GROWTH / 1048576 )) MiB, binaries $(( BIN_BYTES / 1048576 )) MiB"
