# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""One server built through Nova, pinned to a node this run picked (the flow of nova_server).

1. Look the server up by name: ACTIVE -> cross-check only (idempotent rerun); BUILD -> wait for it;
   ERROR -> handled as a failed build below.
2. Pick a node (pinned mode): the usable nodes (nova_capacity) minus those another (run, host) holds
   a live pick marker on, ranked for this host (nova_pick); write our marker, wait `settle`, read
   the node back: ours when our key is its only live marker, else drop it and pick again. Markers
   do not associate the node (Nova refuses a node with an instance_uuid) and die on Ironic's clock.
3. Create the server with `hypervisor_hostname` = node UUID (compute API 2.74, admin): the
   scheduler only validates that node and Placement's claim on its provider is atomic, so no two
   builds ever compete for one node.
4. Wait on the shared listings (one server listing and one Ironic listing per tick for every host).
5. ERROR: classify the fault (nova_faults). A race (NodeAssociated, NodeLocked, reschedules
   exhausted, node not available) -> delete the server, wait until its node is clean, pick again
   and build again, at most `max_rebuilds` times. No valid host -> build again only if a fresh
   capacity check still shows a usable node. Anything else fails the host.
6. ACTIVE -> cross-check server <-> node <-> allocation (nova_crosscheck); a violation fails the host.
Along the way `phases` (nova_phases.BuildPhases) records each node picked, each create request
Nova accepted, and the server's and its node's states as the shared listings showed them.
Takes the I/O object, the clock and the sleep, so unit tests drive it with fakes.
"""
from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_build_rules as rules
from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_capacity, nova_crosscheck, nova_faults
from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_phases, nova_pick
from ansible_collections.ironwave.baremetal.plugins.module_utils.nova_io import PICK_KEY, picks

HYPERVISOR = "OS-EXT-SRV-ATTR:hypervisor_hostname"
TEARDOWN_STATES = ("deleting", "cleaning", "clean wait")


@dataclass(frozen=True)
class BuildRequest:
    name: str
    flavor: str
    image: str
    host: str
    run_id: str
    node: str | None = None
    pin: bool = True
    key_name: str | None = None
    networks: Any = "none"
    user_data: str | None = None
    metadata: dict = field(default_factory=dict)
    availability_zone: str | None = None
    tag: str = "ironwave"
    max_rebuilds: int = 2
    timeout: float = 1800.0
    clean_timeout: float = 900.0
    poll_interval: float = 2.0
    settle: float = 1.0
    pick_ttl: float = 1800.0
    # A node just cleaned is available in Ironic before nova-compute's next resource update frees
    # its Placement provider (periodic, 60 s by default): wait that long for such nodes.
    placement_wait: float = 90.0
    wait: bool = True

    @classmethod
    def from_params(cls, p: dict, guard=None) -> "BuildRequest":
        """From nova_server's parameters; BadInput names the field and the fix."""
        for name in ("max_rebuilds", "timeout", "poll_interval", "settle", "pick_ttl", "placement_wait"):
            if p.get(name) is not None and p[name] < 0:
                raise errors.BadInput(f"{name}: must be >= 0, got {p[name]}")
        if p["poll_interval"] <= 0:
            raise errors.BadInput(f"poll_interval: must be > 0 seconds, got {p['poll_interval']}")
        networks = p.get("networks")
        if not (networks in ("none", "auto") or isinstance(networks, list)):
            raise errors.BadInput(f"networks: {networks!r} is neither 'none', 'auto' nor a list of "
                                  "{uuid|port|fixed_ip} dicts")
        run_id = p.get("run_id") or (f"{guard.pid}-{guard.start}" if guard is not None and guard.pid else
                                     uuid.uuid4().hex)
        return cls(name=p["name"], flavor=p["flavor"], image=p.get("image") or "", host=p.get("host") or p["name"],
                   run_id=run_id, node=p.get("node"), pin=p["pin"], key_name=p.get("key_name"),
                   networks=networks, user_data=p.get("user_data"), metadata=p.get("metadata") or {},
                   availability_zone=p.get("availability_zone"), tag=p["tag"], max_rebuilds=p["max_rebuilds"],
                   timeout=float(p["timeout"]), poll_interval=float(p["poll_interval"]),
                   settle=float(p["settle"]), pick_ttl=float(p["pick_ttl"]),
                   placement_wait=float(p.get("placement_wait", 90.0)), wait=p["wait"])

    @property
    def marker_key(self) -> str:
        """One key per server name (unique on the cloud: duplicates are refused), so a rerun of the
        same host, under a new run id, finds its own marker instead of a stranger's."""
        return hashlib.sha256(self.name.encode()).hexdigest()[:16]

    def marker(self, at: str | None = None) -> dict:
        return nova_pick.make_marker(self.run_id, self.host, self.name, at)


