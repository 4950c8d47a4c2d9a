#!/usr/bin/env bash
# molecule scenarios (default driver, localhost): `default` = local_ironic + enroll, `tune` = tuned limits.
# They reuse the shared Ironic venv (.state/ironic-venv) so Ironic is installed once per machine.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$ROOT/.venv/bin:$PATH" ANSIBLE_NOCOLOR=1 PY_COLORS=0
export IRONWAVE_IRONIC_VENV="${IRONWAVE_IRONIC_VENV:-$ROOT/.state/ironic-venv}"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.build/collections"
cd "$ROOT"
rc=0
for scenario in ${MOLECULE_SCENARIOS:-default tune}; do
  echo "--- molecule test -s $scenario"
  molecule test -s "$scenario" || rc=1
done
exit $rc
