# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""A concurrency limit shared by every run against one Ironic, counted on Ironic itself.

Pure Python (no Ansible, no network). slot_acquire.py runs the protocol, slot_store.py talks to
Ironic, the module `wave_slot` is the adapter.

A *slot* is held by a node that is busy in Ironic (deploying, cleaning, ...) or by a node whose
node `extra` carries a live lease marker in phase `held` (a run was admitted and is about to make
it busy). Runs never talk to each other; they only write a marker on their own node and read one
bulk node listing, so AWX job slices, two operators and a CI job share the same limit.

Admission is Lamport's bakery algorithm, generalised to k slots:
  1. write the marker in phase `choosing` (no ticket yet);
  2. read all nodes; ticket = 1 + the highest ticket of any live marker; write it (`waiting`);
  3. read all nodes; admitted iff
         busy + held(others) + waiting-ahead-of-me + choosing(others) < limit
     where "ahead" orders (ticket, node uuid). Then write phase `held` and go.
If run Y's marker was not visible when Z was admitted, Y chose its ticket after reading Z's, so Y
ranks behind Z - and a run never counts the runs behind it (except those already holding a slot).
A choosing marker is counted as if it were ahead (it may get a smaller ticket). Waiting runs keep
their ticket (FIFO across runs): no livelock.

Liveness never compares clocks. Every write of a marker changes it (`beat` + 1), and its writer
rewrites it at least every `ttl / 4` s (slot_timing) for as long as its run needs it. A reader
tracks how long it has seen each marker *unchanged* on its own monotonic clock (observe()): from
the arrival of the first listing that showed this content to the sending of the current listing,
an underestimate of how long the content really stood. A marker seen unchanged for `ttl` (the
writer's own value, stored in the marker) is dead; one its reader has not yet watched that long is
live. Only clock *rates* matter, never their readings, so any skew between controllers is
harmless. A writer, for its part, knows its marker stayed live without a gap only while each write
completes less than `ttl` after the previous write started (slot_timing.continuous); otherwise it
treats its place as lost. On the run's own controller a marker is also dead at once when the
ansible-playbook process named in it is gone (`proc`, checked by slot_proc).

A marker also stops counting when the node has left the provision state it was in at
announcement (state and provision_updated_at recorded in the marker): a node that went busy
counts as busy; one that went on to active/failed no longer counts, so a stale marker is harmless.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping

from ansible_collections.ironwave.baremetal.plugins.module_utils import ironic_errors, ironic_states

MARKER_KEY = "ironwave_slot"
MARKER_VERSION = 2
# The node fields wave_slot reads, in one bulk listing.
NODE_FIELDS = ("uuid", "name", "provision_state", "target_provision_state", "provision_updated_at",
               "conductor_group", "extra")

BUSY_STATE_LIST = ironic_states.BUSY_STATE_LIST
BUSY_STATES = ironic_states.BUSY
UPDATE_ALLOWED_STATES = ironic_states.UPDATE_ALLOWED
# HTTP 409 text when PATCHing such a node (not a NodeLocked: retrying soon does not help).
IN_TRANSITION_RE = ironic_errors.IN_TRANSITION_RE

CHOOSING = "choosing"
WAITING = "waiting"
HELD = "held"
PHASES = (CHOOSING, WAITING, HELD)

GLOBAL = "global"
CONDUCTOR_GROUP = "conductor_group"
SCOPES = (GLOBAL, CONDUCTOR_GROUP)

DEFAULT_TTL = 60.0
MIN_TTL = 20.0
MAX_TTL = 900.0
# Version-1 markers (absolute expiry in the writer's clock) are read as live for this long unchanged.
V1_TTL = 60.0


@dataclass(frozen=True)
class Proc:
    """The ansible-playbook process of the writer's run: boot id + PID namespace say whether a
    reader can see it; PID + start time name it even after the PID is reused."""

    boot: str
    pidns: str
    pid: int
    start: str

    def to_extra(self) -> dict:
        return {"boot": self.boot, "pidns": self.pidns, "pid": self.pid, "start": self.start}

    @classmethod
    def from_extra(cls, value: Any) -> Proc | None:
        if not isinstance(value, Mapping):
            return None
        try:
            proc = cls(str(value["boot"]), str(value["pidns"]), int(value["pid"]), str(value["start"]))
        except (KeyError, TypeError, ValueError):
            return None
        return proc if proc.pid > 0 else None


@dataclass(frozen=True)
class Lease:
    """The marker stored in node extra[MARKER_KEY]. `written_at` is the writer's wall clock, for
    people reading the node; nothing compares it."""

    run_id: str
    holder: str                 # inventory host / instance name, for people reading the node
    phase: str
    from_state: str             # provision_state when announced
    since: str | None = None    # provision_updated_at when announced
    ticket: int | None = None   # None while choosing
    beat: int = 0               # + 1 on every write: a live marker keeps changing
    ttl: float = DEFAULT_TTL    # seen unchanged this long (by any reader's clock) = dead
    proc: Proc | None = None
    written_at: float = 0.0

    def to_extra(self) -> dict:
        return {"v": MARKER_VERSION, "run_id": self.run_id, "holder": self.holder, "phase": self.phase,
                "ticket": self.ticket, "beat": self.beat, "ttl": self.ttl, "from_state": self.from_state,
                "since": self.since, "proc": self.proc.to_extra() if self.proc else None,
                "written_at": round(self.written_at, 3)}

    @classmethod
    def from_extra(cls, value: Any) -> Lease | None:
        """The lease, or None for a missing or malformed marker (which then never counts)."""
        if not isinstance(value, Mapping):
            return None
        try:
            phase = value["phase"]
            ticket = value.get("ticket")
            if phase not in PHASES or (ticket is not None and not isinstance(ticket, int)) \
                    or isinstance(ticket, bool) or (phase != CHOOSING and ticket is None):
                return None
            if value.get("v") == 1:   # written by an older collection: no beat, an absolute expiry
                ttl, beat = V1_TTL, 0
                float(value["expires_at"])
            else:
                ttl, beat = float(value["ttl"]), value["beat"]
                if not isinstance(beat, int) or isinstance(beat, bool) or ttl <= 0:
                    return None
            return cls(run_id=str(value["run_id"]), holder=str(value.get("holder") or ""), phase=phase,
                       from_state=str(value["from_state"]), since=value.get("since"), ticket=ticket,
                       beat=beat, ttl=ttl, proc=Proc.from_extra(value.get("proc")),
                       written_at=float(value.get("written_at") or value.get("announced_at") or 0.0))
        except (KeyError, TypeError, ValueError):
            return None

    def owned_by(self, run_id: str) -> bool:
        return self.run_id == run_id


# -- what a reader has seen ------------------------------------------------------------------
def marker_digest(raw: Any) -> str:
    return hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:20]


