# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""nova_build.ServerBuild against a small fake cloud and a fake clock (no network).

The cloud keeps Ironic nodes (extra, updated_at, provision_state, instance_uuid, the Date header
of every answer), Placement providers (one per node, allocations by consumer), hypervisors, and
servers that go BUILD -> ACTIVE (or ERROR with a scripted Nova fault) as the clock ticks. NovaIO's
own picking code (pick_view, read_node, write_marker, clear_marker) runs unchanged on top of the
fake clients; JSON patches are applied with the jsonpatch library, as Ironic does. Hooks let a
test act as a concurrent picker or a foreign actor between two steps of the flow."""
from __future__ import annotations

import copy
import uuid
from datetime import datetime, timezone
from email.utils import formatdate

import jsonpatch
import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, ironic_errors, nova_pick
from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_build as nb
from ansible_collections.ironwave.baremetal.plugins.module_utils.ironic_client import ApiError
from ansible_collections.ironwave.baremetal.plugins.module_utils.nova_io import PICK_PREFIX, NovaIO, picks
from ansible_collections.ironwave.baremetal.plugins.module_utils.service_client import ServiceError

HYP = "OS-EXT-SRV-ATTR:hypervisor_hostname"
RC = "CUSTOM_BAREMETAL"
FLAVOR = {"id": "f-1", "name": "bm", "extra_specs": {f"resources:{RC}": "1", "resources:VCPU": "0"}}
T0 = 1_800_000_000.0   # Ironic's clock (epoch seconds)


def node_uuid(i: int) -> str:
    return str(uuid.UUID(int=i + 1))


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


def http_date(ts: float) -> str:
    return formatdate(ts, usegmt=True)


def locked(node: str, sid: str) -> dict:
    return {"code": 500, "message": f"Build of instance {sid} aborted: Failure prepping block device.",
            "details": f"Failed to reserve node {node} when provisioning the instance {sid}\n"
                       f"NodeLocked: Node {node} is locked by host c1, please retry after the current "
                       "operation is completed."}


def associated(node: str, sid: str) -> dict:
    return {"code": 500, "message": f"Build of instance {sid} aborted: Failure prepping block device.",
            "details": f"Failed to reserve node {node} when provisioning the instance {sid}\n"
                       f"NodeAssociated: Node {node} is associated with instance foreign-1."}


def retries(node: str, sid: str) -> dict:
    return {"code": 500, "message": "Exceeded maximum number of retries. Exhausted all hosts available for "
                                    f"retrying build failures for instance {sid}.", "details": ""}


def deploy_failed(node: str, sid: str) -> dict:
    return {"code": 500, "message": f"Failed to provision instance {sid}: Deploy step failed", "details": ""}


class Cloud:
    """Ironic + Placement + Nova in one object, on one clock. A server is scheduled at once
    (Placement claim on the pinned node's provider, else ERROR No valid host) and finishes
    `build_time` seconds later: ACTIVE, or ERROR with the next scripted fault."""

    def __init__(self, count: int = 3) -> None:
        self.now = T0
        self.nodes: dict[str, dict] = {}
        for i in range(count):
            self.add_node(node_uuid(i), f"n{i}")
        self.servers: dict[str, dict] = {}
        self.allocations: dict[str, str] = {}     # consumer -> provider
        self.build_time = 30.0
        self.clean_time = 20.0
        self.never_active = False
        self.faults: list = []                   # per create, in order: None or fault(node, sid)
        self.on_fault = lambda node, sid: None   # the race's side effect on the node
        self.before_patch = lambda uuid_, patch: None
        self.after_patch = lambda uuid_, patch: None
        self.before_create = lambda body: None
        self.created: list[dict] = []
        self.patches: list[tuple[str, list]] = []
        self.deleted: list[str] = []
        self.ironic_requests = 0
        self.placement_stale_until: dict[str, float] = {}   # provider -> when Placement shows it free again
        self.deploy_steps = False   # the node goes deploying, wait call-back (and deploy failed) while building

    def add_node(self, u: str, name: str, **fields) -> None:
        self.nodes[u] = {"uuid": u, "name": name, "resource_class": "baremetal", "provision_state": "available",
                         "maintenance": False, "instance_uuid": None, "conductor_group": "",
                         "extra": {}, "updated_at": iso(self.now - 3600), "last_error": None,
                         "power_state": "power off", **fields}

    # -- clock
    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.process()

    def process(self) -> None:
        for s in list(self.servers.values()):
            if s["status"] == "BUILD" and self.deploy_steps and s.get(HYP):
                self._deploy_step(s)
            if s["status"] == "BUILD" and not self.never_active and self.now >= s["_done_at"]:
                self._finish(s)
            if s.get("_deleted_at") is not None and self.now >= s["_deleted_at"] + 2.0:
                del self.servers[s["id"]]
        for n in self.nodes.values():
            if n.get("_clean_at") is not None and self.now >= n["_clean_at"]:
                n.update(provision_state="available", instance_uuid=None, _clean_at=None)

    def _deploy_step(self, s: dict) -> None:
        """Nova's driver associates the node, Ironic deploys (a third of the build), then waits for
        the ramdisk's call-back; each state dated on Ironic's clock when it began."""
        node, start = self.nodes[s[HYP]], s["_done_at"] - self.build_time
        state = "deploying" if self.now < start + self.build_time / 3 else "wait call-back"
        if node["instance_uuid"] in (None, s["id"]) and node["provision_state"] != state:
            began = start + (1.0 if state == "deploying" else self.build_time / 3)
            node.update(provision_state=state, instance_uuid=s["id"], provision_updated_at=iso(began))

    def _finish(self, s: dict) -> None:
        node = self.nodes[s[HYP]]
        fault = s.pop("_fault")
        s["updated"] = iso(self.now)
        if fault is None:
            # Ironic finished a second before Nova's driver saw it and set the server ACTIVE.
            node.update(provision_state="active", instance_uuid=s["id"], updated_at=iso(self.now),
                        provision_updated_at=iso(self.now - 1.0))
            s.update(status="ACTIVE", **{"OS-EXT-STS:task_state": None})
            return
        self.allocations.pop(s["id"], None)
        if self.deploy_steps and node["instance_uuid"] == s["id"]:
            node.update(provision_state="deploy failed", provision_updated_at=iso(self.now - 1.0))
        self.on_fault(node, s["id"])
        s.update(status="ERROR", fault=fault(node["uuid"], s["id"]), **{"OS-EXT-STS:task_state": None})

    # -- what others do
    def foreign_marker(self, u: str, key: str, run: str, age: float) -> None:
        at = http_date(self.now - age)
        self.nodes[u]["extra"][PICK_PREFIX + key] = nova_pick.make_marker(run, "h-other", "s-other", at)
        self.nodes[u]["updated_at"] = iso(self.now)

    def take(self, u: str, instance: str = "foreign-1") -> None:
        self.nodes[u].update(instance_uuid=instance, provision_state="active")
        self.allocations[instance] = u

    def server_on(self, u: str, name: str, status: str = "ACTIVE", tag: str = "ironwave") -> dict:
        sid = str(uuid.uuid4())
        self.servers[sid] = {"id": sid, "name": name, "status": status, HYP: u, "OS-EXT-SRV-ATTR:host": "c1",
                             "tags": [tag], "_fault": None, "_done_at": self.now}
        if status == "ACTIVE":
            self.nodes[u].update(provision_state="active", instance_uuid=sid)
        self.allocations[sid] = u
        return self.servers[sid]

    def public(self, s: dict) -> dict:
        return {k: v for k, v in s.items() if not k.startswith("_")}


class FakeIronic:
    """The IronicClient surface NovaIO uses; every answer carries Ironic's Date."""

    def __init__(self, cloud: Cloud) -> None:
        self.c = cloud
        self.last_date: str | None = None

    @property
    def requests(self) -> int:
        return self.c.ironic_requests

    def _answer(self):
        self.c.ironic_requests += 1
        self.last_date = http_date(self.c.now)

    def _view(self, n: dict) -> dict:
        return copy.deepcopy({k: v for k, v in n.items() if not k.startswith("_")})

    def list(self, path, key, fields=(), keep=(), params=None):
        self._answer()
        assert path == "/nodes/detail" and key == "nodes"
        return [{k: self._view(n).get(k) for k in keep} for n in self.c.nodes.values()]

    def list_nodes(self, fields=(), **filters):
        self._answer()
        return [{k: self._view(n).get(k) for k in fields} for n in self.c.nodes.values()]

    def get_node(self, ident, fields=()):
        self._answer()
        n = self.c.nodes.get(ident)
        return self._view(n) if n else None

    def patch_node(self, ident, patch):
        self.c.before_patch(ident, patch)
        self._answer()
        n = self.c.nodes[ident]
        try:
            doc = jsonpatch.apply_patch({"extra": n["extra"]}, patch)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise ApiError(ironic_errors.classify(400, f"Invalid patch: {exc}"), f"PATCH /nodes/{ident}") from exc
        n.update(extra=doc["extra"], updated_at=iso(self.c.now))
        self.c.patches.append((ident, patch))
        self.c.after_patch(ident, patch)
        return self._view(n)


class FakeNova:
    def __init__(self, cloud: Cloud) -> None:
        self.c = cloud
        self.ambiguous_create = False

    def find_flavor(self, name):
        if name != FLAVOR["name"]:
            raise errors.BadInput(f"flavor: no flavor named or with id {name!r}")
        return dict(FLAVOR)

    def servers(self, **filters):
        rows = [self.c.public(s) for s in self.c.servers.values() if s.get("_deleted_at") is None]
        if "tags" in filters:
            rows = [s for s in rows if filters["tags"] in s["tags"]]
        return rows

    def server_named(self, name):
        return [s for s in self.servers() if s["name"] == name]

    def get_server(self, sid):
        s = self.c.servers.get(sid)
        return self.c.public(s) if s else None

    def hypervisors(self):
        return [{"id": u, "hypervisor_hostname": u, "status": "enabled", "state": "up", "service": {"host": "c1"}}
                for u in self.c.nodes]

    def create_server(self, body):
        self.c.before_create(body)
        self.c.created.append(body)
        sid = str(uuid.uuid4())
        u = body.get("hypervisor_hostname")
        s = {"id": sid, "name": body["name"], "status": "BUILD", HYP: None, "OS-EXT-SRV-ATTR:host": None,
             "tags": list(body.get("tags", [])), "OS-EXT-STS:task_state": "scheduling", "updated": iso(self.c.now),
             "_done_at": self.c.now + self.c.build_time, "_fault": self.c.faults.pop(0) if self.c.faults else None}
        node = self.c.nodes.get(u)
        if node is None or u in self.c.allocations.values() or node["maintenance"]:
            s.update(status="ERROR", fault={"code": 500, "message": "No valid host was found. "}, _fault=None)
        else:
            self.c.allocations[sid] = u
            s.update(**{HYP: u, "OS-EXT-SRV-ATTR:host": "c1", "OS-EXT-STS:task_state": "spawning"})
        self.c.servers[sid] = s
        if self.ambiguous_create:
            self.ambiguous_create = False
            raise ServiceError("compute", "POST /servers", 502, "Bad Gateway", ambiguous=True)
        return self.c.public(s)

    def delete_server(self, sid):
        s = self.c.servers.get(sid)
        if s is None:
            return
        self.c.deleted.append(sid)
        s["_deleted_at"] = self.c.now
        self.c.allocations.pop(sid, None)
        node = self.c.nodes.get(s.get(HYP) or "")
        if node and node["instance_uuid"] == sid:
            node.update(provision_state="cleaning", _clean_at=self.c.now + self.c.clean_time)


class FakePlacement:
    def __init__(self, cloud: Cloud) -> None:
        self.c = cloud

    def providers(self, resources=None):
        used = set(self.c.allocations.values())
        stale = {u for u, until in self.c.placement_stale_until.items() if until > self.c.now}
        return [{"uuid": u, "name": u} for u in self.c.nodes if resources is None or u not in used | stale]

    def consumer_allocations(self, consumer):
        u = self.c.allocations.get(consumer)
        return {u: {"resources": {RC: 1}}} if u else {}

    def provider_allocations(self, provider):
        return {c: {"resources": {RC: 1}} for c, u in self.c.allocations.items() if u == provider}


class FakeImages:
    def resolve(self, name):
        return {"ubuntu": "img-1"}[name]


class FakeIO(NovaIO):
    """NovaIO with fake clients; the shared listings read the cloud directly (their cross-process
    cache is poll_cache's, tested there)."""

    def __init__(self, cloud: Cloud) -> None:   # pylint: disable=super-init-not-called
        self.cloud = cloud
        self.nova, self.placement, self.images = FakeNova(cloud), FakePlacement(cloud), FakeImages()
        self.ironic = FakeIronic(cloud)
        self.ident, self.tag = "test-cloud", "ironwave"
        self.clock, self.sleep = cloud.clock, cloud.sleep

    def shared_servers(self, ttl):
        return {s["id"]: s for s in self.nova.servers(tags=self.tag)}

    def shared_nodes(self, ttl):
        fields = ("uuid", "provision_state", "instance_uuid", "maintenance", "last_error", "provision_updated_at")
        return {n["uuid"]: n for n in self.ironic.list_nodes(fields)}


def request(**kw) -> nb.BuildRequest:
    base = dict(name="web-1", flavor="bm", image="ubuntu", host="web-1", run_id="run-A", settle=1.0,
                poll_interval=2.0, timeout=600.0, clean_timeout=120.0)
    return nb.BuildRequest(**{**base, **kw})


def build(cloud: Cloud, check_mode: bool = False, **kw) -> nb.ServerBuild:
    return nb.ServerBuild(FakeIO(cloud), request(**kw), check_mode=check_mode, clock=cloud.clock, sleep=cloud.sleep,
                          wall=cloud.clock)


def ranked(cloud: Cloud, host: str = "web-1") -> list[str]:
    return nova_pick.rank(host, cloud.nodes)


def markers(cloud: Cloud) -> dict:
    return {u: picks(n["extra"]) for u, n in cloud.nodes.items() if picks(n["extra"])}


def key_of(name: str = "web-1") -> str:
    return request(name=name).marker_key


# -- reruns ------------------------------------------------------------------------------------

def test_rerun_of_an_active_server_creates_nothing_and_cross_checks():
    cloud = Cloud()
    s = cloud.server_on(node_uuid(1), "web-1")
    out = build(cloud).run()
    assert cloud.created == [] and cloud.patches == []
    assert not out.changed and out.node == node_uuid(1) and out.server["id"] == s["id"]
    assert out.crosscheck == {"ok": True, "violations": []}


def test_rerun_of_an_active_server_that_fails_the_cross_check_fails():
    cloud = Cloud()
    s = cloud.server_on(node_uuid(1), "web-1")
    cloud.nodes[node_uuid(1)]["instance_uuid"] = "someone-else"
    with pytest.raises(errors.DeploymentFailed) as info:
        build(cloud).run()
    assert info.value.kind == "nova_crosscheck" and "someone-else" in info.value.msg
    assert info.value.result["crosscheck"]["ok"] is False and s["id"] in info.value.msg


def test_two_servers_with_the_name_are_refused():
    cloud = Cloud()
    cloud.server_on(node_uuid(0), "web-1")
    cloud.server_on(node_uuid(1), "web-1")
    with pytest.raises(errors.BadInput, match="2 servers are named 'web-1'"):
        build(cloud).run()


def test_rerun_of_an_errored_server_deletes_it_and_builds_again_after_a_race():
    cloud = Cloud()
    old = cloud.server_on(node_uuid(0), "web-1", status="ERROR")
    old["fault"] = locked(node_uuid(0), old["id"])
    cloud.allocations.pop(old["id"])
    out = build(cloud).run()
    assert cloud.deleted == [old["id"]] and len(cloud.created) == 1
    assert out.server["status"] == "ACTIVE" and out.rebuilds == 1 and out.faults[0]["kind"] == "node_locked"


def test_rerun_of_a_server_left_in_error_without_a_fault_by_a_compute_restart_is_rebuilt():
    """nova-compute restarted mid-build puts BUILDING instances in ERROR without a race fault (and
    Ironic may have finished the deploy): a rerun converges by deleting and building it again."""
    cloud = Cloud()
    old = cloud.server_on(node_uuid(0), "web-1", status="ERROR")
    cloud.nodes[node_uuid(0)].update(provision_state="active", instance_uuid=old["id"])
    out = build(cloud).run()
    assert cloud.deleted == [old["id"]] and len(cloud.created) == 1
    assert out.server["status"] == "ACTIVE" and out.rebuilds == 1 and out.faults[0]["kind"] == "unknown"
    assert out.node != node_uuid(0) or len(cloud.nodes) == 1     # the failed node is avoided while others are free


def test_a_leftover_error_server_is_rebuilt_at_most_max_rebuilds_times():
    cloud = Cloud()
    cloud.server_on(node_uuid(0), "web-1", status="ERROR")
    with pytest.raises(errors.DeploymentFailed):
        build(cloud, max_rebuilds=0).run()
    assert cloud.deleted == [] and cloud.created == []


# -- a fresh build -------------------------------------------------------------------------------

def test_pinned_create_carries_the_picked_node_and_the_tag_and_the_marker_is_cleared():
    cloud = Cloud()
    seen = {}
    cloud.before_create = lambda body: seen.update(markers(cloud))
    out = build(cloud, key_name="ops", user_data="#cloud-config\n", metadata={"role": 1}).run()
    first = ranked(cloud)[0]
    [body] = cloud.created
    assert body["hypervisor_hostname"] == first and body["tags"] == ["ironwave"]
    assert body["flavorRef"] == "f-1" and body["imageRef"] == "img-1" and body["networks"] == "none"
    assert body["key_name"] == "ops" and body["metadata"] == {"role": "1"} and body["user_data"] == "I2Nsb3VkLWNvbmZpZwo="
    # marked while building, with Ironic's time of writing; cleared at the end
    marker = seen[first][key_of()]
    assert marker["run"] == "run-A" and marker["host"] == "web-1" and marker["server"] == "web-1"
    assert marker["at"] == http_date(T0)
    assert markers(cloud) == {}
    assert out.changed and out.node == first and out.picks == [first] and out.rebuilds == 0 and out.faults == []
    assert out.server["status"] == "ACTIVE" and out.crosscheck["ok"]
    assert cloud.nodes[first]["instance_uuid"] == out.server["id"]
    assert out.as_result()["server"]["node"] == first and out.waited >= cloud.build_time


def test_unpinned_build_sends_no_node_and_marks_nothing():
    cloud = Cloud()
    cloud.before_create = lambda body: body.setdefault("hypervisor_hostname", node_uuid(2))   # the scheduler's choice
    out = build(cloud, pin=False).run()
    assert cloud.patches == [] and out.picks == [] and out.node == node_uuid(2) and out.crosscheck["ok"]


def test_requested_node_is_used_when_usable():
    cloud = Cloud()
    wanted = ranked(cloud)[-1]
    out = build(cloud, node=wanted).run()
    assert cloud.created[0]["hypervisor_hostname"] == wanted and out.node == wanted


def test_wait_false_returns_after_the_create():
    cloud = Cloud()
    out = build(cloud, wait=False).run()
    assert out.changed and out.server["status"] == "BUILD" and cloud.now == T0 + 1.0
    assert markers(cloud) == {}


def test_create_after_an_ambiguous_failure_finds_the_server_by_name_instead_of_posting_again():
    cloud = Cloud()
    io = FakeIO(cloud)
    io.nova.ambiguous_create = True
    out = nb.ServerBuild(io, request(), clock=cloud.clock, sleep=cloud.sleep).run()
    assert len(cloud.created) == 1 and out.server["status"] == "ACTIVE"


# -- picking -------------------------------------------------------------------------------------

def test_contested_pick_moves_to_another_node_and_clears_its_marker_on_the_first():
    cloud = Cloud()
    first, second = ranked(cloud)[:2]

    def rival(u, patch):
        # another (run, host) writes its key on the same node right after ours
        # another (run, host) writes its key - lower than ours, so it wins - right after ours
        if u == first and patch[0]["op"] == "add" and not picks(cloud.nodes[u]["extra"]).get("-rival"):
            cloud.foreign_marker(u, "-rival", "run-B", age=0)
    cloud.after_patch = rival
    out = build(cloud).run()
    assert out.picks == [first, second] and out.node == second
    assert cloud.created[0]["hypervisor_hostname"] == second
    assert list(picks(cloud.nodes[first]["extra"])) == ["-rival"]     # ours removed, the rival's kept
    assert not picks(cloud.nodes[second]["extra"])


def test_of_two_pickers_that_wrote_on_one_node_at_once_the_lower_key_keeps_it():
    """Defect (fresh-clone CI): two pickers that wrote on one node at once both backed off; left
    with the same two nodes they collided on both and failed 'no usable node left'. The lowest
    live key now keeps the node; the others move on."""
    cloud = Cloud(count=1)
    only = node_uuid(0)

    def rival(u, patch):
        if patch[0]["op"] == "add" and "~rival" not in picks(cloud.nodes[u]["extra"]):
            cloud.foreign_marker(u, "~rival", "run-B", age=0)     # its key sorts after ours
    cloud.after_patch = rival
    out = build(cloud).run()
    assert out.node == only and out.picks == [only] and len(cloud.created) == 1
    # ... and the rival, reading both keys, sees it lost.
    loser = nb.ServerBuild(FakeIO(cloud), request(name="x", host="h-other", run_id="run-B"),
                           clock=cloud.clock, sleep=cloud.sleep)
    marker = nova_pick.make_marker("run-A", "web-1", "web-1", http_date(cloud.now))
    cloud.nodes[only]["extra"][PICK_PREFIX + key_of()] = marker
    cloud.nodes[only].update(provision_state="available", instance_uuid=None)
    assert loser._owned(cloud.nodes[only], http_date(cloud.now)) is False


def test_a_node_marked_between_our_listing_and_our_write_is_left_without_writing():
    cloud = Cloud()
    first, second = ranked(cloud)[:2]
    b = build(cloud)
    view = b.io.pick_view
    calls = []

    def late_view(rc):
        out = view(rc)
        if not calls:
            calls.append(1)
            cloud.foreign_marker(first, "~late", "run-B", age=0)   # lands after our listing
        return out
    b.io.pick_view = late_view
    out = b.run()
    assert out.node == second and out.picks == [second]
    assert list(picks(cloud.nodes[first]["extra"])) == ["~late"]


def test_two_pickers_that_rank_the_same_node_first_end_on_different_nodes():
    cloud = Cloud()
    first = ranked(cloud)[0]
    rival_host = next(h for h in (f"db-{i}" for i in range(100)) if ranked(cloud, h)[0] == first)
    rival = build(cloud, name=rival_host, host=rival_host, run_id="run-B")
    mine = build(cloud)
    done = []

    def sleep(seconds):
        cloud.sleep(seconds)
        if not done:          # the rival picks while we settle: it sees our marker and moves on
            done.append(rival.pick_only().node)
    mine.sleep = sleep
    out = mine.run()
    assert out.node == first and done[0] != first and out.picks == [first]
    assert list(picks(cloud.nodes[done[0]]["extra"])) == [key_of(rival_host)]
    assert rival.out.picks == [done[0]]     # our marker was in its listing: it never wrote on ours


def test_marker_of_another_run_older_than_pick_ttl_on_ironics_clock_is_ignored():
    cloud = Cloud()
    first = ranked(cloud)[0]
    cloud.foreign_marker(first, "old", "run-B", age=1801)     # node updated_at is now: `at` decides
    out = build(cloud, pick_ttl=1800).run()
    assert out.node == first
    assert list(picks(cloud.nodes[first]["extra"])) == ["old"]    # not ours to remove


def test_marker_of_another_run_younger_than_pick_ttl_keeps_the_node_out():
    cloud = Cloud()
    first, second = ranked(cloud)[:2]
    cloud.foreign_marker(first, "young", "run-B", age=1700)
    out = build(cloud, pick_ttl=1800).run()
    assert out.node == second and out.picks == [second]
    assert list(picks(cloud.nodes[first]["extra"])) == ["young"]


def test_marker_age_uses_ironics_clock_not_the_controllers():
    # The controller's clock is far ahead (flow clock unrelated to Ironic's); only Ironic's times count.
    cloud = Cloud()
    first, second = ranked(cloud)[:2]
    cloud.foreign_marker(first, "young", "run-B", age=60)
    io = FakeIO(cloud)
    skewed = nb.ServerBuild(io, request(pick_ttl=120), clock=lambda: cloud.now + 86400.0, sleep=cloud.sleep)
    assert skewed.run().node == second


def test_marker_of_another_host_of_the_same_run_is_live_whatever_its_age():
    cloud = Cloud()
    first, second = ranked(cloud)[:2]
    cloud.foreign_marker(first, key_of("web-2"), "run-A", age=99999)
    assert build(cloud).run().node == second


def test_own_key_left_by_a_killed_run_is_reused_on_rerun():
    cloud = Cloud()
    first = ranked(cloud)[0]
    cloud.foreign_marker(first, key_of(), "run-killed", age=5)
    out = build(cloud, run_id="run-new").run()
    assert out.node == first and out.picks == [first] and markers(cloud) == {}


def test_no_node_left_after_contested_picks_raises_capacity_short():
    cloud = Cloud(count=1)
    only = node_uuid(0)
    cloud.after_patch = lambda u, patch: (cloud.foreign_marker(u, "-rival", "run-B", age=0)
                                          if patch[0]["op"] == "add" else None)
    with pytest.raises(errors.CapacityShort) as info:
        build(cloud).run()
    assert cloud.created == [] and key_of() not in picks(cloud.nodes[only]["extra"])
    assert "usable" in info.value.msg


def test_no_usable_node_raises_capacity_short_with_the_numbers_and_builds_nothing():
    cloud = Cloud(count=2)
    cloud.nodes[node_uuid(0)]["maintenance"] = True
    cloud.take(node_uuid(1))
    with pytest.raises(errors.CapacityShort) as info:
        build(cloud).run()
    assert cloud.created == [] and cloud.patches == []
    assert info.value.result["usable"] == 0
    assert info.value.result["excluded"] == {"maintenance": 1, "not_available:active": 1}


def test_a_node_placement_still_shows_full_is_picked_once_placement_catches_up():
    """Defect (fresh-clone CI): a node cleaned after its server was deleted is available in Ironic,
    but Placement shows its provider reserved until nova-compute's next resource update (up to a
    minute); the pick failed at once with 'provider_full' instead of waiting for that update."""
    cloud = Cloud(count=1)
    only = node_uuid(0)
    cloud.placement_stale_until[only] = T0 + 50
    out = build(cloud, placement_wait=90.0).run()
    assert out.node == only and len(cloud.created) == 1
    assert cloud.created[0]["hypervisor_hostname"] == only
    assert out.waited >= 50


def test_placement_that_does_not_catch_up_within_placement_wait_fails_with_the_numbers():
    cloud = Cloud(count=1)
    cloud.placement_stale_until[node_uuid(0)] = T0 + 10_000
    with pytest.raises(errors.CapacityShort) as info:
        build(cloud, placement_wait=90.0).run()
    assert cloud.created == [] and cloud.patches == []
    assert info.value.result["excluded"] == {"provider_full": 1}
    assert 90 <= cloud.now - T0 <= 100


def test_placement_wait_zero_fails_at_once():
    cloud = Cloud(count=1)
    cloud.placement_stale_until[node_uuid(0)] = T0 + 50
    with pytest.raises(errors.CapacityShort):
        build(cloud, placement_wait=0.0).run()
    assert cloud.now == T0


def test_unparseable_pick_entry_expires_like_a_marker_without_at():
    """Defect (found by a unit test): junk under a pick key counted as live forever."""
    cloud = Cloud(count=1)
    only = node_uuid(0)
    cloud.nodes[only]["extra"][PICK_PREFIX + "junk"] = "not a marker"
    cloud.nodes[only]["updated_at"] = iso(T0 - 7200)       # untouched for two hours, pick_ttl 1800
    assert build(cloud).run().node == only


def test_pick_survives_another_picker_removing_its_key_between_our_read_and_write():
    """Defect (found by a unit test): with one nested dict, a concurrent removal of the last other
    key made our add 400; flat keys never depend on another picker's."""
    cloud = Cloud()
    first = ranked(cloud)[0]
    cloud.foreign_marker(first, "leaving", "run-B", age=99999)    # dead: the node is usable

    def leave(u, patch):
        if u == first and "leaving" in picks(cloud.nodes[u]["extra"]):
            del cloud.nodes[u]["extra"][PICK_PREFIX + "leaving"]      # run-B clears its key just before our write
    cloud.before_patch = leave
    out = build(cloud).run()
    assert out.node == first


def test_a_late_writer_does_not_erase_the_marker_of_the_picker_that_owns_the_node():
    """Defect (found by a unit test): a writer that read no marker replaced the whole dict."""
    cloud = Cloud()
    first = ranked(cloud)[0]
    other = nb.ServerBuild(FakeIO(cloud), request(name="db-1", host="web-1", run_id="run-B"),
                           clock=cloud.clock, sleep=cloud.sleep)
    date_before = other.io.read_node(first)[1]             # run-B read the node before anyone marked it
    io = FakeIO(cloud)
    mine = nb.ServerBuild(io, request(), clock=cloud.clock, sleep=cloud.sleep)
    assert mine.pick_only().node == first                  # we marked, settled and own it
    other.io.write_marker(first, key_of("db-1"), other.req.marker(date_before))
    assert key_of() in picks(cloud.nodes[first]["extra"])


def test_clearing_our_marker_keeps_a_key_another_picker_added_meanwhile():
    """Defect (found by a unit test): clearing the last key removed the whole dict."""
    cloud = Cloud()
    first = ranked(cloud)[0]
    b = build(cloud)
    assert b.pick_only().node == first

    def rival(u, patch):
        if patch[0]["op"] == "remove" and "rival" not in picks(cloud.nodes[u]["extra"]):
            cloud.foreign_marker(u, "rival", "run-B", age=0)     # lands between our read and our remove
    cloud.before_patch = rival
    assert b.io.clear_marker(first, key_of())
    assert list(picks(cloud.nodes[first]["extra"])) == ["rival"]


# -- faults and rebuilds ---------------------------------------------------------------------------

@pytest.mark.parametrize("fault,kind", [(locked, "node_locked"), (retries, "no_valid_host_race")])
def test_race_fault_is_deleted_waited_clean_repicked_and_rebuilt(fault, kind):
    cloud = Cloud()
    cloud.faults = [fault]
    out = build(cloud).run()
    first = ranked(cloud)[0]
    failed = cloud.created and out.faults[0]["server"]
    assert len(cloud.created) == 2 and cloud.deleted == [failed] and failed not in cloud.servers
    assert out.rebuilds == 1 and [f["kind"] for f in out.faults] == [kind] and out.faults[0]["node"] == first
    assert out.server["status"] == "ACTIVE" and out.server["id"] != failed and out.crosscheck["ok"]
    assert markers(cloud) == {}


def test_node_associated_race_rebuilds_on_another_node_while_the_winner_keeps_the_first():
    cloud = Cloud()
    first, second = ranked(cloud)[:2]
    cloud.faults = [associated]
    cloud.on_fault = lambda node, sid: cloud.take(node["uuid"], "foreign-1")
    out = build(cloud).run()
    assert out.rebuilds == 1 and out.faults[0]["kind"] == "node_associated"
    assert out.node == second and cloud.nodes[first]["instance_uuid"] == "foreign-1"


def test_no_valid_host_on_a_node_taken_by_a_foreign_deploy_rebuilds_on_another_node():
    cloud = Cloud()
    first, second = ranked(cloud)[:2]
    cloud.before_create = lambda body: (cloud.take(first) if body["hypervisor_hostname"] == first else None)
    out = build(cloud).run()
    assert out.rebuilds == 1 and out.faults[0]["kind"] == "no_valid_host" and out.node == second


def test_rebuilds_are_bounded_by_max_rebuilds():
    cloud = Cloud()
    cloud.faults = [locked, locked, locked, locked]
    with pytest.raises(errors.DeploymentFailed) as info:
        build(cloud, max_rebuilds=2).run()
    assert info.value.kind == "nova_node_locked" and len(cloud.created) == 3
    assert info.value.result["rebuilds"] == 2 and len(info.value.result["faults"]) == 3
    assert markers(cloud) == {}


def test_deploy_failure_is_not_rebuilt():
    cloud = Cloud()
    cloud.faults = [deploy_failed]
    with pytest.raises(errors.DeploymentFailed) as info:
        build(cloud).run()
    assert info.value.kind == "nova_deploy_failed" and len(cloud.created) == 1 and cloud.deleted == []
    assert markers(cloud) == {}


def _steal_provider_before_create(cloud: Cloud):
    def steal(body):
        cloud.allocations["foreign-consumer"] = body["hypervisor_hostname"]
    cloud.before_create = steal


def test_no_valid_host_with_capacity_left_is_rebuilt_on_another_node():
    cloud = Cloud(count=2)
    first, second = ranked(cloud, "web-1")[:2]
    cloud.before_create = lambda body: (cloud.allocations.setdefault("foreign-consumer", first)
                                        if body["hypervisor_hostname"] == first else None)
    out = build(cloud).run()
    assert out.rebuilds == 1 and out.faults[0]["kind"] == "no_valid_host" and out.node == second


def test_no_valid_host_without_capacity_is_not_rebuilt():
    cloud = Cloud(count=1)
    _steal_provider_before_create(cloud)
    with pytest.raises(errors.IronwaveError) as info:
        build(cloud).run()
    assert info.value.kind in ("nova_no_valid_host", "capacity") and len(cloud.created) == 1
    assert cloud.deleted == [] and markers(cloud) == {}


def test_no_valid_host_without_capacity_names_the_numbers():
    cloud = Cloud(count=1)
    _steal_provider_before_create(cloud)
    with pytest.raises(errors.IronwaveError) as info:
        build(cloud).run()
    assert info.value.result.get("usable") == 0 and "Placement free 0" in info.value.msg
    assert info.value.result.get("excluded") == {"provider_full": 1}


def test_build_timeout_fails_with_kind_build_timeout_and_clears_the_marker():
    cloud = Cloud()
    cloud.never_active = True
    with pytest.raises(errors.DeploymentFailed) as info:
        build(cloud, timeout=100.0).run()
    assert info.value.kind == "nova_build_timeout" and "after 100 s" in info.value.msg
    assert 100.0 <= cloud.now - T0 <= 104.0 and cloud.deleted == [] and markers(cloud) == {}


def test_failed_build_result_names_the_server_and_its_node():
    cloud = Cloud()
    cloud.never_active = True
    with pytest.raises(errors.DeploymentFailed) as info:
        build(cloud, timeout=10.0).run()
    [sid] = list(cloud.servers)
    assert info.value.result["node"] == ranked(cloud)[0] and info.value.result["server"]["id"] == sid


def test_server_deleted_behind_our_back_fails_as_gone():
    cloud = Cloud()
    cloud.before_create = lambda body: setattr(cloud, "build_time", 1000.0)
    b = build(cloud)
    orig = cloud.sleep

    def sleep(seconds):
        orig(seconds)
        if cloud.now - T0 > 20:
            cloud.servers.clear()
    b.sleep = sleep
    with pytest.raises(errors.DeploymentFailed) as info:
        b.run()
    assert info.value.kind == "nova_server_gone"


def test_cross_check_violation_after_the_build_fails_and_clears_the_marker():
    cloud = Cloud()
    orig_finish = cloud._finish    # pylint: disable=protected-access

    def finish(s):
        orig_finish(s)
        cloud.allocations["ghost"] = s[HYP]     # a second consumer on the node's provider
    cloud._finish = finish         # pylint: disable=protected-access
    with pytest.raises(errors.DeploymentFailed) as info:
        build(cloud).run()
    assert info.value.kind == "nova_crosscheck" and "2 consumers" in info.value.msg and "ghost" in info.value.msg
    assert info.value.result["crosscheck"]["ok"] is False and markers(cloud) == {}


# -- check mode and pick_only -------------------------------------------------------------------

def test_check_mode_writes_nothing():
    cloud = Cloud()
    out = build(cloud, check_mode=True).run()
    assert out.changed and cloud.created == [] and cloud.patches == [] and cloud.deleted == []


def test_check_mode_pick_only_names_the_node_and_writes_nothing():
    cloud = Cloud()
    out = build(cloud, check_mode=True).pick_only()
    assert out.changed and out.node == ranked(cloud)[0] and cloud.patches == []


def test_pick_only_marks_a_node_and_builds_nothing():
    cloud = Cloud()
    out = build(cloud).pick_only()
    first = ranked(cloud)[0]
    assert out.changed and out.node == first and cloud.created == []
    assert picks(cloud.nodes[first]["extra"])[key_of()]["run"] == "run-A"     # kept for the build


def test_pick_only_of_an_existing_server_keeps_its_node_and_marks_nothing():
    cloud = Cloud()
    cloud.server_on(node_uuid(2), "web-1")
    out = build(cloud).pick_only()
    assert not out.changed and out.node == node_uuid(2) and cloud.patches == []


def test_build_after_pick_only_uses_the_picked_node_and_clears_the_marker():
    cloud = Cloud()
    picked = build(cloud, host="other-host").pick_only().node
    out = build(cloud, node=picked, run_id="run-A2").run()
    assert out.node == picked and markers(cloud) == {}


# -- parameters ----------------------------------------------------------------------------------

PARAMS = dict(name="web-1", flavor="bm", image="ubuntu", pin=True, tag="ironwave", max_rebuilds=2, timeout=1800,
              poll_interval=2.0, settle=1.0, pick_ttl=1800, wait=True, networks="none")


@pytest.mark.parametrize("field,value,match", [
    ("max_rebuilds", -1, "max_rebuilds: must be >= 0"),
    ("timeout", -5, "timeout: must be >= 0"),
    ("settle", -0.5, "settle: must be >= 0"),
    ("pick_ttl", -1, "pick_ttl: must be >= 0"),
    ("poll_interval", 0, "poll_interval: must be > 0"),
    ("networks", "some", "networks: 'some' is neither"),
    ("networks", {"uuid": "x"}, "networks: .* is neither"),
])
def test_from_params_names_the_bad_field(field, value, match):
    with pytest.raises(errors.BadInput, match=match):
        nb.BuildRequest.from_params({**PARAMS, field: value})


def test_from_params_defaults():
    guard = type("G", (), {"pid": 42, "start": "123"})()
    req = nb.BuildRequest.from_params({**PARAMS, "networks": [{"uuid": "net"}]}, guard)
    assert req.run_id == "42-123" and req.host == "web-1" and req.networks == [{"uuid": "net"}]
    assert req.timeout == 1800.0 and isinstance(req.timeout, float)
    assert nb.BuildRequest.from_params({**PARAMS, "run_id": "r"}).run_id == "r"
    assert len(nb.BuildRequest.from_params(PARAMS).run_id) == 32
    assert req.marker_key == key_of() and len(req.marker_key) == 16 and key_of("web-2") != key_of()


def test_capacity_for_reads_again_until_placement_frees_a_node_ironic_has_free():
    cloud = Cloud(count=2)
    cloud.placement_stale_until[node_uuid(1)] = T0 + 30
    b = build(cloud, placement_wait=90.0)
    assert len(b.capacity_for(1).usable) == 1 and cloud.now == T0      # enough already: no wait
    cap = b.capacity_for(2)
    assert len(cap.usable) == 2 and T0 + 30 <= cloud.now < T0 + 40


def test_capacity_for_gives_up_after_placement_wait():
    cloud = Cloud(count=1)
    cloud.placement_stale_until[node_uuid(0)] = T0 + 10_000
    cap = build(cloud, placement_wait=20.0).capacity_for(1)
    assert cap.usable == () and cap.excluded == {"provider_full": 1} and cloud.now == T0 + 20


# -- phases (the report's timeline) ----------------------------------------------------------------

def _names(phases):
    return [p["phase"] for p in phases]


def _in_time_order(phases):
    return [p["at"] for p in phases] == sorted(p["at"] for p in phases)


def test_phases_of_a_build_are_the_pick_the_request_and_novas_and_ironics_states_at_their_times():
    cloud = Cloud()
    cloud.deploy_steps = True
    out = build(cloud).run()
    assert out.as_result()["phases"] == [
        {"phase": "reserved", "at": T0, "source": "ironic"},          # the marker's write, Ironic's updated_at
        {"phase": "requested", "at": T0 + 1, "source": "module"},     # after the settle delay
        {"phase": "spawning", "at": T0 + 1, "source": "nova"},
        {"phase": "deploying", "at": T0 + 2, "source": "ironic"},
        {"phase": "wait call-back", "at": T0 + 11, "source": "ironic"},
        {"phase": "active", "at": T0 + 30, "source": "ironic"}]       # Nova's later ACTIVE is the same phase


def test_phases_of_a_failed_build_are_in_the_failure():
    cloud = Cloud()
    cloud.deploy_steps = True
    cloud.faults = [deploy_failed]
    with pytest.raises(errors.DeploymentFailed) as info:
        build(cloud).run()
    phases = info.value.result["phases"]
    assert _names(phases) == ["reserved", "requested", "spawning", "deploying", "wait call-back", "deploy failed",
                              "error"]
    assert phases[-2:] == [{"phase": "deploy failed", "at": T0 + 30, "source": "ironic"},
                           {"phase": "error", "at": T0 + 31, "source": "nova"}]


def test_phases_of_a_rebuild_follow_the_failed_build():
    cloud = Cloud()
    cloud.deploy_steps = True
    cloud.faults = [locked]
    out = build(cloud).run()
    phases = out.phases
    one = ["reserved", "requested", "spawning", "deploying", "wait call-back"]
    assert _names(phases) == one + ["deploy failed", "error"] + one + ["active"] and _in_time_order(phases)
    requested = [p["at"] for p in phases if p["phase"] == "requested"]
    error = next(p["at"] for p in phases if p["phase"] == "error")
    assert requested[0] < error < requested[1] and phases[-1]["source"] == "ironic"


def test_a_build_found_running_is_dated_from_the_tasks_start():
    cloud = Cloud()
    s = cloud.server_on(node_uuid(1), "web-1", status="BUILD")
    s.update(_done_at=T0 + 10, updated=iso(T0 - 600), **{"OS-EXT-STS:task_state": "spawning"})
    out = build(cloud).run()
    assert out.phases == [{"phase": "spawning", "at": T0, "source": "nova"},
                          {"phase": "active", "at": T0 + 9, "source": "ironic"}]


def test_no_phases_when_nothing_is_built():
    cloud = Cloud()
    assert build(cloud, check_mode=True).run().as_result()["phases"] == []
    cloud.server_on(node_uuid(1), "web-1")
    assert build(cloud).run().as_result()["phases"] == []


def test_a_pick_alone_or_a_build_not_waited_for_has_its_first_phases():
    cloud = Cloud()
    assert _names(build(cloud).pick_only().phases) == ["reserved"]
    assert _names(build(Cloud(), wait=False).run().phases) == ["reserved", "requested"]
