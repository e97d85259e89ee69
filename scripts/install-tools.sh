#!/usr/bin/env bash
# Installs the pinned external tools the suite and its tests run for real
# (kustomize, helm, actionlint) with `go install`, into a cache directory that
# lives outside the clone so a kept machine never rebuilds them.
#
#   scripts/install-tools.sh            install what is missing, print the bin dirs
#   scripts/install-tools.sh --path     print only a PATH fragment (for eval/export)
#
# FLEET_PROMOTE_TOOLS overrides the cache root
# (default: $HOME/.cache/fleet-promote/tools).
set -euo pipefail

KUSTOMIZE_VERSION=v5.8.1
HELM_VERSION=v3.21.4
ACTIONLINT_VERSION=v1.7.12

root="${FLEET_PROMOTE_TOOLS:-${HOME}/.cache/fleet-promote/tools}"

tools=(
  "kustomize|${KUSTOMIZE_VERSION}|sigs.k8s.io/kustomize/kustomize/v5"
  "helm|${HELM_VERSION}|helm.sh/helm/v3/cmd/helm"
  "actionlint|${ACTIONLINT_VERSION}|github.com/rhysd/actionlint/cmd/actionlint"
)

path_fragment=""
for entry in "${tools[@]}"; do
  IFS='|' read -r name version pkg <<<"$entry"
  dir="${root}/${name}-${version}"
  path_fragment="${path_fragment:+${path_fragment}:}${dir}"
done

if [[ "${1:-}" == "--path" ]]; then
  echo "$path_fragment"
  exit 0
fi

# `go install` skips the release Makefile's -ldflags; helm needs them to report
# its real version (`helm version`) and the Kubernetes version it renders
# against (.Capabilities.KubeVersion), which the Makefile derives from client-go.
helm_ldflags() {
  local version="$1" gomod client_go_minor
  gomod="$(go mod download -json "helm.sh/helm/v3@${version}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  client_go_minor="$(awk '$1 == "k8s.io/client-go" { split($2, v, "."); print v[2] }' "$gomod")"
  if [[ -z "$client_go_minor" ]]; then
    echo "error: cannot read the k8s.io/client-go version of helm ${version}" >&2
    return 1
  fi
  local flags="-X helm.sh/helm/v3/internal/version.version=${version}"
  for pkg_var in pkg/lint/rules pkg/chartutil; do
    flags+=" -X helm.sh/helm/v3/${pkg_var}.k8sVersionMajor=1"
    flags+=" -X helm.sh/helm/v3/${pkg_var}.k8sVersionMinor=${client_go_minor}"
  done
  echo "$flags"
}

# Bumped when the way a tool is built changes, so cached builds are redone.
build_recipe=2

for entry in "${tools[@]}"; do
  IFS='|' read -r name version pkg <<<"$entry"
  dir="${root}/${name}-${version}"
  if [[ -x "${dir}/${name}" && "$(cat "${dir}/.build-recipe" 2>/dev/null)" == "$build_recipe" ]]; then
    echo "${name} ${version}: cached at ${dir}"
    continue
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "error: Go is required to build ${name} ${version} (go install ${pkg}@${version})." >&2
    echo "Install Go 1.22+ from your package manager, or put ${name} on PATH yourself." >&2
    if [[ "$name" == "kustomize" ]] && command -v kubectl >/dev/null 2>&1; then
      echo "Fallback: 'kubectl kustomize' is on PATH and is used for kustomize when kustomize is absent." >&2
      continue
    fi
    exit 1
  fi
  echo "${name} ${version}: building with go install ${pkg}@${version} ..."
  tmp="${dir}.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  ldflags=""
  if [[ "$name" == "helm" ]]; then ldflags="$(helm_ldflags "$version")"; fi
  GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS="-trimpath" go install -ldflags="$ldflags" "${pkg}@${version}"
  echo "$build_recipe" >"${tmp}/.build-recipe"
  rm -rf "$dir" && mv "$tmp" "$dir"
  echo "${name} ${version}: installed at ${dir}"
done

echo "PATH fragment: ${path_fragment}"
