#!/usr/bin/env bash
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
# Benchmarks (`make benchmark`): print ratios, assert nothing about time.
#   bash tests/benchmarks/run.sh [--case small|large|all|nova]     (default: small)
# 1. strategy overhead of the wave strategy (5,000 local no-op hosts);
# 2. deployment on a real local Ironic (port 6440): our waves vs serial/free+throttle/host_pinned
#    with openstack.cloud; table also in reports/benchmark-deploy.json.
# --case nova runs only the Nova benchmark (tests/benchmarks/nova_founding.py, docs/benchmarks-nova.md):
#    10 servers on exactly 10 nodes through a real local Nova, openstack.cloud all at once / with
#    max_concurrent_builds 2 / ours; reports/benchmark-nova.{json,md}.
set -euo pipefail
cd "$(dirname "$0")/../.."
CASE=small
while [ $# -gt 0 ]; do
  case "$1" in
    --case) CASE="${2:?--case needs small, large, all or nova}"; shift 2 ;;
    --case=*) CASE="${1#--case=}"; shift ;;
    *) echo "usage: $0 [--case small|large|all|nova]" >&2; exit 2 ;;
  esac
done
case "$CASE" in small|large|all|nova) ;; *) echo "--case must be small, large, all or nova" >&2; exit 2 ;; esac
PY=.venv/bin/python
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
echo "== load average: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cpus)"
if [ "$CASE" = nova ]; then
  echo "== Nova founding scenario: openstack.cloud all at once / throttled / ours"
  exec "$PY" tests/benchmarks/nova_founding.py
fi
echo "== strategy overhead"
"$PY" tests/benchmarks/strategy_overhead.py
echo "== deployment waves (case $CASE)"
"$PY" tests/benchmarks/deploy_waves.py --case "$CASE"
