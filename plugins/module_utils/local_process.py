# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Decide how to bring a pidfile-managed local daemon (the embedded Ironic) to a wanted state.

Stdlib only, no Ansible. The module ironwave.baremetal.local_process does the I/O (signals, HTTP
wait; spawn_detached below is the one process-creating helper); here live the rules: how a pidfile is read, when a PID is really *our* daemon (its /proc cmdline
carries our command line - never trust a bare PID, it may have been reused), and which action
(start / stop / restart / nothing) a wanted state needs.
"""
from __future__ import annotations

import os
import time
import subprocess
from dataclasses import dataclass

STARTED = "started"
STOPPED = "stopped"
RESTARTED = "restarted"
STATES = (STARTED, STOPPED, RESTARTED)

NONE = "none"
START = "start"
STOP = "stop"
RESTART = "restart"


@dataclass(frozen=True)
class Observed:
    """What is on disk and in /proc right now."""

    pid: int | None = None  # PID recorded in the pidfile (None: no or unreadable pidfile)
    running: bool = False  # that PID is alive (not a zombie) and its cmdline matches ours
    foreign: bool = False  # that PID is alive but is some other program (PID reused)
    fingerprint: str | None = None  # fingerprint recorded when it was started


@dataclass(frozen=True)
class Plan:
    action: str  # NONE | START | STOP | RESTART
    drop_pidfile: bool  # the pidfile is stale and must go (before a start, or on stop)
    reason: str


def parse_pidfile(text: str | None) -> int | None:
    """The PID in a pidfile's text, or None when it is empty or garbage."""
    if not text:
        return None
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not first.isdigit():
        return None
    pid = int(first)
    return pid if pid > 1 else None


def cmdline_tokens(raw: bytes) -> tuple[str, ...]:
    """Tokens of a /proc/PID/cmdline.

    Daemons using setproctitle (Ironic does) rewrite it to one string such as
    'ironic: master process [/venv/bin/ironic --config-file /x/ironic.conf]', so split on NUL and
    whitespace and strip the brackets to get comparable tokens.
    """
    text = raw.replace(b"\0", b" ").decode("utf-8", "replace")
    return tuple(tok.strip("[]") for tok in text.split() if tok.strip("[]"))


def matches(tokens: tuple[str, ...], match: list[str] | tuple[str, ...]) -> bool:
    """True when every match string is one whole token of the cmdline (no substring tricks:
    /x/ironic.conf must not match /x/ironic.conf.bak)."""
    if not match:
        return False
    present = set(tokens)
    return all(m in present for m in match)


def proc_state(stat_text: str) -> str:
    """The one-letter state from /proc/PID/stat ('R', 'S', 'Z', ...). The command name is in
    parentheses and may itself contain spaces or parentheses, so parse from the last ')'."""
    tail = stat_text.rsplit(")", 1)[-1].split()
    return tail[0] if tail else "?"


def read_cmdline(path: str, tries: int = 20, pause: float = 0.025) -> list[str]:
    """/proc/<pid>/cmdline reads empty for a moment while a freshly started process execs: read
    again briefly before concluding anything from an empty command line."""
    for attempt in range(tries):
        with open(path, "rb") as handle:
            tokens = cmdline_tokens(handle.read())
        if tokens or attempt == tries - 1:
            return tokens
        time.sleep(pause)
    return []


def observe(pid: int | None, match: list[str], fingerprint: str | None,
            proc_root: str = "/proc") -> Observed:
    """Look at /proc for the pidfile's PID. A zombie counts as gone: it can no longer serve, and
    where nobody reaps orphans (containers) it may linger for ever."""
    if pid is None:
        return Observed(fingerprint=fingerprint)
    base = os.path.join(proc_root, str(pid))
    try:
        with open(os.path.join(base, "stat"), encoding="utf-8", errors="replace") as handle:
            state = proc_state(handle.read())
        tokens = read_cmdline(os.path.join(base, "cmdline"))
    except OSError:
        return Observed(pid=pid, fingerprint=fingerprint)
    if state in ("Z", "X"):
        return Observed(pid=pid, fingerprint=fingerprint)
    ours = matches(tokens, match)
    return Observed(pid=pid, running=ours, foreign=not ours, fingerprint=fingerprint)


def plan(wanted: str, observed: Observed, fingerprint: str | None = None) -> Plan:
    """Which action brings `observed` to `wanted`.

    A running daemon whose recorded fingerprint (for example a checksum of its config file and
    version) differs from `fingerprint` is restarted; `fingerprint=None` means "don't compare".
    """
    if wanted not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}, got {wanted!r}")
    stale = observed.pid is not None and not observed.running
    if wanted == STOPPED:
        if observed.running:
            return Plan(STOP, True, f"running as PID {observed.pid}")
        if stale:
            return Plan(NONE, True, _stale_reason(observed))
        return Plan(NONE, False, "not running")
    if not observed.running:
        reason = _stale_reason(observed) if stale else "not running"
        return Plan(START, stale, reason)
    if wanted == RESTARTED:
        return Plan(RESTART, False, "restart requested")
    if fingerprint is not None and observed.fingerprint != fingerprint:
        return Plan(RESTART, False, "configuration changed since it was started")
    return Plan(NONE, False, f"already running as PID {observed.pid}")


def _stale_reason(observed: Observed) -> str:
    if observed.foreign:
        return (f"stale pidfile: PID {observed.pid} now belongs to another program "
                "(left alone)")
    return f"stale pidfile: PID {observed.pid} is gone"


def log_tail(text: str, lines: int = 40) -> str:
    """The last `lines` lines of a log, for error messages."""
    return "\n".join(text.splitlines()[-lines:])


def spawn_detached(argv: list[str], log_file: str, cwd: str | None = None,
                   env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start argv in its own session (setsid): it outlives the Ansible run, leads its own process
    group (so its workers can be stopped with it) and holds none of Ansible's pipes - stdin is
    /dev/null, stdout and stderr are appended to log_file."""
    with open(log_file, "ab") as log, open(os.devnull, "rb") as devnull:
        return subprocess.Popen(argv, stdin=devnull, stdout=log, stderr=subprocess.STDOUT,
                                cwd=cwd, env=env, start_new_session=True, close_fds=True)
