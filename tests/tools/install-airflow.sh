#!/usr/bin/env bash
# Installs real Apache Airflow releases from PyPI into <repo>/.tools/airflow/<version>, one
# virtualenv each, for the real-Airflow end-to-end tests (tests/e2e/airflow), and writes the list
# the tests read to <repo>/.tools/airflow/versions as `<series> <version>` lines:
#   3     the newest 3.x release;
#   3.2   the newest 3.2.x, only when the newest 3.x already runs the task process in its own
#         process group (killed with killpg): most clusters still run without that fix;
#   2.10  the newest 2.10.x.
# Airflow's constraint files cannot be downloaded here: what breaks without them is pinned in
# tests/e2e/airflow/requirements-<major.minor>.txt. Idempotent: a virtualenv whose stamp matches
# the version and its pins is left alone, one whose pins changed is updated in place; pip's cache
# makes a fresh install cheap. A failed download fails with pip's own message.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools_dir="${repo_root}/.tools/airflow"
pins_dir="${repo_root}/tests/e2e/airflow"
python=/usr/bin/python3 # Debian's, with python3-venv (agent/setup/install-deps.sh)

"${python}" -m venv --help >/dev/null 2>&1 ||
  { echo "install-airflow: no venv module in ${python} (run agent/setup/install-deps.sh)" >&2
    exit 1; }
mkdir -p "${tools_dir}"

# Every release of apache-airflow, newest first; stderr (pip's own message) passes through.
listing="$("${python}" -m pip index versions apache-airflow 2> >(grep -v 'experimental' >&2))"
# The newest final release whose version starts with a prefix ("3.", "3.2.", "2.10.").
newest() {
  sed -n 's/^Available versions: //p' <<<"${listing}" | tr ',' '\n' | tr -d ' ' |
    grep -E "^${1//./\\.}[0-9.]*$" | head -n 1
}

install() { # install VERSION [EXTRA]
  local version="$1" venv="${tools_dir}/$1" requirement pins stamp
  requirement="apache-airflow${2:+[$2]}==${version}"
  pins="${pins_dir}/requirements-$(cut -d. -f1,2 <<<"${version}").txt"
  [ -f "${pins}" ] || pins=/dev/null
  stamp="${requirement} $(sha256sum <"${pins}" | cut -d' ' -f1)"
  if [ "$(cat "${venv}/.reaper-stamp" 2>/dev/null)" == "${stamp}" ]; then
    return 0
  fi
  echo "install-airflow: ${requirement} into ${venv}"
  [ -x "${venv}/bin/pip" ] || "${python}" -m venv "${venv}"
  "${venv}/bin/pip" install --quiet --progress-bar off "${requirement}" -r "${pins}"
  echo "${stamp}" >"${venv}/.reaper-stamp"
}

# Whether this release's task supervisor signals the task's whole process group (upstream #65738).
kills_process_group() {
  grep -q "os.killpg" \
    "${tools_dir}/$1"/lib/python3*/site-packages/airflow/sdk/execution_time/supervisor.py
}

latest3="$(newest 3.)"
latest210="$(newest 2.10.)"
[ -n "${latest3}" ] && [ -n "${latest210}" ] ||
  { echo "install-airflow: PyPI lists no apache-airflow 3.x or 2.10.x" >&2; exit 1; }

install "${latest3}" celery
lines=("3 ${latest3}")
if kills_process_group "${latest3}"; then
  latest32="$(newest 3.2.)"
  install "${latest32}" celery
  lines+=("3.2 ${latest32}")
fi
install "${latest210}"
lines+=("2.10 ${latest210}")

printf '%s\n' "${lines[@]}" >"${tools_dir}/versions"