def raw_marker(row: Mapping) -> Any:
    extra = row.get("extra")
    return extra.get(MARKER_KEY) if isinstance(extra, Mapping) else None


def observe(rows: Iterable[Mapping], board: Mapping[str, Any], received: float) -> dict[str, list]:
    """The observation board after a listing that arrived at `received` (the reader's monotonic
    clock): {node uuid: [digest of its marker, when this content was first seen]}. Content seen
    before keeps its first sighting; new content (or a board from another boot) starts now."""
    out: dict[str, list] = {}
    for row in rows:
        raw = raw_marker(row)
        if raw is None:
            continue
        digest = marker_digest(raw)
        old = board.get(row["uuid"])
        if isinstance(old, (list, tuple)) and len(old) == 2 and old[0] == digest \
                and isinstance(old[1], (int, float)) and old[1] <= received:
            out[row["uuid"]] = [digest, float(old[1])]
        else:
            out[row["uuid"]] = [digest, float(received)]
    return out


def unchanged_for(row: Mapping, board: Mapping[str, Any] | None, read_at: float | None) -> float:
    """Seconds this reader has seen the row's marker unchanged as of `read_at` (the sending of the
    listing the row came from); 0 when it has no record of this content."""
    if not board or read_at is None:
        return 0.0
    seen = board.get(row["uuid"])
    raw = raw_marker(row)
    if raw is None or not seen or seen[0] != marker_digest(raw):
        return 0.0
    return max(0.0, read_at - seen[1])


