# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The Ironic side of deploy_flow.DeployFlow (I/O only, no decisions), on the lifecycle ops
facade (lifecycle_ops.Ops) and its client."""
from __future__ import annotations

import os
import time
from typing import Any, Callable, Mapping

from ansible_collections.ironwave.baremetal.plugins.module_utils.poll_cache import (
    AdmissionBoard, Fetched, SharedListing, cache_key, endpoint_identity, process_alive)
from ansible_collections.ironwave.baremetal.plugins.module_utils.run_control import process_start
from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_proc
from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_timing import SlotTiming

# The server's maximum microversion changes only with an upgrade: read it once per 10 minutes per
# controller (GET /v1), and only when a request needs more than the default.
VERSION_TTL = 600.0


class DeployIO:
    def __init__(self, ops, guard=None) -> None:
        self.ops = ops
        self.guard = guard
        pid = os.getpid()
        self.me = (pid, process_start(pid))
        self.alive: Callable[[int, str], bool] = process_alive

    @property
    def endpoint(self) -> str:
        return self.ops.client.endpoint

    def node(self, ident: str) -> dict | None:
        return self.ops.get_node(ident)

    def listing(self, ttl: float, max_age: float | None = None, newer_than: float | None = None) -> Fetched:
        return self.ops.shared_nodes_fetched(ttl=ttl, max_age=max_age, newer_than=newer_than)

    def tick_in(self, ttl: float) -> float:
        return self.ops.node_listing(ttl).next_tick_in()

    def classify(self, node: Mapping, expected):
        return self.ops.classify(dict(node), expected)

    def board(self) -> AdmissionBoard:
        return AdmissionBoard.for_endpoint(self.endpoint)

    def slot_store(self, poll_interval: float, ttl: float):
        """The slot markers' store (shared listing + observation board of this controller)."""
        from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_store import IronicSlotStore

        def source(newer_than: float | None, max_age: float | None) -> Fetched:
            # The node listing every module of this controller shares (it carries `extra`).
            wall = None if newer_than is None else time.time() - max(0.0, time.monotonic() - newer_than)
            return self.listing(poll_interval, max_age=max_age, newer_than=wall)
        return IronicSlotStore(self.ops.request, self.ops.ident, poll_interval, SlotTiming(ttl), source=source)

    def claims(self, ttl: float):
        """The controller's claim board (node_reserve's): hosts reserving at admission pick different nodes."""
        return self.ops.claims(ttl)

    def run_proc(self):
        return slot_proc.run_proc(self.guard) if self.guard is not None else None

    def patch_node(self, uuid: str, patch: list) -> None:
        self.ops.client.patch_node(uuid, patch)

    def set_traits(self, uuid: str, traits: list) -> None:
        self.ops.client.set_traits(uuid, traits)

    def deploy(self, uuid: str, body: dict, microversion: str, deadline: float,
               reconcile: Callable[[], Any]) -> None:
        extra = {k: v for k, v in body.items() if k != "target"}
        self.ops.client.set_provision_state(uuid, body["target"], reconcile=reconcile, deadline=deadline,
                                            microversion=microversion, **extra)

    def server_version(self) -> str | None:
        """The highest bare metal API microversion the server offers (GET /v1 `version.version`),
        from the controller-wide cache."""
        cache = SharedListing(cache_key("api-version", endpoint_identity(self.endpoint)), ttl=VERSION_TTL)

        def fetch():
            body = self.ops.client.request("GET", "") or {}
            version = body.get("version") or {}
            return version.get("version") if isinstance(version, dict) else None
        return cache.get(fetch).data
