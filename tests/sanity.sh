#!/usr/bin/env bash
# ansible-test sanity, offline: run from a temporary ansible_collections/ironwave/baremetal copy of
# the tracked tree. ansible-test bootstraps pip in its per-test venvs with a downloaded get-pip.py;
# we seed its cache with tests/sanity/get_pip_offline.py (ensurepip + the configured package index).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV_BIN="$ROOT/.venv/bin"
PIP_VERSION="$(sed -n 's/^pip==\([0-9.]*\).*/\1/p' "$("$VENV_BIN/python" -c 'import ansible_test,os;print(os.path.dirname(ansible_test.__file__))')/_data/requirements/ansible-test.txt" | head -1)"
PIP_VERSION="${PIP_VERSION:-24.2}"
CACHE="$HOME/.ansible/test/cache"
mkdir -p "$CACHE"
# The outer pip settings (index, certificates) as a pip.conf for ansible-test's venvs.
"$VENV_BIN/python" -m pip config list 2>/dev/null | "$VENV_BIN/python" -c '
import sys
settings = {}
for line in sys.stdin:
    key, _, value = line.strip().partition("=")
    section, _, name = key.partition(".")
    if section in ("global", "install", ":env:") and name:
        settings[name] = value.strip(chr(39))
print("[global]")
for name, value in settings.items():
    print(f"{name} = {value}")
' > "$CACHE/ironwave-pip.conf"
cp "$ROOT/tests/sanity/get_pip_offline.py" "$CACHE/get_pip_${PIP_VERSION//./_}.py"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
DEST="$WORK/ansible_collections/ironwave/baremetal"
mkdir -p "$DEST"
cd "$ROOT"
git ls-files -co --exclude-standard | while read -r f; do [ -e "$f" ] && printf '%s\n' "$f"; done \
  | tar -cf - -T - | tar -xf - -C "$DEST"
cd "$DEST"
# The committed tests/sanity/ignore-<core minor>.txt is used as it is (the collection is Apache-2.0,
# not GPLv3: it lists validate-modules:missing-gplv3-license per plugin). A new plugin needs its line.
CORE_MINOR="$("$VENV_BIN/python" -c 'import ansible.release as r; print(".".join(r.__version__.split(".")[:2]))')"
if [ ! -e "tests/sanity/ignore-${CORE_MINOR}.txt" ]; then
  echo "tests/sanity/ignore-${CORE_MINOR}.txt is missing: copy the ignore file of the previous ansible-core minor" >&2
  exit 1
fi
git init -q && git add -A >/dev/null 2>&1 || true
"$VENV_BIN/ansible-test" sanity --local --python 3.11 "$@"