@dataclass(frozen=True)
class SlotNode:
    """One node as wave_slot sees it."""

    uuid: str
    name: str | None
    provision_state: str | None
    target_provision_state: str | None
    provision_updated_at: str | None
    conductor_group: str
    lease: Lease | None
    unchanged_for: float = 0.0     # seconds this reader has seen the marker unchanged
    run_gone: bool = False         # the marker's ansible-playbook is provably gone

    @classmethod
    def from_mapping(cls, node: Mapping, unchanged: float = 0.0,
                     gone: Callable[[Proc], bool] | None = None) -> SlotNode:
        lease = Lease.from_extra(raw_marker(node))
        return cls(uuid=node["uuid"], name=node.get("name"), provision_state=node.get("provision_state"),
                   target_provision_state=node.get("target_provision_state"),
                   provision_updated_at=node.get("provision_updated_at"),
                   conductor_group=(node.get("conductor_group") or "").lower(), lease=lease,
                   unchanged_for=unchanged,
                   run_gone=bool(lease is not None and lease.proc is not None and gone and gone(lease.proc)))

    def label(self) -> str:
        return f"{self.name} ({self.uuid})" if self.name else self.uuid


def parse_nodes(rows: Iterable[Mapping], board: Mapping[str, Any] | None = None, read_at: float | None = None,
                gone: Callable[[Proc], bool] | None = None) -> list[SlotNode]:
    return [SlotNode.from_mapping(r, unchanged_for(r, board, read_at), gone) for r in rows]


@dataclass(frozen=True)
class Scope:
    """Which nodes share the limit: all of them, or those of one conductor group."""

    kind: str = GLOBAL
    group: str = ""

    def __post_init__(self) -> None:
        if self.kind not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {self.kind!r}")

    def contains(self, node: SlotNode) -> bool:
        return self.kind == GLOBAL or node.conductor_group == (self.group or "").lower()

    def describe(self) -> str:
        return "all nodes" if self.kind == GLOBAL else f"conductor group {self.group or '(default)'!r}"


def is_busy(node: SlotNode, busy_states: frozenset = BUSY_STATES) -> bool:
    return node.provision_state in busy_states


def lease_live(node: SlotNode) -> bool:
    """The marker's writer may still be refreshing it: not seen unchanged for its ttl, and its
    run not provably gone."""
    return node.lease is not None and not node.run_gone and node.unchanged_for < node.lease.ttl


def lease_counts(node: SlotNode, busy_states: frozenset = BUSY_STATES) -> bool:
    """A marker counts while live and the node has not moved since the announcement. A busy node
    counts as busy instead (never twice); past busy (active, failed, ...) it stops counting."""
    lease = node.lease
    if not lease_live(node) or is_busy(node, busy_states):
        return False
    if node.provision_state != lease.from_state:
        return False
    return lease.since is None or node.provision_updated_at == lease.since


@dataclass(frozen=True)
class Holders:
    """One read of Ironic, counted. `total` = busy ∪ held: the slots in use right now."""

    busy: tuple[str, ...] = ()
    held: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()
    choosing: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return len(self.busy) + len(self.held)

    @property
    def announced(self) -> int:
        return len(self.held) + len(self.waiting) + len(self.choosing)

    def as_dict(self) -> dict:
        return {"busy": len(self.busy), "held": len(self.held), "waiting": len(self.waiting),
                "choosing": len(self.choosing), "total": self.total}


def count_holders(nodes: Iterable[SlotNode], scope: Scope = Scope(),
                  busy_states: frozenset = BUSY_STATES) -> Holders:
    """Busy nodes and live markers by phase, within the scope (node UUIDs, sorted)."""
    out: dict[str, list[str]] = {"busy": [], HELD: [], WAITING: [], CHOOSING: []}
    for node in nodes:
        if not scope.contains(node):
            continue
        if is_busy(node, busy_states):
            out["busy"].append(node.uuid)
        elif lease_counts(node, busy_states):
            out[node.lease.phase].append(node.uuid)
    return Holders(*(tuple(sorted(out[k])) for k in ("busy", HELD, WAITING, CHOOSING)))


def next_ticket(nodes: Iterable[SlotNode], exclude: str | None = None) -> int:
    """1 + the highest ticket of any live marker (any scope, any node state) but `exclude`'s: a
    run that announces after reading another's ticket always ranks behind it."""
    tickets = [n.lease.ticket for n in nodes
               if n.uuid != exclude and lease_live(n) and n.lease.ticket is not None]
    return 1 + max(tickets, default=0)


