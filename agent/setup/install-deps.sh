#!/usr/bin/env bash
# Installs the Debian 12 packages airflow-reaper needs to build and test. Idempotent: it only calls
# apt-get when a package is missing, so a second run costs a few dpkg queries.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache      # toolchain; ccache keeps CI rebuilds cheap
  clang libclang-rt-14-dev clang-format        # libFuzzer targets (runtime in libclang-rt), format check
  libcpprest-dev libssl-dev                    # HTTP client/servers, JSON, TLS
  rapidjson-dev                                # header-only JSON reader for Airflow's list replies
  libyaml-cpp-dev libspdlog-dev
  prometheus-cpp-dev libgtest-dev libgmock-dev
  python3 python3-yaml                         # test stand-ins (Airflow API, kube-apiserver), validators
  util-linux procps                            # unshare, setsid, ps for tests
  ca-certificates openssl                      # test CA for the HTTPS stand-ins
  unzip                                        # kubectl/helm come from an npm package (tests only)
  prometheus                                   # promtool: checks the chart's alerts and /metrics (tests only)
  python3-venv python3-pip                     # real Airflow from PyPI in virtualenvs (tests only)
  redis-server postgresql                      # its Celery broker and database (tests only)
  podman runc mmdebstrap                       # the image build test (agent/setup/build-image.sh)
  strace                                       # syscalls per poll in `make bench` (benchmarks only)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come with a non-Debian nodejs build that conflicts with Debian's npm package: ask for the
# command, not the package.
command -v npm >/dev/null || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
