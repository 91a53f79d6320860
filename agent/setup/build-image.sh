#!/usr/bin/env bash
# Builds the agent's image from agent/Containerfile with podman:
#   bash agent/setup/build-image.sh [TAG]        (default TAG: localhost/airflow-reaper:<version>)
# The version is CMake's project(VERSION); the revision label is the git commit.
# The Debian 12 build base needs no registry: it is made with mmdebstrap from the host's apt sources
# (Debian's packages only), cached as a tarball under .tools/images/ and `podman import`ed, both
# keyed by the Containerfile's BUILD_PACKAGES, and the build pins it by the imported image's digest.
# BUILD_BASE=<name>@sha256:<digest> builds on that image instead (e.g. docker.io/library/debian).
# Prints the image's ID on its last line.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
containerfile="${repo_root}/agent/Containerfile"
export CONTAINERS_CONF="${CONTAINERS_CONF:-${repo_root}/agent/setup/containers.conf}"

say() { echo "build-image: $*" >&2; }
die() { say "$*"; exit 1; }

version="$(sed -n 's/^project(airflow_reaper VERSION \([^ )]*\).*/\1/p' "${repo_root}/CMakeLists.txt")"
[ -n "${version}" ] || die "no project(... VERSION ...) in CMakeLists.txt"
revision="$(git -C "${repo_root}" rev-parse HEAD 2>/dev/null || echo unknown)"
tag="${1:-localhost/airflow-reaper:${version}}"
command -v podman >/dev/null || die "podman is missing (apt-get install podman runc)"

# The packages the Containerfile's build stage needs, from its one list.
build_packages() {
  sed -n 's/^ARG BUILD_PACKAGES="\(.*\)"$/\1/p' "${containerfile}"
}

# The host's Debian sources, in one format (mmdebstrap reads one stream).
apt_sources() {
  local file
  for file in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [ -s "${file}" ] && { cat "${file}"; return; }
  done
  die "no Debian apt sources in /etc/apt"
}

# Makes (or reuses) the imported base; prints it as name@digest.
made_base() {
  local packages key image tarball
  packages="$(build_packages)"
  [ -n "${packages}" ] || die "no ARG BUILD_PACKAGES in ${containerfile}"
  key="$(printf 'bookworm minbase %s\n' "${packages}" | sha256sum | cut -c1-16)"
  image="localhost/airflow-reaper-build-base:${key}"
  if ! podman image exists "${image}"; then
    tarball="${repo_root}/.tools/images/build-base-${key}.tar"
    if [ ! -s "${tarball}" ]; then
      command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (apt-get install mmdebstrap)"
      mkdir -p "$(dirname "${tarball}")"
      say "making the Debian 12 build base with mmdebstrap (once; cached in ${tarball})"
      apt_sources | mmdebstrap --quiet --format=tar --variant=minbase --include="${packages// /,}" \
        bookworm "${tarball}.partial" - >&2 || die "mmdebstrap failed"
      mv "${tarball}.partial" "${tarball}"
    fi
    say "importing ${tarball}"
    podman import --quiet "${tarball}" "${image}" >/dev/null || die "podman import failed"
  fi
  echo "localhost/airflow-reaper-build-base@$(podman image inspect --format '{{.Digest}}' "${image}")"
}

base="${BUILD_BASE:-$(made_base)}"
[[ "${base}" =~ @sha256:[0-9a-f]{64}$ ]] || die "BUILD_BASE must be pinned by digest: ${base}"
say "building ${tag} (version ${version}) on ${base}"
# Host network: a stock base fetches its packages with apt; a made one needs none.
podman build --network host -f "${containerfile}" --build-arg "BUILD_BASE=${base}" \
  --build-arg "VERSION=${version}" --build-arg "REVISION=${revision}" -t "${tag}" \
  "${repo_root}" >&2 || die "podman build failed"
podman image inspect --format '{{.Id}}' "${tag}"
