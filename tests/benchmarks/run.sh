#!/usr/bin/env bash
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
# Benchmarks (`make benchmark`): print ratios, assert nothing about time.
#   bash tests/benchmarks/run.sh [--case small|large|all|nova|scale]     (default: small)
# 1. strategy overhead: linear vs wave (each with and without the wave_report callback), host_pinned,
#    free on 5,000 local no-op hosts: ms/host, extra ms/host over linear, peak RSS;
# 2. deployment on a real local Ironic (port 6440): our waves vs serial/free+throttle/host_pinned
#    with openstack.cloud; table also in reports/benchmark-deploy.json.
# --case nova runs only the Nova benchmark (tests/benchmarks/nova_founding.py, docs/benchmarks-nova.md):
#    10 servers on exactly 10 nodes through a real local Nova, openstack.cloud all at once / with
#    max_concurrent_builds 2 / ours; reports/benchmark-nova.{json,md}.
# --case scale runs the strategy overhead (median of 3; reports/benchmark-strategy.json) and the fleet scale
#    benchmark (tests/benchmarks/fleet_scale.py, docs/benchmarks-scale.md): 1,000 nodes in a local
#    Ironic (port 38560) read by the inventory plugin and the audit; reports/benchmark-scale.json.
#    `all` runs it too, after the deployment benchmark.
set -euo pipefail
cd "$(dirname "$0")/../.."
CASE=small
while [ $# -gt 0 ]; do
  case "$1" in
    --case) CASE="${2:?--case needs small, large, all, nova or scale}"; shift 2 ;;
    --case=*) CASE="${1#--case=}"; shift ;;
    *) echo "usage: $0 [--case small|large|all|nova|scale]" >&2; exit 2 ;;
  esac
done
case "$CASE" in small|large|all|nova|scale) ;; *) echo "--case must be small, large, all, nova or scale" >&2; exit 2 ;; esac
PY=.venv/bin/python
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
echo "== load average: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cpus)"
if [ "$CASE" = nova ]; then
  echo "== Nova founding scenario: openstack.cloud all at once / throttled / ours"
  exec "$PY" tests/benchmarks/nova_founding.py
fi
echo "== strategy overhead"
# scale: three rounds (median) for the table in docs/benchmarks-scale.md; otherwise one.
"$PY" tests/benchmarks/strategy_overhead.py --json reports/benchmark-strategy.json \
  --repeat "$([ "$CASE" = scale ] && echo 3 || echo 1)"
if [ "$CASE" != scale ]; then
  echo "== deployment waves (case $CASE)"
  "$PY" tests/benchmarks/deploy_waves.py --case "$CASE"
fi
if [ "$CASE" = scale ] || [ "$CASE" = all ]; then
  echo "== fleet scale: 1,000-node local Ironic through the inventory plugin and the audit"
  "$PY" tests/benchmarks/fleet_scale.py
fi
