# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Watch a pool of nodes on the real Ironic and count what the cloud-counted limit (wave_slot)
promises, independently of the collection's code: one bulk GET per sample; busy provision states
plus nodes whose `extra.ironwave_slot` marker is in phase `held` while the node is still in the state
it was announced from. No marker time is trusted (nothing compares a writer's clock), so a lapsed
held marker still counts here: a test that lets markers lapse must say so. Claims (node_deploy's
cloud gate: phase `choosing`, written before the count is verified, withdrawn by a host that
collided) are granted nothing and are counted apart."""
from __future__ import annotations

import json
import threading
import time
import urllib.request

from ansible_collections.ironwave.baremetal.plugins.module_utils import ironic_states
from ironwave_testlib.nodes import make_available

BUSY = ironic_states.BUSY
MARKER = "ironwave_slot"


def in_phase(row: dict, phase: str) -> bool:
    """The node carries a marker in `phase`, written in the state the node is still in."""
    marker = (row.get("extra") or {}).get(MARKER)
    return (isinstance(marker, dict) and marker.get("phase") == phase
            and marker.get("from_state") == row.get("provision_state")
            and marker.get("since") in (None, row.get("provision_updated_at")))


def held(row: dict) -> bool:
    return in_phase(row, "held")


class Sampler(threading.Thread):
    """samples: (t, busy, held, total); claims: (t, claims) - markers in phase `choosing` on
    nodes not busy; changes: [(t, node, marker or None)] whenever a marker's content changed
    between two samples."""

    def __init__(self, endpoint: str, pool: set[str], period: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.url = f"{endpoint}/v1/nodes?fields=uuid,provision_state,provision_updated_at,extra"
        self.pool, self.period = pool, period
        self.stop_event = threading.Event()
        self.samples: list[tuple[float, int, int, int]] = []
        self.claims: list[tuple[float, int]] = []
        self.changes: list[tuple[float, str, dict | None]] = []
        self.run_ids: set[str] = set()
        self.errors: list[str] = []
        self._last: dict[str, str] = {}

    def read(self) -> list[dict]:
        req = urllib.request.Request(self.url, headers={"X-OpenStack-Ironic-API-Version": "1.52"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            return [r for r in json.load(resp)["nodes"] if r["uuid"] in self.pool]

    def sample(self) -> None:
        rows = self.read()
        now = time.time()
        busy = sum(1 for r in rows if r["provision_state"] in BUSY)
        held_n = sum(1 for r in rows if r["provision_state"] not in BUSY and held(r))
        for r in rows:
            marker = (r.get("extra") or {}).get(MARKER)
            if isinstance(marker, dict) and marker.get("run_id"):
                self.run_ids.add(marker["run_id"])
            text = json.dumps(marker, sort_keys=True)
            if self._last.get(r["uuid"]) != text:
                self._last[r["uuid"]] = text
                self.changes.append((now, r["uuid"], marker))
        self.samples.append((now, busy, held_n, busy + held_n))
        self.claims.append((now, sum(1 for r in rows if r["provision_state"] not in BUSY and in_phase(r, "choosing"))))

    def run(self) -> None:
        while not self.stop_event.is_set():
            started = time.monotonic()
            try:
                self.sample()
            except Exception as exc:  # noqa: BLE001 - reported by the test
                self.errors.append(repr(exc))
            self.stop_event.wait(max(0.0, self.period - (time.monotonic() - started)))

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=10)

    @property
    def rate(self) -> float:
        span = self.samples[-1][0] - self.samples[0][0]
        return (len(self.samples) - 1) / span if span > 0 else 0.0

    def max_of(self, index: int) -> int:
        return max(s[index] for s in self.samples)

    def over(self, limit: int) -> list[tuple]:
        return [s for s in self.samples if s[3] > limit]


def make_pool(conn, prefix: str, count: int) -> list:
    """`count` available fake-hardware nodes with a power state (allocations need one)."""
    return make_available(conn, [f"{prefix}-{i:02d}" for i in range(count)],
                          node_fields=lambda i: {"resource_class": prefix})
