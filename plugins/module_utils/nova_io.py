# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The I/O of the Nova path, for nova_build.py and the nova_* modules (decisions are elsewhere).

One object bundles the clients (compute, Placement, image, Ironic) and the controller-wide shared
listings: every host of a run that waits for its server reads one `GET /servers/detail?tags=<tag>`
and one Ironic node listing per tick, whoever makes them (poll_cache.SharedListing).

Pick markers live in Ironic node `extra` as flat keys `ironwave_pick_<key>` (one key per server
name): adding or removing one never touches another picker's key and needs no parent object, so a
JSON patch never races with a concurrent picker's (Ironic's PATCH has no `test` op). A picker owns
the node when, after a settle delay, its key is the only live one (nova_build decides).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from ansible_collections.ironwave.baremetal.plugins.module_utils.nova_client import (
    ImageApi, NovaApi, PlacementApi)
from ansible_collections.ironwave.baremetal.plugins.module_utils.poll_cache import SharedListing, cache_key

PICK_KEY = "ironwave_pick"
PICK_PREFIX = PICK_KEY + "_"   # Ironic patch paths allow only [\w-] in a segment
PICK_FIELDS = ("uuid", "name", "resource_class", "provision_state", "maintenance", "instance_uuid",
               "conductor_group", "extra", "updated_at", "last_error", "power_state")
WAIT_FIELDS = ("uuid", "name", "provision_state", "instance_uuid", "maintenance", "last_error", "power_state",
               "provision_updated_at")   # dates the node's states in nova_server's `phases`


@dataclass
class PickView:
    nodes: list[dict]
    free_providers: set[str]
    providers: set[str]
    hypervisors: list[dict]
    ironic_now: str | None     # HTTP Date of the node listing: Ironic's clock


class NovaIO:
    _ages: dict[str, float] | None = None   # seconds since each shared listing was made, as last read

    def __init__(self, conn, ironic, ident: str, outage_budget: float, tag: str,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        kwargs = {"outage_budget": outage_budget, "clock": clock, "sleep": sleep}
        self.nova = NovaApi(conn, **kwargs)
        self.placement = PlacementApi(conn, **kwargs)
        self.images = ImageApi(conn, **kwargs)
        self.ironic = ironic
        self.ident, self.tag = ident, tag
        self.clock, self.sleep = clock, sleep

    # -- request counts (benchmarks: API requests per server) -----------------------------
    def counts(self) -> dict[str, int]:
        return {"compute": self.nova.api.requests, "placement": self.placement.api.requests,
                "image": self.images.api.requests, "ironic": self.ironic.requests}

    # -- picking --------------------------------------------------------------------------
    def pick_view(self, resource_class: str) -> PickView:
        # /nodes/detail: `updated_at` (the marker's age) cannot be asked for with fields=.
        nodes = self.ironic.list("/nodes/detail", "nodes", keep=PICK_FIELDS)
        now = self.ironic.last_date
        free = {p["uuid"] for p in self.placement.providers(f"{resource_class}:1")}
        every = {p["uuid"] for p in self.placement.providers()}
        return PickView(nodes, free, every, self.nova.hypervisors(), now)

    def read_node(self, uuid: str) -> tuple[dict | None, str | None]:
        node = self.ironic.get_node(uuid)
        return node, self.ironic.last_date

    def write_marker(self, uuid: str, key: str, marker: dict) -> None:
        self.ironic.patch_node(uuid, [{"op": "add", "path": f"/extra/{_pointer(PICK_PREFIX + key)}",
                                       "value": marker}])

    def clear_marker(self, uuid: str, key: str) -> bool:
        """Remove our key. False when the node is in a state transition (Ironic refuses updates
        then) or gone; the key then dies with its ttl."""
        node, _unused = self.read_node(uuid)
        if PICK_PREFIX + key not in ((node or {}).get("extra") or {}):
            return True
        try:
            self.ironic.patch_node(uuid, [{"op": "remove", "path": f"/extra/{_pointer(PICK_PREFIX + key)}"}])
        except Exception:  # noqa: BLE001 - best effort: a leftover key expires on Ironic's clock
            return False
        return True

    # -- waiting (one shared listing per tick for every host of the controller) -----------
    def shared_servers(self, ttl: float) -> dict[str, dict]:
        listing = SharedListing(cache_key(self.ident, "nova-servers", self.tag), ttl=ttl)
        fetched = listing.get(lambda: self.nova.servers(tags=self.tag))
        self._ages = {**(self._ages or {}), "servers": fetched.age}
        return {s["id"]: s for s in fetched.data}

    def shared_nodes(self, ttl: float) -> dict[str, dict]:
        listing = SharedListing(cache_key(self.ident, "nova-nodes", WAIT_FIELDS), ttl=ttl)
        fetched = listing.get(lambda: self.ironic.list_nodes(WAIT_FIELDS))
        self._ages = {**(self._ages or {}), "nodes": fetched.age}
        return {n["uuid"]: n for n in fetched.data}

    def listing_age(self, which: str) -> float:
        """How old the copy the last shared_servers ("servers") or shared_nodes ("nodes") returned
        was when read (0 when not known), so a state seen in it is dated when it was listed."""
        return (self._ages or {}).get(which, 0.0)


def picks(extra: dict | None) -> dict[str, object]:
    """{key: marker} of every pick key in a node's extra."""
    return {k[len(PICK_PREFIX):]: v for k, v in (extra or {}).items() if str(k).startswith(PICK_PREFIX)}


def _pointer(key: str) -> str:
    """A JSON pointer segment (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")
