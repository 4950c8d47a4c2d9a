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
runs' nodes count too) union nodes this controller admitted whose effect a listing cannot show yet
(admitted, request not answered yet; or answered after that listing was made). Exact for one
controller; across controllers use the lease protocol of wave_slot.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_lease import BUSY_STATES

SCOPES = ("global", "conductor_group")


@dataclass(frozen=True)
class Admission:
    """One deploy request this controller let through. sent_at: when Ironic answered it (None
    while the request is still out); until: when a crashed caller's entry stops counting."""

    node: str
    group: str
    sent_at: float | None
    until: float

    def as_dict(self) -> dict:
        return {"group": self.group, "sent_at": self.sent_at, "until": self.until}

    @classmethod
    def from_dict(cls, node: str, raw: Mapping) -> "Admission":
        sent = raw.get("sent_at")
        return cls(node=node, group=str(raw.get("group") or ""), sent_at=None if sent is None else float(sent),
                   until=float(raw.get("until", 0)))


def in_scope(node: Mapping, scope: str, group: str) -> bool:
    return scope == "global" or (node.get("conductor_group") or "") == group


def busy_in_listing(nodes: Iterable[Mapping], scope: str = "global", group: str = "") -> set[str]:
    """UUIDs the listing shows busy (deploying, wait call-back, cleaning, ...) within the scope."""
    return {n["uuid"] for n in nodes
            if n.get("provision_state") in BUSY_STATES and in_scope(n, scope, group)}


def still_counting(entries: Mapping[str, Admission], listed_at: float, now: float) -> dict[str, Admission]:
    """Admissions a listing made at `listed_at` cannot reflect yet: request still out, or answered
    after the listing was made. Expired ones (crashed callers) are dropped."""
    return {node: a for node, a in entries.items()
            if a.until > now and (a.sent_at is None or a.sent_at > listed_at)}


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
              limit: int, scope: str, hold: float) -> bool:
    """One gate decision on the board's raw entries (changed in place): prune, decide, record.

    `busy` comes from a listing made at `listed_at`; `hold` is how long an admission whose
    caller never reports back keeps counting."""
    parsed = {n: Admission.from_dict(n, raw) for n, raw in entries.items() if isinstance(raw, Mapping)}
    entries.clear()
    # Keep what may still matter to someone holding an older listing; drop expired entries.
    entries.update({n: a.as_dict() for n, a in parsed.items()
                    if a.until > now and (a.sent_at is None or a.sent_at > listed_at - 60.0)})
    pending = still_counting(parsed, listed_at, now)
    if not may_admit(node, busy, pending, limit, scope, group):
        return False
    entries[node] = Admission(node, group, None, now + hold).as_dict()
    return True


def mark_sent(entries: dict, node: str, at: float, hold: float) -> None:
    """The deploy request for `node` was answered at `at`: from now on listings made after `at`
    show the node busy (or done), so the entry stops counting there."""
    raw = entries.get(node)
    if isinstance(raw, Mapping):
        entries[node] = {**raw, "sent_at": at, "until": at + hold}


def withdraw(entries: dict, node: str) -> None:
    """The request failed: the node never turned busy."""
    entries.pop(node, None)