# -- admission -----------------------------------------------------------------------------
ADMIT = "admit"
WAIT = "wait"
LOST = "lost"          # my marker is gone or belongs to another run (or write) now
MOVED = "moved"        # my node changed provision state while I was queueing
EXPIRED = "expired"    # my writes came too late too often: others may have taken my marker for dead


@dataclass(frozen=True)
class Decision:
    verdict: str
    limit: int
    busy: int = 0
    held: int = 0
    ahead: int = 0          # waiting markers ranked before mine
    choosing: int = 0
    message: str = ""

    @property
    def occupied(self) -> int:
        """What my admission is measured against (mine not included)."""
        return self.busy + self.held + self.ahead + self.choosing

    def as_dict(self) -> dict:
        return {"verdict": self.verdict, "limit": self.limit, "busy": self.busy, "held": self.held,
                "ahead": self.ahead, "choosing": self.choosing, "occupied": self.occupied}


def _rank(node: SlotNode) -> tuple[int, str]:
    return (node.lease.ticket, node.uuid)


def mine_problem(nodes: Iterable[SlotNode], me: str, run_id: str, beat: int | None = None) -> Decision | None:
    """LOST unless node `me` shows this run's marker (with `beat`, the last one written)."""
    mine = next((n for n in nodes if n.uuid == me), None)
    if mine is None or mine.lease is None or not mine.lease.owned_by(run_id):
        owner = mine.lease.run_id if mine is not None and mine.lease is not None else None
        why = f"now held by run {owner!r}" if owner else "gone"
        return Decision(LOST, 0, message=f"the slot marker of node {me} is {why}")
    if beat is not None and mine.lease.beat != beat:
        return Decision(LOST, 0, message=f"the slot marker of node {me} was rewritten by someone else "
                                         f"(beat {mine.lease.beat}, ours {beat})")
    return None


def admission(nodes: Iterable[SlotNode], me: str, run_id: str, limit: int, scope: Scope = Scope(),
              busy_states: frozenset = BUSY_STATES, beat: int | None = None) -> Decision:
    """May the run `run_id`, queueing on node `me` (UUID) with a ticket, take a slot now?

    admit iff busy + held(others) + waiting ahead of me + choosing(others) < limit, all in scope.
    Held markers count whatever their rank (they are slots in use); waiting ones behind me don't.
    My own marker's liveness is the writer's business (slot_timing.continuous), not judged here.
    """
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit!r}")
    nodes = list(nodes)
    problem = mine_problem(nodes, me, run_id, beat)
    if problem:
        return replace(problem, limit=limit)
    mine = next(n for n in nodes if n.uuid == me)
    if mine.lease.ticket is None:
        return Decision(LOST, limit, message=f"the slot marker of node {me} has no ticket yet")
    if is_busy(mine, busy_states) or mine.provision_state != mine.lease.from_state or (
            mine.lease.since is not None and mine.provision_updated_at != mine.lease.since):
        return Decision(MOVED, limit, message=(
            f"node {mine.label()} changed from {mine.lease.from_state!r} to {mine.provision_state!r} "
            "while queueing for a slot; something else is operating on it"))
    busy = held = ahead = choosing = 0
    for node in nodes:
        if node.uuid == me or not scope.contains(node):
            continue
        if is_busy(node, busy_states):
            busy += 1
        elif lease_counts(node, busy_states):
            phase = node.lease.phase
            if phase == HELD:
                held += 1
            elif phase == CHOOSING:
                choosing += 1
            elif _rank(node) < _rank(mine):
                ahead += 1
    verdict = ADMIT if busy + held + ahead + choosing < limit else WAIT
    return Decision(verdict, limit, busy, held, ahead, choosing,
                    message=(f"{busy} busy + {held} held + {ahead} queued ahead + {choosing} choosing "
                             f"= {busy + held + ahead + choosing} of {limit} in {scope.describe()}"))


# -- announcing ----------------------------------------------------------------------------
ANNOUNCE = "announce"      # write a new marker
ALREADY_HELD = "already_held"
CONFLICT = "conflict"      # another run's live marker
NODE_BUSY = "node_busy"    # the node is busy without our held marker


@dataclass(frozen=True)
class AnnouncePlan:
    action: str
    message: str = ""


