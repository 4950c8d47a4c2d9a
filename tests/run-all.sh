#!/usr/bin/env bash
# Every test, in order of speed. Runs all steps, prints a summary, exits non-zero if any failed
# (pytest's "no tests collected", exit 5, counts as a failure).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
BIN="$ROOT/.venv/bin"
export ANSIBLE_CONFIG="$ROOT/ansible.cfg" ANSIBLE_NOCOLOR=1 PY_COLORS=0
declare -a NAMES=() RESULTS=() TIMES=()

step() {
  local name="$1"; shift
  echo "=== [$name] $*"
  local start=$SECONDS
  "$@"
  local rc=$?
  NAMES+=("$name"); RESULTS+=("$rc"); TIMES+=("$((SECONDS - start))")
  echo "=== [$name] exit $rc in $((SECONDS - start)) s"
}

# ansible-core 2.16 next to the pinned 2.19: the wave strategy's integration tests run on both.
CORE216="$ROOT/.state/venv-core216"
if [ ! -x "$CORE216/bin/ansible-playbook" ]; then
  python3 -m venv "$CORE216" && "$CORE216/bin/pip" install -q --disable-pip-version-check -r requirements/core216.txt
fi
export IRONWAVE_EXTRA_ANSIBLE_PLAYBOOK="$CORE216/bin/ansible-playbook"

# libfaketime for the clock-skew test (a run 40 s ahead): the Debian package, when root may install it.
if ! command -v faketime >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q faketime >/dev/null 2>&1 \
    || echo "faketime could not be installed: the clock-skew integration test will be skipped"
fi

# Headless Chromium renders the HTML wave report to a PNG (tests/integration/test_html_report.py): the
# Debian package, when root may install it (the test is skipped only when chromium is absent and not root).
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
    || echo "chromium could not be installed: the HTML report rendering test will fail"
fi

step units       "$BIN/pytest" -q -p no:cacheprovider tests/unit
step sanity      bash tests/sanity.sh
step lint        "$BIN/ansible-lint" --profile production --offline
step integration "$BIN/pytest" -q -p no:cacheprovider --durations=30 tests/integration
# The Nova path on a real local Nova (installs MariaDB/RabbitMQ and the Nova venv on first use).
step nova        "$BIN/pytest" -q -p no:cacheprovider --durations=20 tests/nova
step molecule    bash tests/molecule.sh

echo
echo "step         result  seconds"
failed=0
for i in "${!NAMES[@]}"; do
  status=ok; [ "${RESULTS[$i]}" != 0 ] && { status="FAIL(${RESULTS[$i]})"; failed=1; }
  printf '%-12s %-7s %5s\n' "${NAMES[$i]}" "$status" "${TIMES[$i]}"
done
exit $failed
