# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Ironic reads/writes shared by the node lifecycle modules (adapter code, no decisions).

Every request goes through the module's IronicClient (ironic_client.py: one retry policy by
cause, the outage budget, 503s counted) and uses the raw API with `fields=` so a bulk listing
stays small. Listings come from the controller-wide SharedListing cache: many hosts, one
request per tick.
"""
from __future__ import annotations

import time
from typing import Any

from ansible_collections.ironwave.baremetal.plugins.module_utils.association import (
    AssociationResult, Expectation, NodeView, classify_association)
from ansible_collections.ironwave.baremetal.plugins.module_utils.candidates import NODE_FIELDS
from ansible_collections.ironwave.baremetal.plugins.module_utils.ironic_client import (
    ALLOCATION_KEYS, DEFAULT_MICROVERSION, NODE_VIEW_FIELDS)  # noqa: F401 - re-exported
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import cloud_identity
from ansible_collections.ironwave.baremetal.plugins.module_utils.poll_cache import (
    ClaimBoard, Fetched, Pacer, SharedListing, cache_key)

MICROVERSION = DEFAULT_MICROVERSION
# provision_updated_at: Ironic's time of the last state change, which node_deploy reports as the
# time of each phase (fields= accepts it at every microversion). extra: the slot markers, so that
# node_deploy's busy_board cloud counts from this same listing (one stream per controller).
LISTING_FIELDS = tuple(dict.fromkeys(NODE_FIELDS + NODE_VIEW_FIELDS + ("provision_updated_at", "extra")))


class Ops:
    def __init__(self, module) -> None:
        self.m = module          # an IronwaveModule
        self._ident = None
        module.t0 = time.monotonic()

    # -- raw requests -------------------------------------------------------------------
    @property
    def client(self):
        return self.m.client

    def request(self, method: str, path: str, deadline: float = 120.0, microversion: str | None = None,
                **kwargs: Any) -> Any:
        """One request through the client (kwargs: json, params, resend, reconcile)."""
        return self.m.client.request(method, path, deadline=deadline, microversion=microversion, **kwargs)

    def _list(self, path: str, key: str, fields: tuple[str, ...] = (), keep: tuple[str, ...] = ()) -> list[dict]:
        return self.m.client.list(path, key, fields, keep)

    def get_node(self, ident: str) -> dict | None:
        """The whole node (see NODE_VIEW_FIELDS for why no fields= here)."""
        return self.m.client.get_node(ident)

    def get_allocation(self, ident: str) -> dict | None:
        return self.m.client.get_allocation(ident)

    # -- shared listings ----------------------------------------------------------------
    @property
    def ident(self) -> str:
        if self._ident is None:
            self._ident = cloud_identity(self.m.params, self.m.conn)
        return self._ident

    def shared(self, what: str, ttl: float) -> SharedListing:
        return SharedListing(cache_key(self.ident, what), ttl=ttl)

    def node_listing(self, ttl: float) -> SharedListing:
        return self.shared("nodes:" + ",".join(LISTING_FIELDS), ttl)

    def shared_nodes_fetched(self, ttl: float = 2.0, max_age: float | None = None,
                             newer_than: float | None = None) -> Fetched:
        """All nodes (LISTING_FIELDS) from the shared cache, with the copy's age."""
        return self.node_listing(ttl).get(lambda: self._list("/nodes", "nodes", LISTING_FIELDS),
                                          max_age=max_age, newer_than=newer_than)

    def shared_nodes(self, ttl: float = 2.0, max_age: float | None = None,
                     newer_than: float | None = None) -> list[dict]:
        """All nodes (LISTING_FIELDS), from the shared cache. `newer_than` is a time.time() value."""
        return self.shared_nodes_fetched(ttl, max_age, newer_than).data

    def shared_failed_allocations(self, ttl: float = 1.0, newer_than: float | None = None) -> dict[str, dict]:
        """Allocations in state `error`, by UUID, from the shared cache. A failed allocation does
        not show in the node listing; this small listing tells every waiting host at once, instead
        of one GET per allocation per tick."""
        rows = self.shared("allocations:error", ttl).get(
            lambda: self._list("/allocations?state=error", "allocations", keep=ALLOCATION_KEYS),
            newer_than=newer_than).data
        return {r["uuid"]: r for r in rows}

    def claims(self, ttl: float) -> ClaimBoard:
        return ClaimBoard(cache_key(self.ident, "claims"), ttl=ttl)

    def pacer(self, what: str, spacing: float) -> Pacer:
        return Pacer(cache_key(self.ident, "pace:" + what), spacing)

    # -- association ------------------------------------------------------------------------
    def view(self, node: dict, expected: Expectation) -> NodeView:
        """A NodeView; fetch the allocation only when a name must be compared with it.

        Listings carry no allocation_uuid (see NODE_VIEW_FIELDS), but Ironic gives an allocated
        node instance_uuid == allocation UUID, so the allocation is looked up by that.
        """
        alloc, found = None, None
        alloc_id = node.get("allocation_uuid")
        if expected.instance_name and not expected.instance_uuid and (alloc_id or node.get("instance_uuid")):
            alloc = self.get_allocation(alloc_id or node["instance_uuid"])
            if alloc_id:
                found = alloc is not None
            elif alloc is not None and alloc.get("node_uuid") == node.get("uuid"):
                node = {**node, "allocation_uuid": alloc["uuid"]}
                found = True
            else:
                alloc = None  # instance_uuid set directly (Nova-style), no allocation behind it
        return NodeView.from_mapping(node, allocation=alloc, allocation_found=found)

    def classify(self, node: dict, expected: Expectation) -> AssociationResult:
        return classify_association(self.view(node, expected), expected)


def wait_for_states(ops: Ops, node_uuids: list[str], targets: set[str], timeout: float,
                    interval: float = 2.0, fail_states: frozenset = frozenset(),
                    sleep=time.sleep, clock=time.monotonic) -> tuple[dict, bool]:
    """Poll the shared node listing until every node is in `targets` or a fail state, or timeout.
    Any shared copy younger than `interval` counts: the callers' targets (active after a deploy,
    available after a teardown) cannot be met by a copy from before their own request.
    Returns ({uuid: node dict or None}, timed_out)."""
    start = clock()
    wanted = set(node_uuids)
    while True:
        nodes = {n["uuid"]: n for n in ops.shared_nodes(ttl=interval) if n["uuid"] in wanted}
        done = all(u in nodes and (nodes[u].get("provision_state") in targets and
                                   not nodes[u].get("target_provision_state")
                                   or nodes[u].get("provision_state") in fail_states)
                   for u in wanted)
        if done:
            return {u: nodes.get(u) for u in node_uuids}, False
        if clock() - start > timeout:
            return {u: nodes.get(u) for u in node_uuids}, True
        # Join the next shared tick (whoever is first makes the request; the others read its copy).
        sleep(max(0.05, ops.node_listing(interval).next_tick_in()) + 0.02)


def expectation(params: dict) -> Expectation:
    return Expectation(instance_name=params.get("instance_name") or None,
                       instance_uuid=params.get("instance_uuid") or None)


def association_error(result: AssociationResult, action: str) -> str:
    """One line for a refused action: node, expected instance, actual owner, why."""
    return f"refusing to {action}: {result.message} [{result.verdict}]"


def node_summary(node: dict | None) -> dict | None:
    if node is None:
        return None
    return {k: node.get(k) for k in NODE_VIEW_FIELDS if k in node}
