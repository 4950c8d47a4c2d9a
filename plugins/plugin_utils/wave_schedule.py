# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Bounded waves: settings validation, wave partition, sliding-window admission, failure budgets.

Pure Python (stdlib only). The ``ironwave.baremetal.wave`` strategy is a thin adapter around
:class:`WaveScheduler`: it tells the scheduler when a host left the play (and whether it failed,
from the play iterator / TQM host sets) and asks which hosts may start now.

Semantics (see docs/wave-strategy.md):

* Hosts (in play order) are cut into waves by ``ironwave_wave_schedule`` exactly like ``serial``'s
  list: ``[1, 5, "20%"]`` = 1 host, then 5, then 20% of the play's hosts per wave until hosts
  run out (the last size repeats). No schedule = one wave with every host.
* A host is *in flight* from admission until its last task and its handlers are done.
* Window = min(``ironwave_wave_size``, size of the oldest unfinished wave, AIMD window). The window
  slides: a new host enters as soon as one leaves, also across a wave boundary (the next wave's
  hosts fill slots freed by the current wave), except at a gate.
* Gate: with ``ironwave_wave_gate: first`` (default) the first wave (canary) must completely finish
  within its budget before any other host starts; ``every`` puts that gate between all waves.
* Prefetch (``ironwave_wave_prefetch``, default 0): that many hosts more may be in flight than
  the window, never past a closed gate. For plays whose real slot is taken inside a task (the
  deploy role's busy gate: a node busy in Ironic): prefetched hosts reserve and start their
  modules while the window's nodes deploy, then wait at that gate.
* Failure budget per wave (``ironwave_wave_max_failures`` count and/or
  ``ironwave_wave_max_fail_percentage``; scalars or per-wave lists, last repeats; default 0
  failures) is evaluated as each host leaves. Exceeded: admission stops for good, in-flight hosts
  finish, the rest are ``not_started``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from ansible_collections.ironwave.baremetal.plugins.plugin_utils.aimd import AimdWindow

VAR_SIZE = "ironwave_wave_size"
VAR_SCHEDULE = "ironwave_wave_schedule"
VAR_MAX_FAILURES = "ironwave_wave_max_failures"
VAR_MAX_FAIL_PCT = "ironwave_wave_max_fail_percentage"
VAR_GATE = "ironwave_wave_gate"
VAR_POLL = "ironwave_wave_poll_interval"
VAR_BP_FACTOR = "ironwave_wave_backpressure_factor"
VAR_PREFETCH = "ironwave_wave_prefetch"
SETTING_VARS = (VAR_SIZE, VAR_SCHEDULE, VAR_MAX_FAILURES, VAR_MAX_FAIL_PCT, VAR_GATE, VAR_POLL, VAR_BP_FACTOR,
                VAR_PREFETCH)

#: Host fact a play sets (``ansible.builtin.set_fact``) to report backpressure from the cloud.
BACKPRESSURE_FACT = "ironwave_backpressure"

GATES = ("first", "every")
DEFAULT_POLL_INTERVAL = 0.05
DEFAULT_BP_FACTOR = 0.5

# Host states.
WAITING = "waiting"
RUNNING = "running"
OK = "ok"
FAILED = "failed"
UNREACHABLE = "unreachable"
NOT_STARTED = "not_started"

_PCT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_INT_RE = re.compile(r"^\s*[+-]?\d+\s*$")
_NUM_RE = re.compile(r"^\s*[+-]?\d+(?:\.\d+)?\s*$")


class WaveSettingsError(ValueError):
    """Bad strategy settings. The message names the variable and the fix."""


# --------------------------------------------------------------------------- settings

@dataclass(frozen=True)
class SizeSpec:
    """A host count: absolute (``value``) or a percentage of the play's hosts."""

    value: float
    percent: bool = False

    def resolve(self, total: int) -> int:
        # Same rounding as serial: floor, but never below one host.
        if not self.percent:
            return int(self.value)
        return max(1, int(total * self.value / 100.0))

    def __str__(self) -> str:
        if self.percent:
            return ("%g" % self.value) + "%"
        return str(int(self.value))


@dataclass(frozen=True)
class WaveSettings:
    window: SizeSpec | None
    schedule: tuple[SizeSpec, ...]
    max_failures: tuple[int | None, ...]
    max_fail_percentage: tuple[float | None, ...]
    gate: str = "first"
    poll_interval: float = DEFAULT_POLL_INTERVAL
    backpressure_factor: float = DEFAULT_BP_FACTOR
    prefetch: int = 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _parse_size(name: str, value: Any) -> SizeSpec:
    fix = "use a whole number of hosts >= 1 or a percentage like '20%' (0 < p <= 100)"
    if isinstance(value, str):
        m = _PCT_RE.match(value)
        if m:
            pct = float(m.group(1))
            if pct <= 0 or pct > 100:
                raise WaveSettingsError("%s: percentage %r is out of range; %s." % (name, value, fix))
            return SizeSpec(pct, percent=True)
        if _INT_RE.match(value):
            value = int(value)
    if _is_number(value) and float(value).is_integer():
        if value < 1:
            raise WaveSettingsError("%s: %r hosts is not a size; %s." % (name, value, fix))
        return SizeSpec(float(int(value)))
    raise WaveSettingsError("%s: %r is not a host count; %s." % (name, value, fix))


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _parse_count(name: str, value: Any) -> int:
    fix = "use a whole number of failed hosts >= 0 (0 = stop at the first failure)"
    if isinstance(value, str) and _INT_RE.match(value):
        value = int(value)
    if _is_number(value) and float(value).is_integer() and value >= 0:
        return int(value)
    raise WaveSettingsError("%s: %r is not a failure count; %s." % (name, value, fix))


def _parse_pct(name: str, value: Any) -> float:
    fix = "use a number between 0 and 100 (percent of the wave's hosts that may fail)"
    if isinstance(value, str):
        stripped = value.strip().rstrip("%")
        if _NUM_RE.match(stripped):
            value = float(stripped)
    if _is_number(value) and 0 <= value <= 100:
        return float(value)
    raise WaveSettingsError("%s: %r is not a percentage; %s." % (name, value, fix))


def _parse_float(name: str, value: Any, low: float, high: float | None, fix: str) -> float:
    if isinstance(value, str) and _NUM_RE.match(value):
        value = float(value)
    if _is_number(value) and value > low and (high is None or value < high):
        return float(value)
    raise WaveSettingsError("%s: %r is invalid; %s." % (name, value, fix))


def _nonempty_list(name: str, value: Any) -> list[Any]:
    items = _as_list(value)
    if not items:
        raise WaveSettingsError("%s: the list is empty; give at least one value or remove the variable." % name)
    return items


def parse_settings(raw: Mapping[str, Any]) -> WaveSettings:
    """Validate the strategy's play vars. ``None`` values count as unset."""
    window = None
    if raw.get(VAR_SIZE) is not None:
        window = _parse_size(VAR_SIZE, raw[VAR_SIZE])
    schedule: tuple[SizeSpec, ...] = ()
    if raw.get(VAR_SCHEDULE) is not None:
        schedule = tuple(_parse_size("%s[%d]" % (VAR_SCHEDULE, i), v)
                         for i, v in enumerate(_nonempty_list(VAR_SCHEDULE, raw[VAR_SCHEDULE])))
    if window is None and not schedule:
        raise WaveSettingsError(
            "%s / %s: neither is set; set %s to the number of hosts allowed in flight at once and/or "
            "%s to a list of wave sizes like [1, 5, '20%%']." % (VAR_SIZE, VAR_SCHEDULE, VAR_SIZE, VAR_SCHEDULE))

    max_failures: tuple[int | None, ...] = (None,)
    max_pct: tuple[float | None, ...] = (None,)
    if raw.get(VAR_MAX_FAILURES) is not None:
        max_failures = tuple(_parse_count("%s[%d]" % (VAR_MAX_FAILURES, i), v)
                             for i, v in enumerate(_nonempty_list(VAR_MAX_FAILURES, raw[VAR_MAX_FAILURES])))
    if raw.get(VAR_MAX_FAIL_PCT) is not None:
        max_pct = tuple(_parse_pct("%s[%d]" % (VAR_MAX_FAIL_PCT, i), v)
                        for i, v in enumerate(_nonempty_list(VAR_MAX_FAIL_PCT, raw[VAR_MAX_FAIL_PCT])))
    if max_failures == (None,) and max_pct == (None,):
        max_failures = (0,)  # safe default for bare metal: the first failure stops admission

    gate = raw.get(VAR_GATE)
    if gate is None:
        gate = "first"
    if gate not in GATES:
        raise WaveSettingsError("%s: %r is not a gate; use 'first' (only the canary wave must finish before "
                                "others start) or 'every' (each wave must finish first)." % (VAR_GATE, gate))
    poll = DEFAULT_POLL_INTERVAL
    if raw.get(VAR_POLL) is not None:
        poll = _parse_float(VAR_POLL, raw[VAR_POLL], 0.0, 60.0,
                            "use seconds between admission checks, > 0 and < 60 (e.g. 0.05)")
    factor = DEFAULT_BP_FACTOR
    if raw.get(VAR_BP_FACTOR) is not None:
        factor = _parse_float(VAR_BP_FACTOR, raw[VAR_BP_FACTOR], 0.0, 1.0,
                              "use a number strictly between 0 and 1 (0.5 halves the window on backpressure)")
    prefetch = 0
    if raw.get(VAR_PREFETCH) is not None:
        value = raw[VAR_PREFETCH]
        if isinstance(value, str) and _INT_RE.match(value):
            value = int(value)
        if not (_is_number(value) and float(value).is_integer() and value >= 0):
            raise WaveSettingsError("%s: %r is not a host count; use a whole number >= 0 (extra hosts admitted "
                                    "ahead of the window, 0 = none)." % (VAR_PREFETCH, raw[VAR_PREFETCH]))
        prefetch = int(value)
    return WaveSettings(window=window, schedule=schedule, max_failures=max_failures,
                        max_fail_percentage=max_pct, gate=gate, poll_interval=poll, backpressure_factor=factor,
                        prefetch=prefetch)


def _nth(seq: Sequence[Any], i: int) -> Any:
    """Per-wave value: the last one repeats, like serial's list."""
    return seq[min(i, len(seq) - 1)]


def partition(hosts: Sequence[str], sizes: Sequence[int]) -> list[list[str]]:
    """Cut ``hosts`` into consecutive waves of ``sizes`` (last size repeats)."""
    waves: list[list[str]] = []
    pos = 0
    i = 0
    while pos < len(hosts):
        n = max(1, _nth(sizes, i))
        waves.append(list(hosts[pos:pos + n]))
        pos += n
        i += 1
    return waves


def budget_exceeded(failures: int, wave_hosts: int, max_failures: int | None, max_pct: float | None) -> bool:
    """Strictly more failures than allowed, like max_fail_percentage; and a wave whose hosts all
    failed always exceeds its budget (it proved nothing, so it must not open the next gate)."""
    if wave_hosts > 0 and failures >= wave_hosts:
        return True
    if max_failures is not None and failures > max_failures:
        return True
    if max_pct is not None and wave_hosts > 0 and failures * 100.0 > max_pct * wave_hosts:
        return True
    return False


def check_budgets(settings: WaveSettings, waves: Sequence[Sequence[str]], nominal: Sequence[int]) -> list[str]:
    """Budgets that can never be exceeded. A budget >= a wave's size set in absolute numbers (or
    100 %) is an error: a fully failed wave would still open the gate. A wave that is smaller only
    because of a percentage (or no schedule) gets a warning (returned), the remainder wave at the
    end nothing; for both the rule that a fully failed wave exceeds its budget still halts it."""
    warnings: list[str] = []
    for i in range(len(waves)):
        pct = _nth(settings.max_fail_percentage, i)
        if pct is not None and pct >= 100:
            raise WaveSettingsError(
                "%s[%d]: %g%% is not a budget: every host of a wave may fail (a fully failed canary would open "
                "the gate); use less than 100 (e.g. 10)." % (
                    VAR_MAX_FAIL_PCT, min(i, len(settings.max_fail_percentage) - 1), pct))
        allowed = _nth(settings.max_failures, i)
        hosts = len(waves[i])
        if allowed is None or allowed < hosts:
            continue
        field = "%s[%d]" % (VAR_MAX_FAILURES, min(i, len(settings.max_failures) - 1))
        spec = _nth(settings.schedule, i) if settings.schedule else None
        if spec is not None and not spec.percent and allowed >= nominal[i]:
            raise WaveSettingsError(
                "%s: %d failed host(s) allowed in wave %d of %d host(s) is not a budget: every host of the wave "
                "may fail (a fully failed canary would open the gate); use at most %d for that wave, e.g. a "
                "per-wave list like [0, 1]." % (
                    field, allowed, i + 1, nominal[i], nominal[i] - 1))
        if hosts < nominal[i]:
            continue  # the remainder of the hosts: only the all-failed rule can trip it, by design
        warnings.append(
            "%s: wave %d has %d host(s) and allows %d failed host(s); it halts the rollout only if all of its "
            "hosts fail." % (field, i + 1, hosts, allowed))
    return warnings


def parse_bool(value: Any) -> bool:
    """Truthiness of a fact that may be a native bool or (jinja2 non-native) a string."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "y")
    return bool(value)


# --------------------------------------------------------------------------- state

@dataclass
class HostRecord:
    name: str
    wave: int
    state: str = WAITING
    admitted_at: float | None = None
    left_at: float | None = None
    backpressure: int = 0


@dataclass
class WaveRecord:
    index: int
    hosts: list[str]
    window: int
    max_failures: int | None
    max_fail_percentage: float | None
    admitted: int = 0
    ok: int = 0
    failed: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    budget_exceeded: bool = False

    @property
    def left(self) -> int:
        return self.ok + self.failed

    @property
    def complete(self) -> bool:
        return self.left >= len(self.hosts)


@dataclass(frozen=True)
class WaveSnapshot:
    """What a progress line needs. ``wave`` is 1-based."""

    play: str
    wave: int
    waves: int
    window: int
    window_cap: int
    in_flight: int
    done: int
    ok: int
    failed: int
    waiting: int
    not_started: int
    total: int
    started_at: float
    now: float
    halted: bool


@dataclass(frozen=True)
class WaveEvent:
    """Published by the strategy. kind: play_start, admit, leave, backpressure, halt, play_end."""

    kind: str
    snapshot: WaveSnapshot
    host: str | None = None
    outcome: str | None = None
    message: str = ""
    report: dict[str, Any] | None = None


class WaveScheduler:
    """Admission state machine for one play. ``now`` is wall-clock seconds supplied by the caller."""

    def __init__(self, hosts: Sequence[str], settings: WaveSettings, now: float, play: str = "") -> None:
        if len(set(hosts)) != len(hosts):
            raise ValueError("duplicate host names")
        self.play = play
        self.settings = settings
        total = len(hosts)
        self.total = total
        sizes = [s.resolve(total) for s in settings.schedule] or [max(total, 1)]
        self.window_limit = settings.window.resolve(total) if settings.window else None
        self.waves: list[WaveRecord] = []
        self.hosts: dict[str, HostRecord] = {}
        cut = partition(hosts, sizes)
        #: Settings that are legal but probably not what was meant (the strategy displays them).
        self.warnings = check_budgets(settings, cut, [_nth(sizes, i) for i in range(len(cut))])
        for i, names in enumerate(cut):
            wave_window = _nth(sizes, i)
            if self.window_limit is not None:
                wave_window = min(wave_window, self.window_limit)
            self.waves.append(WaveRecord(
                index=i, hosts=names, window=max(1, wave_window),
                max_failures=_nth(settings.max_failures, i),
                max_fail_percentage=_nth(settings.max_fail_percentage, i)))
            for name in names:
                self.hosts[name] = HostRecord(name=name, wave=i)
        self.order: list[str] = list(hosts)
        self.window_cap = max((w.window for w in self.waves), default=1)
        self.aimd = AimdWindow(cap=self.window_cap, factor=settings.backpressure_factor)
        self.in_flight: dict[str, None] = {}  # insertion-ordered set
        self._next = 0
        self.halted = False
        self.halt_reason = ""
        self.started_at = now
        self.ended_at: float | None = None
        self.peak_in_flight = 0
        #: (time, busy bound) each time busy_bound() changed, as published by the strategy.
        self.busy_bound_changes: list[tuple[float, int | None]] = []

    # -- queries
    def oldest_unfinished_wave(self) -> int:
        for w in self.waves:
            if not w.complete:
                return w.index
        return max(len(self.waves) - 1, 0)

    def current_window(self) -> int:
        if not self.waves:
            return 0
        return max(1, min(self.waves[self.oldest_unfinished_wave()].window, self.aimd.value))

    def current_prefetch(self) -> int:
        """Prefetch shrinks with the AIMD window (same proportion): after backpressure fewer hosts
        wait ahead, and without a busy gate in the play fewer hosts can turn busy."""
        return self.settings.prefetch * self.aimd.value // self.aimd.cap

    def busy_bound(self) -> int | None:
        """The bound on Ironic-busy nodes backpressure asks for (the AIMD window), or None while
        the window is whole. The strategy publishes it; node_deploy's busy gate then admits at most
        min(its own limit, this) - prefetched hosts wait there instead of adding load."""
        return self.aimd.value if self.aimd.value < self.aimd.cap else None

    def note_busy_bound(self, now: float) -> bool:
        """Record the busy bound if it changed since the last call; True when it did (publish it)."""
        last = self.busy_bound_changes[-1][1] if self.busy_bound_changes else None
        bound = self.busy_bound()
        if bound == last:
            return False
        self.busy_bound_changes.append((now, bound))
        return True

    @property
    def waiting(self) -> int:
        return 0 if self.halted or self.ended_at is not None else self.total - self._next

    @property
    def not_started(self) -> list[str]:
        return [h.name for h in self.hosts.values() if h.state in (WAITING, NOT_STARTED) and (
            self.halted or self.ended_at is not None)]

    def _gate_open(self, wave: int) -> bool:
        if wave == 0:
            return True
        if self.settings.gate == "first":
            return self.waves[0].complete
        return self.waves[wave - 1].complete

    # -- transitions
    def admit(self, now: float) -> list[str]:
        """Hosts that may start now, in play order."""
        admitted: list[str] = []
        if self.halted or self.ended_at is not None:
            return admitted
        while self._next < len(self.order):
            name = self.order[self._next]
            rec = self.hosts[name]
            if not self._gate_open(rec.wave) or len(self.in_flight) >= self.current_window() + self.current_prefetch():
                break
            self._next += 1
            rec.state = RUNNING
            rec.admitted_at = now
            wave = self.waves[rec.wave]
            wave.admitted += 1
            if wave.started_at is None:
                wave.started_at = now
            self.in_flight[name] = None
            admitted.append(name)
        self.peak_in_flight = max(self.peak_in_flight, len(self.in_flight))
        return admitted

    def host_left(self, name: str, outcome: str, now: float) -> bool:
        """Record that ``name`` finished (``ok``/``failed``/``unreachable``). Returns True when this
        departure exceeded its wave's failure budget (admission is then halted)."""
        if name not in self.in_flight:
            raise KeyError("%s is not in flight" % name)
        del self.in_flight[name]
        rec = self.hosts[name]
        rec.state = outcome
        rec.left_at = now
        wave = self.waves[rec.wave]
        if outcome == OK:
            wave.ok += 1
            if not rec.backpressure:
                # Only a host the cloud did not push back on is evidence that it can take more.
                self.aimd.on_success()
        else:
            wave.failed += 1
        if wave.complete:
            wave.ended_at = now
        if outcome != OK and not wave.budget_exceeded and budget_exceeded(
                wave.failed, len(wave.hosts), wave.max_failures, wave.max_fail_percentage):
            wave.budget_exceeded = True
            if not self.halted:
                self.halted = True
                self.halt_reason = self._budget_message(wave)
                return True
        return False

    def backpressure(self, name: str) -> int:
        """A host reported backpressure: shrink the window multiplicatively."""
        if name in self.hosts:
            self.hosts[name].backpressure += 1
        return self.aimd.on_backpressure(current=self.current_window())

    def finish(self, now: float) -> None:
        """End of the play: hosts never admitted become not_started."""
        self.ended_at = now
        for rec in self.hosts.values():
            if rec.state == WAITING:
                rec.state = NOT_STARTED

    # -- reporting
    def _budget_message(self, wave: WaveRecord) -> str:
        if wave.failed >= len(wave.hosts):
            return "wave %d/%d failed: all %d host(s) failed" % (wave.index + 1, len(self.waves), wave.failed)
        limits = []
        if wave.max_failures is not None:
            limits.append("%d failed host(s)" % wave.max_failures)
        if wave.max_fail_percentage is not None:
            limits.append("%g%% of its %d hosts" % (wave.max_fail_percentage, len(wave.hosts)))
        return "wave %d/%d exceeded its failure budget (%d failed, allowed %s)" % (
            wave.index + 1, len(self.waves), wave.failed, " or ".join(limits))

    def snapshot(self, now: float) -> WaveSnapshot:
        ok = sum(w.ok for w in self.waves)
        failed = sum(w.failed for w in self.waves)
        finished = self.halted or self.ended_at is not None
        return WaveSnapshot(
            play=self.play, wave=self.oldest_unfinished_wave() + 1, waves=len(self.waves),
            window=self.current_window(), window_cap=self.window_cap, in_flight=len(self.in_flight),
            done=ok + failed, ok=ok, failed=failed, waiting=self.waiting,
            not_started=(self.total - self._next) if finished else 0,
            total=self.total, started_at=self.started_at, now=now, halted=self.halted)

    def summary(self) -> str:
        """One paragraph: what happened and why."""
        ok = sum(w.ok for w in self.waves)
        failed = [h.name for h in self.hosts.values() if h.state in (FAILED, UNREACHABLE)]
        not_started = self.not_started
        if self.halted:
            text = ("Wave rollout of play %r halted: %s. Admission stopped; hosts in flight finished, except "
                    "that ironwave modules not yet past their request stopped without sending it; %d host(s) "
                    "succeeded, %d failed (%s) and %d were never started (%s). "
                    "Fix the failures, then rerun with --limit on the retry file or the not-started list." % (
                        self.play, self.halt_reason, ok, len(failed), _names(failed),
                        len(not_started), _names(not_started)))
        else:
            text = ("Wave rollout of play %r finished: %d wave(s), %d host(s) succeeded, %d failed (%s) "
                    "within budget; peak %d host(s) in flight (window cap %d)." % (
                        self.play, len(self.waves), ok, len(failed), _names(failed),
                        self.peak_in_flight, self.window_cap))
        return text

    def report(self) -> dict[str, Any]:
        """JSON-serialisable record of the play (per wave and per host)."""
        s = self.settings
        return {
            "play": self.play,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "halted": self.halted,
            "halt_reason": self.halt_reason,
            "summary": self.summary(),
            "settings": {
                "window": str(s.window) if s.window else None,
                "schedule": [str(x) for x in s.schedule],
                "max_failures": list(s.max_failures),
                "max_fail_percentage": list(s.max_fail_percentage),
                "gate": s.gate,
                "poll_interval": s.poll_interval,
                "backpressure_factor": s.backpressure_factor,
                "prefetch": s.prefetch,
            },
            "peak_in_flight": self.peak_in_flight,
            "window_cap": self.window_cap,
            "backpressure_decreases": self.aimd.decreases,
            "busy_bound_changes": [{"at": at, "busy_limit": bound} for at, bound in self.busy_bound_changes],
            "totals": {
                "hosts": self.total,
                "ok": sum(w.ok for w in self.waves),
                "failed": sum(w.failed for w in self.waves),
                "not_started": len(self.not_started),
            },
            "waves": [{
                "wave": w.index + 1,
                "hosts": len(w.hosts),
                "window": w.window,
                "ok": w.ok,
                "failed": w.failed,
                "not_started": sum(1 for n in w.hosts if self.hosts[n].state in (WAITING, NOT_STARTED)),
                "started_at": w.started_at,
                "ended_at": w.ended_at,
                "duration": (w.ended_at - w.started_at) if (w.started_at is not None and w.ended_at is not None)
                else None,
                "budget": {"max_failures": w.max_failures, "max_fail_percentage": w.max_fail_percentage},
                "budget_exceeded": w.budget_exceeded,
            } for w in self.waves],
            "hosts": [{
                "name": h.name,
                "wave": h.wave + 1,
                "state": h.state,
                "admitted_at": h.admitted_at,
                "left_at": h.left_at,
                "backpressure": h.backpressure,
            } for h in (self.hosts[n] for n in self.order)],
            "failed_hosts": [h.name for h in self.hosts.values() if h.state in (FAILED, UNREACHABLE)],
            "not_started_hosts": self.not_started,
        }


def artifact_data(report: Mapping[str, Any]) -> dict[str, Any]:
    """The small dict AWX keeps as job artifacts (set_stats, per_host: false)."""
    totals = report["totals"]
    return {
        "play": report["play"],
        "halted": report["halted"],
        "halt_reason": report["halt_reason"],
        "hosts": totals["hosts"],
        "ok": totals["ok"],
        "failed": totals["failed"],
        "not_started": totals["not_started"],
        "failed_hosts": list(report["failed_hosts"]),
        "not_started_hosts": list(report["not_started_hosts"]),
        "waves": [{k: w[k] for k in ("wave", "hosts", "ok", "failed", "not_started")} for w in report["waves"]],
    }


def _names(names: Sequence[str], limit: int = 10) -> str:
    if not names:
        return "none"
    shown = ", ".join(names[:limit])
    return shown + (" and %d more" % (len(names) - limit) if len(names) > limit else "")


# --------------------------------------------------------------------------- event bus

Subscriber = Callable[[WaveEvent], None]


@dataclass
class EventBus:
    """Process-local publish/subscribe between the strategy and the report callback (both run in
    the controller process; they share this module through sys.modules)."""

    subscribers: list[Subscriber] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def subscribe(self, fn: Subscriber) -> None:
        if fn not in self.subscribers:
            self.subscribers.append(fn)

    def unsubscribe(self, fn: Subscriber) -> None:
        if fn in self.subscribers:
            self.subscribers.remove(fn)

    def publish(self, event: WaveEvent) -> None:
        # A broken reporter must not break a rollout: record the error, keep going.
        for fn in list(self.subscribers):
            try:
                fn(event)
            except Exception as exc:  # pylint: disable=broad-except
                self.errors.append("%s: %s" % (getattr(fn, "__qualname__", fn), exc))


BUS = EventBus()