@dataclass
class Outcome:
    changed: bool = False
    server: dict | None = None
    node: str | None = None
    rebuilds: int = 0
    faults: list[dict] = field(default_factory=list)
    crosscheck: dict = field(default_factory=dict)
    picks: list[str] = field(default_factory=list)
    waited: float = 0.0
    timeline: nova_phases.BuildPhases = field(default_factory=nova_phases.BuildPhases)

    @property
    def phases(self) -> list[dict]:
        """The phases so far (empty until a node was picked or a server waited for)."""
        return self.timeline.as_list()

    def as_result(self) -> dict:
        s = self.server or {}
        return {"changed": self.changed, "node": self.node, "rebuilds": self.rebuilds, "faults": self.faults,
                "crosscheck": self.crosscheck, "picked": self.picks, "waited": round(self.waited, 1),
                "phases": self.phases,
                "server": {"id": s.get("id"), "name": s.get("name"), "status": s.get("status"),
                           "node": s.get(HYPERVISOR), "compute_host": s.get("OS-EXT-SRV-ATTR:host")}}


class ServerBuild:
    def __init__(self, io, req: BuildRequest, check_mode: bool = False,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 wall: Callable[[], float] = time.time) -> None:
        self.io, self.req, self.check_mode = io, req, check_mode
        self.clock, self.sleep, self.wall = clock, sleep, wall   # wall: epoch seconds, for `phases`
        self.out = Outcome()
        self._rc: str | None = None
        self._flavor: dict | None = None
        # Nodes a build of this server failed on: picked again only when no other node is usable.
        self._failed_nodes: set[str] = set()

    # -- entry -------------------------------------------------------------------------------
    def run(self) -> Outcome:
        req = self.req
        existing = self.io.nova.server_named(req.name)
        if len(existing) > 1:
            raise errors.BadInput(f"name: {len(existing)} servers are named {req.name!r} "
                                  f"({', '.join(s['id'] for s in existing)}); delete the extra ones first")
        server = existing[0] if existing else None
        if server and server.get("status") == "ACTIVE":
            self.out.server, self.out.node = server, server.get(HYPERVISOR)
            self._verify(server)
            if self.out.node and not self.check_mode:
                self.io.clear_marker(self.out.node, req.marker_key)   # left by a killed run, if any
            return self.out
        self._resource_class()
        if self.check_mode:
            self.out.changed = True
            self.out.node = req.node if server is None else server.get(HYPERVISOR)
            return self.out
        started = self.clock()
        if server is not None:
            self.out.timeline.resumed(self.wall())
        try:
            self._converge(server)
        finally:
            self.out.waited = self.clock() - started
            for uuid in dict.fromkeys(self.out.picks):
                self.io.clear_marker(uuid, req.marker_key)
        return self.out

    def pick_only(self) -> Outcome:
        """Pick and mark a node without building (the node is then handed to a cloud-counted slot
        before the build). An existing server keeps its node; nothing is marked."""
        existing = self.io.nova.server_named(self.req.name)
        if existing:
            self.out.server, self.out.node = existing[0], existing[0].get(HYPERVISOR)
            return self.out
        self._resource_class()
        if self.check_mode:
            cap = self.capacity()
            self.out.node = nova_pick.choose(self.req.host, list(cap.usable), set())
            self.out.changed = True
            return self.out
        self.out.node = self._pick(first=self.req.node)
        self.out.changed = True
        return self.out

    def _converge(self, server: dict | None) -> None:
        req = self.req
        node = server.get(HYPERVISOR) if server else None
        attempt = 0
        # A server of ours already in ERROR when the task starts is a leftover of an interrupted
        # run (nova-compute restarted mid-build puts BUILDING instances in ERROR, with or without a
        # fault): a rerun means "converge", so it is rebuilt whatever its fault, within max_rebuilds.
        leftover = bool(server) and server.get("status") == "ERROR"
        while True:
            if server is None:
                if req.pin:
                    node = self._pick(first=req.node if attempt == 0 else None)
                asked = self.wall()
                server = self._create(node)
                self.out.timeline.requested(server["id"], asked)
                self.out.changed = True
            if not req.wait:
                self.out.server, self.out.node = server, node
                return
            progress = self._wait(server["id"], node if req.pin else None)
            server = progress.server or server
            if progress.outcome == rules.ACTIVE:
                self.out.server, self.out.node = server, server.get(HYPERVISOR)
                self._verify(server)
                return
            fault = progress.fault or nova_faults.classify(server.get("fault"), server.get("status", ""))
            node = node or server.get(HYPERVISOR)
            self.out.server, self.out.node = server, node
            self.out.faults.append({"kind": fault.kind, "message": fault.message, "node": node,
                                    "server": server.get("id")})
            if node:
                self._failed_nodes.add(node)
            if not (leftover and attempt < req.max_rebuilds) and not self._may_rebuild(attempt, fault):
                raise errors.DeploymentFailed(
                    f"server {req.name} ({server.get('id')}) failed to build on node {node}: {fault.kind}: "
                    f"{fault.message} [{fault.advice}]", kind=f"nova_{fault.kind}", **self.out.as_result())
            self._delete_and_wait_clean(server["id"], node)
            leftover = False
            attempt += 1
            self.out.rebuilds = attempt
            server = None

    # -- picking --------------------------------------------------------------------------
    def _resource_class(self) -> str:
        if self._rc is None:
            self._flavor = self.io.nova.find_flavor(self.req.flavor)
            self._rc = nova_capacity.flavor_resource_class(self._flavor["name"], self._flavor["extra_specs"])
        return self._rc

    def capacity(self):
        """Usable nodes now, with other (run, host) pairs' live markers taken out."""
        req = self.req
        view = self.io.pick_view(self._resource_class())
        live = {}
        for node in view.nodes:
            holder = self._other_live_marker(node, view.ironic_now)
            if holder is not None:
                live[node["uuid"]] = holder
        providers = [{"uuid": u, "name": u, "inventory": {"total": 1, "reserved": 0}, "used": 0 if u in
                      view.free_providers else 1} for u in view.providers]
        cap = nova_capacity.capacity(self._rc, providers, view.nodes, view.hypervisors,
                                     {u: {**m, "run": f"other:{m.get('run')}"} for u, m in live.items()},
                                     req.run_id)
        return cap

    def capacity_for(self, count: int):
        """capacity(), read again while it is short of `count` only because Placement still shows
        nodes that Ironic has free as full (bounded by placement_wait)."""
        deadline = self.clock() + self.req.placement_wait
        while True:
            cap = self.capacity()
            if (len(cap.usable) >= count or not cap.excluded.get(nova_capacity.PROVIDER_FULL)
                    or self.clock() >= deadline):
                return cap
            self.sleep(min(self.req.poll_interval * 2.5, max(0.0, deadline - self.clock())))

    def _pick(self, first: str | None = None) -> str:
        req = self.req
        tried: set[str] = set()
        lag_deadline: float | None = None
        attempt = 0
        while attempt < 8:
            cap = self.capacity()
            if first and first in cap.usable and first not in tried:
                choice = first
            else:
                choice = (nova_pick.choose(req.host, list(cap.usable), tried | self._failed_nodes)
                          or nova_pick.choose(req.host, list(cap.usable), tried))
            first = None
            if choice is None and cap.excluded.get(nova_capacity.PROVIDER_FULL):
                # Free in Ironic, full in Placement: usually a resource update still to come.
                lag_deadline = self.clock() + req.placement_wait if lag_deadline is None else lag_deadline
                if self.clock() < lag_deadline:
                    self.sleep(min(req.poll_interval * 2.5, max(0.0, lag_deadline - self.clock())))
                    continue
            attempt += 1
            if choice is None:
                nova_capacity.check_request(cap, 1, req.flavor)   # raises CapacityShort with the numbers
                raise errors.CapacityShort(f"no usable node left for {req.name} after {len(tried)} contested "
                                           "picks; other runs or hosts hold them")
            before, ironic_now = self.io.read_node(choice)
            if before is not None and self._other_live_markers(before, ironic_now):
                tried.add(choice)      # marked since our listing: leave it without writing
                continue
            marking = self.wall()
            self.io.write_marker(choice, req.marker_key, req.marker(ironic_now))
            self.out.picks.append(choice)
            self.sleep(req.settle)
            node, now = self.io.read_node(choice)
            # A build from outside (another operator) holds the provider before Ironic shows it.
            if node and self._owned(node, now) and not self.io.placement.provider_allocations(choice):
                self.out.timeline.reserved(node, True, marking, self.wall())
                return choice
            self.io.clear_marker(choice, req.marker_key)
            tried.add(choice)
        raise errors.CapacityShort(f"could not pick a node for {req.name}: 8 picks were contested by other "
                                   "hosts or runs; rerun, or lower the number of concurrent runs")

    def _other_live_markers(self, node: dict, ironic_now: str | None) -> dict[str, dict]:
        """Other servers' live pick markers on the node, by key. An entry we cannot read holds
        nothing: its age is unknown (any write to the node, ours included, refreshes updated_at),
        so counting it would keep the node out forever."""
        req, out = self.req, {}
        for key, marker in picks(node.get("extra")).items():
            parsed = nova_pick.parse_marker({PICK_KEY: marker})
            if key != req.marker_key and parsed is not None and nova_pick.marker_live(
                    parsed, node.get("updated_at"), ironic_now, req.pick_ttl, req.run_id):
                out[key] = parsed
        return out

    def _other_live_marker(self, node: dict, ironic_now: str | None) -> dict | None:
        live = self._other_live_markers(node, ironic_now)
        return live[min(live)] if live else None

    def _owned(self, node: dict, ironic_now: str | None) -> bool:
        """Ours when our key is there and is the lowest of the live keys. Pickers that wrote on one
        node at once all read the same keys and agree on one winner; backing off all of them
        instead made two pickers left with the same two nodes collide on both and give up."""
        req = self.req
        if node.get("instance_uuid") or node.get("provision_state") != "available" or node.get("maintenance"):
            return False
        if req.marker_key not in picks(node.get("extra")):
            return False
        return all(req.marker_key < key for key in self._other_live_markers(node, ironic_now))

    # -- building -------------------------------------------------------------------------
    def _create(self, node: str | None) -> dict:
        req = self.req
        body: dict[str, Any] = {"name": req.name, "flavorRef": self._flavor["id"],
                                "imageRef": self.io.images.resolve(req.image), "networks": req.networks,
                                "tags": [req.tag]}
        if node:
            body["hypervisor_hostname"] = node
        if req.key_name:
            body["key_name"] = req.key_name
        if req.user_data:
            body["user_data"] = base64.b64encode(req.user_data.encode()).decode()
        if req.metadata:
            body["metadata"] = {str(k): str(v) for k, v in req.metadata.items()}
        if req.availability_zone:
            body["availability_zone"] = req.availability_zone
        try:
            return self.io.nova.create_server(body)
        except errors.IronwaveError as exc:
            if getattr(exc, "ambiguous", False):
                found = self.io.nova.server_named(req.name)
                if len(found) == 1:
                    return found[0]
            raise

    def _wait(self, server_id: str, node: str | None) -> rules.Progress:
        req = self.req
        deadline = self.clock() + req.timeout
        while True:
            servers = self.io.shared_servers(req.poll_interval)
            servers_seen = self.wall() - self.io.listing_age("servers")
            nodes = self.io.shared_nodes(req.poll_interval)
            nodes_seen = self.wall() - self.io.listing_age("nodes")
            server = servers.get(server_id)
            if server is None:
                server = self.io.nova.get_server(server_id)   # not tagged yet or just created
                servers_seen = self.wall()
            target = node or (server or {}).get(HYPERVISOR)
            row = nodes.get(target) if target else None
            self.out.timeline.observe_server(server, servers_seen)
            self.out.timeline.observe_node(row, server_id, nodes_seen)
            progress = rules.progress(server, row, server_id, node)
            if progress.outcome != rules.BUILDING:
                return progress
            if self.clock() >= deadline:
                fault = nova_faults.BuildFault(kind="build_timeout", action="fail",
                                               message=f"still building after {req.timeout:.0f} s",
                                               advice="look at the server's instance actions and nova-compute's "
                                                      "log; raise timeout if builds are just slow")
                return rules.Progress(rules.ERROR, server, fault)
            self.sleep(req.poll_interval)

    def _may_rebuild(self, attempt: int, fault) -> bool:
        if not rules.retry_allowed(attempt, self.req.max_rebuilds, fault):
            return False
        if fault.action == "recheck_capacity":
            cap = self.capacity()
            if not cap.usable:
                nova_capacity.check_request(cap, 1, self.req.flavor)   # CapacityShort with the numbers
            return True
        return True

    def _delete_and_wait_clean(self, server_id: str, node: str | None) -> None:
        """Delete the failed server and wait until it is gone and its node (if it got one) is free."""
        self.io.nova.delete_server(server_id)
        deadline = self.clock() + self.req.clean_timeout
        while self.clock() < deadline:
            if self.io.nova.get_server(server_id) is None and (not node or self._node_released(node, server_id)):
                return
            self.sleep(self.req.poll_interval)
        raise errors.DeploymentFailed(f"server {server_id} or its node {node} was not cleaned up within "
                                      f"{self.req.clean_timeout:.0f} s after its failed build; look at the node's "
                                      "last_error", kind="nova_cleanup_timeout", **self.out.as_result())

    def _node_released(self, node: str, server_id: str) -> bool:
        """Our failed server no longer holds the node: it is available again, gone, or held by the
        build that won the race (we never held it) - not while it is being torn down for us."""
        n = self.io.read_node(node)[0]
        if n is None:
            return True
        state, holder = n.get("provision_state"), n.get("instance_uuid")
        if holder == server_id:
            return False
        if holder:
            return state not in TEARDOWN_STATES
        return state == "available"

    # -- verification ------------------------------------------------------------------------
    def _verify(self, server: dict) -> None:
        node_uuid = server.get(HYPERVISOR)
        node = self.io.ironic.get_node(node_uuid) if node_uuid else None
        consumer = self.io.placement.consumer_allocations(server["id"])
        provider = {node_uuid: set(self.io.placement.provider_allocations(node_uuid))} if node_uuid else {}
        violations = nova_crosscheck.check(server, node, consumer, provider)
        self.out.crosscheck = {"ok": not violations, "violations": [v.message for v in violations]}
        if self.req.pin and self.req.node and node_uuid and node_uuid != self.req.node and not self.out.rebuilds:
            self.out.crosscheck["note"] = f"built on {node_uuid}, not the requested {self.req.node}"
        if violations:
            raise errors.DeploymentFailed(
                f"server {server.get('name')} ({server['id']}) failed the cross-check: " + "; ".join(
                    v.message for v in violations), kind="nova_crosscheck", **self.out.as_result())