def plan_announce(node: SlotNode, run_id: str, busy_states: frozenset = BUSY_STATES) -> AnnouncePlan:
    """Before acquiring a slot for `node`: go ahead, nothing to do, or refuse (with why). A marker
    of a run that is provably gone (or seen unchanged for its ttl) is overwritten."""
    lease = node.lease
    mine = lease is not None and lease.owned_by(run_id) and lease_live(node)
    if is_busy(node, busy_states):
        if mine and lease.phase == HELD:
            return AnnouncePlan(ALREADY_HELD, f"node {node.label()} is {node.provision_state!r} "
                                              "under this run's slot")
        return AnnouncePlan(NODE_BUSY, (
            f"node {node.label()} is already busy ({node.provision_state!r}) and counts against the "
            "limit as it is; acquire a slot before starting the operation, not during it"))
    if mine and lease.phase == HELD and lease_counts(node, busy_states):
        return AnnouncePlan(ALREADY_HELD, f"node {node.label()} already holds a slot for this run")
    if lease is not None and not lease.owned_by(run_id) and lease_counts(node, busy_states):
        return AnnouncePlan(CONFLICT, (
            f"node {node.label()} carries a live slot marker of run {lease.run_id!r} (holder "
            f"{lease.holder!r}, {lease.phase}; it stops counting once seen unchanged for {lease.ttl:g} s): "
            "another run is operating on this node; use disjoint node sets per run"))
    if node.target_provision_state and node.provision_state not in UPDATE_ALLOWED_STATES:
        return AnnouncePlan(NODE_BUSY, (
            f"node {node.label()} is in transition to {node.target_provision_state!r}; Ironic "
            "refuses updates until it settles"))
    return AnnouncePlan(ANNOUNCE)


def new_lease(node: SlotNode, run_id: str, holder: str, ttl: float, proc: Proc | None, now: float) -> Lease:
    """The first marker: phase choosing. Its beat continues the node's previous marker, so the
    content always differs from what readers saw before."""
    beat = node.lease.beat + 1 if node.lease is not None else 0
    return Lease(run_id=run_id, holder=holder, phase=CHOOSING, from_state=node.provision_state or "",
                 since=node.provision_updated_at, ticket=None, beat=beat, ttl=float(ttl), proc=proc,
                 written_at=now)


def with_ticket(lease: Lease, ticket: int, now: float) -> Lease:
    return replace(lease, phase=WAITING, ticket=ticket, beat=lease.beat + 1, written_at=now)


def refreshed(lease: Lease, now: float, proc: Proc | None = None) -> Lease:
    """The same marker (same phase, ticket and rank), changed so that readers see it is alive."""
    return replace(lease, beat=lease.beat + 1, written_at=now, proc=proc or lease.proc)


def as_held(lease: Lease, now: float) -> Lease:
    return replace(lease, phase=HELD, beat=lease.beat + 1, written_at=now)


# -- releasing -----------------------------------------------------------------------------
REMOVE = "remove"
ABSENT = "absent"
FOREIGN = "foreign"
IN_TRANSITION = "in_transition"


@dataclass(frozen=True)
class ReleasePlan:
    action: str
    message: str = ""


def plan_release(node: SlotNode, run_id: str, force: bool = False) -> ReleasePlan:
    """Remove our marker; leave other runs' markers; leave it on a node in transition (Ironic
    refuses the PATCH; harmless: a busy node counts as busy, and once past busy the marker no
    longer counts)."""
    lease = node.lease
    if lease is None:
        return ReleasePlan(ABSENT, f"node {node.label()} has no slot marker")
    if not lease.owned_by(run_id) and not force:
        return ReleasePlan(FOREIGN, f"the slot marker of node {node.label()} belongs to run "
                                    f"{lease.run_id!r}, not {run_id!r}; left in place (force=true removes it)")
    if node.target_provision_state and node.provision_state not in UPDATE_ALLOWED_STATES:
        return ReleasePlan(IN_TRANSITION, (
            f"node {node.label()} is {node.provision_state!r} -> {node.target_provision_state!r}; "
            "Ironic refuses updates meanwhile. The marker stops counting once the node leaves "
            f"{lease.from_state!r}, so it is left to lapse"))
    return ReleasePlan(REMOVE)


