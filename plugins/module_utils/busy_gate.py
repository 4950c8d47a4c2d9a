# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The busy gate: send a deploy request only while fewer than `limit` nodes are busy in Ironic.

Pure decisions (stdlib only); the file-locked board that stores admissions lives in poll_cache.py
and node_deploy calls both.

Why: the slot that matters is a node busy in Ironic, not an Ansible host in flight. Hosts admitted
ahead of the slot (the wave strategy's prefetch) do their reservation and module start-up while
other nodes deploy, then wait here; the first listing that shows a node done lets the next one in,
so a freed slot is refilled within one poll tick and without extra requests (the listing is the
one every waiting host shares anyway).

Counting: busy = nodes the listing shows in a busy state (Ironic is the source of truth, so other
runs' nodes count too) union nodes admitted through the same board whose effect a listing cannot
show yet (admitted, request not answered yet; or answered after that listing was made).

Scope of the guarantee: the board is keyed by the bare metal endpoint actually reached (not the
cloud's name or spelling) and lives in one directory per host that does not depend on the user or
$TMPDIR (poll_cache.admission_dir). So every run on one host reaching the same Ironic is exact
together: busy nodes never exceed the limit through their admissions. Runs that cannot see that
directory (other hosts, containers or AWX jobs with a private /tmp unless the directory is exposed
to them) each admit against the listing alone: until a listing shows the others' new deploys (one
poll interval plus a request) each may admit up to the limit. For a strict limit across those use
the lease protocol of wave_slot (deploy_limit_scope: cloud).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from ansible_collections.ironwave.baremetal.plugins.module_utils.ironic_states import BUSY as BUSY_STATES

SCOPES = ("global", "conductor_group")


@dataclass(frozen=True)
class Admission:
    """One deploy request let through. sent_at: when Ironic answered it (None while the request is
    still out); until: when a crashed caller's entry stops counting; pid/start: the admitted
    process (its start time tells a reused PID apart), so a pending entry of a process that died
    before sending stops counting at once instead of at `until`."""

    node: str
    group: str
    sent_at: float | None
    until: float
    pid: int | None = None
    start: str = ""
    marking: bool = False   # admitted by the cloud gate, its slot marker write still out

    def as_dict(self) -> dict:
        return {"group": self.group, "sent_at": self.sent_at, "until": self.until, "pid": self.pid,
                "start": self.start, "marking": self.marking}

    @classmethod
    def from_dict(cls, node: str, raw: Mapping) -> "Admission":
        sent, pid = raw.get("sent_at"), raw.get("pid")
        return cls(node=node, group=str(raw.get("group") or ""), sent_at=None if sent is None else float(sent),
                   until=float(raw.get("until", 0)), pid=int(pid) if isinstance(pid, int) else None,
                   start=str(raw.get("start") or ""), marking=raw.get("marking") is True)


def _always_alive(pid: int, start: str) -> bool:
    return True


def in_scope(node: Mapping, scope: str, group: str) -> bool:
    return scope == "global" or (node.get("conductor_group") or "") == group


def busy_in_listing(nodes: Iterable[Mapping], scope: str = "global", group: str = "") -> set[str]:
    """UUIDs the listing shows busy (deploying, wait call-back, cleaning, ...) within the scope."""
    return {n["uuid"] for n in nodes
            if n.get("provision_state") in BUSY_STATES and in_scope(n, scope, group)}


def live(a: Admission, now: float, alive: Callable[[int, str], bool] = _always_alive) -> bool:
    """Not expired, and - while its request is still out - its process still runs."""
    if a.until <= now:
        return False
    return a.sent_at is not None or a.pid is None or alive(a.pid, a.start)


def still_counting(entries: Mapping[str, Admission], listed_at: float, now: float,
                   alive: Callable[[int, str], bool] = _always_alive) -> dict[str, Admission]:
    """Admissions a listing made at `listed_at` cannot reflect yet: request still out, or answered
    after the listing was made. Expired ones and those of processes that died before sending
    (crashed callers) are dropped."""
    return {node: a for node, a in entries.items()
            if live(a, now, alive) and (a.sent_at is None or a.sent_at > listed_at)}


def may_admit(node: str, busy: set[str], pending: Mapping[str, Admission], limit: int,
              scope: str = "global", group: str = "") -> bool:
    """True when `node` may go: the other busy or pending nodes in its scope are fewer than `limit`."""
    scoped = {n for n, a in pending.items() if scope == "global" or a.group == group}
    return len((busy | scoped) - {node}) < limit


def validate(limit: int, scope: str) -> str | None:
    """An error message naming the field and the fix, or None."""
    if limit < 0:
        return f"busy_limit: {limit} is negative; use 0 (no gate) or the number of nodes allowed busy at once"
    if scope not in SCOPES:
        return f"busy_scope: {scope!r} is not one of {', '.join(SCOPES)}"
    return None


def try_admit(entries: dict, node: str, group: str, busy: set[str], listed_at: float, now: float,
              limit: int, scope: str, hold: float, pid: int | None = None, start: str = "",
              alive: Callable[[int, str], bool] = _always_alive, marking: bool = False) -> bool:
    """One gate decision on the board's raw entries (changed in place): prune, decide, record.

    `busy` comes from a listing made at `listed_at`; `hold` is how long an admission whose
    caller never reports back keeps counting; `pid`/`start` name the caller and `alive(pid,
    start)` tells whether a recorded caller still runs; `marking`: the caller writes a slot
    marker next (cloud gate) and says so with marked()."""
    parsed = {n: Admission.from_dict(n, raw) for n, raw in entries.items() if isinstance(raw, Mapping)}
    entries.clear()
    # Keep what may still matter to someone holding an older listing; drop dead entries.
    entries.update({n: a.as_dict() for n, a in parsed.items()
                    if live(a, now, alive) and (a.sent_at is None or a.sent_at > listed_at - 60.0)})
    pending = still_counting(parsed, listed_at, now, alive)
    if not may_admit(node, busy, pending, limit, scope, group):
        return False
    entries[node] = Admission(node, group, None, now + hold, pid, start, marking).as_dict()
    return True


def marked(entries: dict, node: str) -> None:
    """The cloud gate's slot marker for `node` is written (or its write failed)."""
    raw = entries.get(node)
    if isinstance(raw, Mapping):
        entries[node] = {**raw, "marking": False}


def markers_in_flight(entries: Mapping, node: str, now: float,
                      alive: Callable[[int, str], bool] = _always_alive) -> int:
    """Other live admissions whose slot marker write is still out. A host of the cloud gate waits
    (briefly) for them before its verifying listing: one listing sent after all their writes
    verifies every one of them (the shared listing serves each a copy made after its own write)."""
    return sum(1 for n, raw in entries.items() if n != node and isinstance(raw, Mapping) and raw.get("marking") is True
               and live(Admission.from_dict(n, raw), now, alive))


def mark_sent(entries: dict, node: str, at: float, hold: float) -> None:
    """The deploy request for `node` was answered at `at`: from now on listings made after `at`
    show the node busy (or done), so the entry stops counting there."""
    raw = entries.get(node)
    if isinstance(raw, Mapping):
        entries[node] = {**raw, "sent_at": at, "until": at + hold}


def rekey(entries: dict, old: str, new: str) -> None:
    """The admission recorded under `old` (an instance without a node yet) is node `new`'s now."""
    if old != new and old in entries:
        entries[new] = entries.pop(old)


def withdraw(entries: dict, node: str) -> None:
    """The request failed: the node never turned busy."""
    entries.pop(node, None)
