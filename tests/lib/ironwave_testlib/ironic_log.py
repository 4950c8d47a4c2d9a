# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""What the local Ironic's own log says (pure parsing plus a cursor on the file).

Access lines: `<ts> <pid> INFO ironic.api [...] 127.0.0.1 - GET /v1/nodes - 200 (1.2ms)`;
state changes: `Node <uuid> moved to provision state "deploying" from state "available"`.
"""
from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

TS = r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)"
ACCESS = re.compile(TS + r"?.*?ironic\.api \[[^\]]*\] \S+ - (?P<method>GET|POST|PUT|PATCH|DELETE|HEAD) "
                    r"(?P<path>\S+) - (?P<status>\d{3})(?: \((?P<ms>[\d.]+)ms\))?")
MOVED = re.compile(TS + r"?.*?Node (?P<node>[0-9a-f-]{36}) moved to provision state \"(?P<state>[^\"]+)\""
                   r"(?: from state \"(?P<prev>[^\"]+)\")?")
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEPLOY_BUSY = frozenset({"deploying", "wait call-back"})


def timestamp(text: str | None) -> float | None:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").timestamp() if text else None


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int
    ts: float | None = None
    ms: float | None = None   # Ironic's own time to answer

    @property
    def node(self) -> str | None:
        """The node UUID/name of /v1/nodes/<x>/... paths."""
        parts = self.path.split("?")[0].split("/")
        return parts[3] if len(parts) > 3 and parts[2] == "nodes" else None

    @property
    def is_deploy(self) -> bool:
        return self.method == "PUT" and self.path.split("?")[0].endswith("/states/provision")


@dataclass(frozen=True)
class Move:
    node: str
    state: str
    prev: str | None
    ts: float | None


def requests(text: str) -> list[Request]:
    return [Request(m["method"], m["path"], int(m["status"]), timestamp(m["ts"]), float(m["ms"]) if m["ms"] else None)
            for m in ACCESS.finditer(text)]


def mutating(text: str) -> list[Request]:
    return [r for r in requests(text) if r.method in MUTATING]


def moves(text: str) -> list[Move]:
    return [Move(m["node"], m["state"], m["prev"], timestamp(m["ts"])) for m in MOVED.finditer(text)]


def peak_busy(text: str, uuids: Iterable[str] | None = None, busy: frozenset = DEPLOY_BUSY) -> int:
    """Most nodes (of `uuids`) in a busy state at once, replayed from Ironic's state changes."""
    wanted = set(uuids) if uuids is not None else None
    now: set[str] = set()
    peak = 0
    for move in moves(text):
        if wanted is not None and move.node not in wanted:
            continue
        if move.state in busy:
            now.add(move.node)
        else:
            now.discard(move.node)
        peak = max(peak, len(now))
    return peak


class LogCursor:
    """Read what Ironic logged after a mark: `cur = LogCursor(path)`; ...; `cur.text()`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def text(self, settle: float = 1.0) -> str:
        """The log since the mark; waits `settle` s first (access lines follow the response)."""
        if settle:
            time.sleep(settle)
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            return fh.read().decode("utf-8", errors="replace")

    def requests(self, settle: float = 1.0) -> list[Request]:
        return requests(self.text(settle))

    def mutating(self, settle: float = 1.0) -> list[Request]:
        return mutating(self.text(settle))