# -- waiting -------------------------------------------------------------------------------
@dataclass
class PollBackoff:
    """Jittered, slowly growing poll delay: start near `base`, grow x1.5 per poll up to `cap`.
    Many waiting hosts then spread their reads instead of polling in lockstep."""

    base: float = 1.0
    cap: float = 5.0
    growth: float = 1.5
    rng: random.Random = field(default_factory=random.Random)
    _n: int = 0

    def next(self) -> float:
        ceiling = min(self.cap, self.base * self.growth ** self._n)
        self._n += 1
        return self.rng.uniform(0.5 * ceiling, ceiling)


def validate(limit: Any, lease_ttl: Any, timeout: Any, poll_interval: Any, max_poll_interval: Any,
             scope: Any) -> list[str]:
    """Parameter problems, each naming the field and the fix (empty = valid)."""
    errors = []
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        errors.append(f"limit: must be an integer >= 1 (slots shared by all runs), got {limit!r}")
    if not isinstance(lease_ttl, (int, float)) or isinstance(lease_ttl, bool) or not MIN_TTL <= lease_ttl <= MAX_TTL:
        errors.append(f"lease_ttl: must be between {MIN_TTL:g} and {MAX_TTL:g} seconds (a marker is rewritten every "
                      f"lease_ttl/4 s and each write may take lease_ttl/4 s; below {MIN_TTL:g} s that is too "
                      f"tight for an API under load), got {lease_ttl!r}")
    if not isinstance(timeout, (int, float)) or timeout < 0:
        errors.append(f"timeout: must be >= 0 seconds, got {timeout!r}")
    if not isinstance(poll_interval, (int, float)) or not 0.05 <= poll_interval <= 60:
        errors.append(f"poll_interval: must be between 0.05 and 60 seconds, got {poll_interval!r}")
    elif not isinstance(max_poll_interval, (int, float)) or max_poll_interval < poll_interval:
        errors.append(f"max_poll_interval: must be >= poll_interval ({poll_interval}), got {max_poll_interval!r}")
    if scope not in SCOPES:
        errors.append(f"scope: must be one of {', '.join(SCOPES)}, got {scope!r}")
    return errors


# -- run identity --------------------------------------------------------------------------
RUN_ID_ENV = "IRONWAVE_RUN_ID"
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9._:@/+-]{1,128}$")


def derive_run_id(env: Mapping[str, str], task_vars: Mapping[str, Any], controller: str,
                  playbook_pid: int, playbook_started: str = "") -> tuple[str, str]:
    """(run_id, where it came from), first match wins:
    $IRONWAVE_RUN_ID on the controller; the variable `ironwave_run_id`; AWX's `awx_job_id`
    (`tower_job_id` on old Towers: every job slice is a job of its own, so slices differ);
    else this ansible-playbook process: controller host name + PID + the process start time
    (so a PID reused later is still another run)."""
    if env.get(RUN_ID_ENV):
        return str(env[RUN_ID_ENV]), f"environment {RUN_ID_ENV}"
    if task_vars.get("ironwave_run_id"):
        return str(task_vars["ironwave_run_id"]), "variable ironwave_run_id"
    for var in ("awx_job_id", "tower_job_id"):
        if task_vars.get(var) not in (None, ""):
            return f"awx-job-{task_vars[var]}", f"variable {var}"
    suffix = f"-{playbook_started}" if playbook_started else ""
    return f"{controller}-{playbook_pid}{suffix}", "ansible-playbook process"


def module_run_id(given: str | None, env: Mapping[str, str]) -> str:
    """The run id a module works under: its `run_id` parameter (filled in by the action plugin),
    else $IRONWAVE_RUN_ID; raises ValueError with a message naming the field and the fix."""
    run_id = given or env.get(RUN_ID_ENV)
    if not run_id:
        raise ValueError("run_id: not set; pass run_id, or set IRONWAVE_RUN_ID, or run the module through "
                         "its action plugin (the default), which derives one per run")
    problem = check_run_id(run_id)
    if problem:
        raise ValueError(problem)
    return run_id


def check_run_id(run_id: Any) -> str | None:
    """A problem with a run id (None = fine). It is stored in node extra and compared verbatim."""
    if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
        return (f"run_id: must be 1-128 characters of letters, digits and ._:@/+- "
                f"(for example an AWX job id), got {run_id!r}")
    return None
