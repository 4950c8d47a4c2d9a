# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
name: wave
short_description: Sliding window of hosts per play, rolled out in waves with failure budgets
description:
  - Runs each host through the whole play (tasks and handlers) like C(ansible.builtin.host_pinned), but bounds
    the number of hosts in flight across the play to a window, and admits a new host as soon as one leaves
    (no lockstep batches, no waiting for stragglers).
  - Hosts are cut into waves like C(serial)'s list (C(ironwave_wave_schedule)). The first wave (canary) must
    finish within its failure budget before any other host starts; afterwards the window slides across wave
    boundaries and grows to the next wave's size once the previous wave has completely finished.
  - When a wave exceeds its failure budget (or all of its hosts failed), admission stops, the halt is published
    to the ironwave modules of hosts in flight (those that have not sent their deploy request yet stop without
    sending it), the other hosts in flight finish, the remaining hosts are never started (they are written to
    the retry file and to the report), the playbook stops with a non-zero result and a one-paragraph summary.
  - A budget that lets a whole wave fail is refused for waves sized by a number (for example a canary of 1
    with C(ironwave_wave_max_failures=1)) and warned about for waves sized by a percentage.
  - Settings are play vars (strategies have no options), validated before any host starts.
    C(ironwave_wave_size) (int or 'N%') maximum hosts in flight;
    C(ironwave_wave_schedule) list of wave sizes (int or 'N%', last repeats);
    C(ironwave_wave_max_failures) failed hosts allowed per wave (int or per-wave list, default 0);
    C(ironwave_wave_max_fail_percentage) percent of a wave's hosts allowed to fail (number or per-wave list);
    C(ironwave_wave_gate) C(first) (default) or C(every);
    C(ironwave_wave_poll_interval) seconds between admission checks (default 0.05);
    C(ironwave_wave_backpressure_factor) multiplicative decrease on backpressure (default 0.5);
    C(ironwave_wave_prefetch) hosts admitted beyond the window (default 0, shrinking with the window after
    backpressure), never past a closed gate - for plays whose real slot is taken inside a task, like the
    deploy role's busy gate (C(deploy_limit)), where prefetched hosts reserve and start their modules while
    others deploy, then wait at that gate.
  - Backpressure contract. A host that hit cloud backpressure sets the fact C(ironwave_backpressure=true) with
    C(ansible.builtin.set_fact) (read while in flight) or a module returns it in C(ansible_facts) (read as the host
    leaves). The collection's cloud modules also signal it the moment Ironic answers HTTP 503 (a file next to the
    run's control file, read every poll), so the limit drops while the task is still retrying; each host counts
    once per task. Each false-to-true change halves the window (AIMD) and every host that finishes
    cleanly without backpressure grows it back by one, up to the configured size. While the window is lowered it
    is published as the busy limit that M(ironwave.baremetal.node_deploy)'s busy gate applies (min of both).
  - Not supported together with C(serial) (serial cuts lockstep batches before any strategy runs; it is refused).
    As with C(free), C(run_once) runs on every host and C(pause)/C(add_host) (host-loop bypassing actions) fail.
  - The C(ironwave.baremetal.wave_report) callback renders progress, a per-wave summary, a JSON report and an
    SVG timeline from the events this strategy publishes. The strategy also stores a summary in the
    playbook stats custom data (C(ironwave_wave)), which ansible-runner/AWX expose as job artifacts.
  - See docs/wave-strategy.md in the collection.
author:
  - ironwave.baremetal developers (@ironwave)
version_added: 0.1.0
"""

import time

from ansible.errors import AnsibleError
from ansible.plugins.strategy.host_pinned import StrategyModule as HostPinnedStrategyModule
from ansible.template import Templar
from ansible.utils.display import Display

from ansible_collections.ironwave.baremetal.plugins.plugin_utils import in_worker
from ansible_collections.ironwave.baremetal.plugins.plugin_utils.run_control_file import RunControlFile
from ansible_collections.ironwave.baremetal.plugins.plugin_utils.wave_schedule import (
    BACKPRESSURE_FACT,
    BUS,
    FAILED,
    OK,
    SETTING_VARS,
    UNREACHABLE,
    WaveEvent,
    WaveScheduler,
    WaveSettingsError,
    artifact_data,
    parse_bool,
    parse_settings,
)

display = Display()


def _failed_when_done(iterator, state) -> bool:
    """Whether the host's peeked final state is failed. A host that failed inside a block and then
    ran the block's `always` tasks still sits in that always section until its next (non-peek)
    get_next_task_for_host, where is_failed() says False; the peeked copy has moved on to the end
    and carries the failure (what Ansible's recap and get_failed_hosts() see)."""
    check = getattr(iterator, "_check_failed_state", None)
    return bool(check(state)) if check is not None and state is not None else False


class StrategyModule(HostPinnedStrategyModule):
    """host_pinned whose host list is the window: ``get_hosts_left`` is the only admission point.

    free/host_pinned index their host list with a position kept across loop passes, so the list we
    return never shrinks: it is a list of slots; a host that left keeps its slot (it has no task, the
    scan skips it) until a newly admitted host takes it over.
    """

    def __init__(self, tqm):
        super().__init__(tqm)
        # Workers fork from this process: import openstacksdk once here so the in-worker cloud
        # modules (plugins/plugin_utils/in_worker.py) start without importing it per task.
        in_worker.warm_imports()
        self._sched: WaveScheduler | None = None
        self._slots: list = []
        self._slot_of: dict[str, int] = {}
        self._free_slots: list[int] = []
        self._host_objs: dict = {}
        self._bp_seen: set[str] = set()
        # Hosts whose task signalled backpressure through the run control file (counted once each).
        self._bp_signalled: set[str] = set()
        self._next_poll = 0.0
        self._iterator = None
        # Where this run tells its workers' modules a lowered busy limit or a halt
        # (plugins/module_utils/run_control.py reads it every tick, before any mutating request).
        self._control: RunControlFile | None = None
        # Time spent in our own admission code, and in report subscribers (published in the report).
        self._admission_seconds = 0.0
        self._publish_seconds = 0.0

    # ------------------------------------------------------------------ setup
    def _read_settings(self, iterator) -> dict:
        play = iterator._play
        all_vars = self._variable_manager.get_vars(play=play, _hosts=self._hosts_cache,
                                                   _hosts_all=self._hosts_cache_all)
        templar = Templar(loader=self._loader, variables=all_vars)
        raw = {}
        for name in SETTING_VARS:
            if name in all_vars:
                try:
                    raw[name] = templar.template(all_vars[name])
                except Exception as exc:
                    raise AnsibleError("%s: cannot be templated: %s" % (name, exc)) from exc
        return raw

    def _host(self, name: str):
        host = self._host_objs.get(name)
        if host is None:
            host = self._inventory.hosts.get(name) or self._inventory.get_host(name)
            self._host_objs[name] = host
        return host

    def run(self, iterator, play_context):
        play = iterator._play
        self._set_hosts_cache(play)
        if play.serial:
            raise AnsibleError(
                "ironwave.baremetal.wave: play %r sets serial=%r. serial cuts the play into lockstep batches "
                "before any strategy runs, which defeats the sliding window. Remove serial and set "
                "ironwave_wave_schedule (same list syntax, e.g. [1, 5, '20%%']) instead." % (play.get_name(), play.serial))
        # Hosts failed/unreachable in earlier plays get no tasks here; keep them out of waves and budgets.
        hosts = [h for h in self._hosts_cache
                 if h not in self._tqm._unreachable_hosts and not iterator.is_failed(self._host(h))]
        try:
            settings = parse_settings(self._read_settings(iterator))
            # Budgets are checked against the waves actually cut, so this can fail too.
            self._sched = WaveScheduler(hosts, settings, time.time(), play=play.get_name())
        except WaveSettingsError as exc:
            raise AnsibleError("ironwave.baremetal.wave: invalid setting for play %r: %s" % (play.get_name(), exc)) from exc
        for warning in self._sched.warnings:
            display.warning("ironwave.baremetal.wave: play %r: %s" % (play.get_name(), warning))
        self._control = RunControlFile.for_this_process()
        self._iterator = iterator
        want = min(self._sched.window_cap + self._sched.settings.prefetch, len(hosts))
        if len(self._workers) < want:
            display.warning(
                "ironwave.baremetal.wave: forks=%d is lower than the window (%d hosts): at most %d tasks run at once, "
                "so hosts in the window will wait for a worker. Raise forks (ansible.cfg [defaults] forks or -f) "
                "to at least %d." % (len(self._workers), want, len(self._workers), want))
        self._publish("play_start")
        self._timed_poll(iterator)

        try:
            result = super().run(iterator, play_context)
            # The free loop ends as soon as no host has work, before the last departures were polled.
            self._timed_poll(iterator, admit=False)
        finally:
            # Every worker of this play is done: nothing is left to read the decisions.
            self._control.remove()
        sched = self._sched
        now = time.time()
        sched.finish(now)
        for name in sched.not_started:
            # Never started: on the retry file with the failed ones.
            self._tqm._failed_hosts[name] = True
        report = sched.report()
        report["strategy_overhead"] = {
            "admission_seconds": round(self._admission_seconds, 6),
            "subscriber_seconds": round(self._publish_seconds, 6),
            "admissions": sum(1 for h in sched.hosts.values() if h.admitted_at is not None),
        }
        self._publish("play_end", report=report, message=sched.summary())
        data = artifact_data(report)
        self._tqm._stats.set_custom_stats("ironwave_wave", data)
        self._tqm._stats.update_custom_stats("ironwave_wave_plays", {sched.play: data})
        for err in BUS.errors:
            display.warning("ironwave.baremetal.wave: a wave event subscriber failed: %s" % err)
        del BUS.errors[:]
        if sched.halted:
            display.error(sched.summary())
            return self._tqm.RUN_FAILED_BREAK_PLAY
        if sched.not_started and result == self._tqm.RUN_OK:
            return self._tqm.RUN_FAILED_HOSTS
        return result

    # ------------------------------------------------------------------ admission
    def get_hosts_left(self, iterator):
        if self._sched is None:
            return super().get_hosts_left(iterator)
        # Poll on the interval, and always when no in-flight host is busy: otherwise free's loop would
        # see "no work" and end the play while hosts are still waiting for a slot.
        t0, p0 = time.perf_counter(), self._publish_seconds
        if time.monotonic() >= self._next_poll or not any(
                self._blocked_hosts.get(name, False) for name in self._sched.in_flight):
            self._poll(iterator)
        slots = list(self._slots)
        self._admission_seconds += time.perf_counter() - t0 - (self._publish_seconds - p0)
        return slots

    def _timed_poll(self, iterator, admit: bool = True) -> None:
        t0, p0 = time.perf_counter(), self._publish_seconds
        self._poll(iterator, admit=admit)
        self._admission_seconds += time.perf_counter() - t0 - (self._publish_seconds - p0)

    def _poll(self, iterator, admit: bool = True) -> None:
        sched = self._sched
        self._next_poll = time.monotonic() + sched.settings.poll_interval
        facts = self._variable_manager._nonpersistent_fact_cache
        for name in list(sched.in_flight):
            self._check_signal(name)
            self._check_backpressure(name, facts)
            if self._blocked_hosts.get(name, False):
                continue
            host = self._host(name)
            if name in self._tqm._unreachable_hosts:
                outcome = UNREACHABLE
            else:
                state, task = iterator.get_next_task_for_host(host, peek=True)
                if task is not None:
                    continue
                outcome = FAILED if (self._tqm._failed_hosts.get(name) or iterator.is_failed(host)
                                     or _failed_when_done(iterator, state)) else OK
            # Modules report backpressure as a returned fact (the persistent fact cache), set_fact
            # as a non-persistent one; the former is read once, as the host leaves.
            self._check_backpressure(name, self._variable_manager._fact_cache)
            self._check_signal(name)  # a 503 just before the task ended
            if name in self._bp_signalled:
                self._bp_signalled.discard(name)
                self._control.clear_backpressure(name)
            was_halted = sched.halted
            sched.host_left(name, outcome, time.time())
            self._free_slots.append(self._slot_of.pop(name))
            if sched.halted and not was_halted:
                # First, before anything else: modules of hosts still in flight (prefetched hosts
                # of the next wave too) must stop before sending their next mutating request.
                self._publish_control(halted=sched.halt_reason)
            self._publish_busy_bound()
            self._publish("leave", host=name, outcome=outcome)
            if sched.halted and not was_halted:
                self._publish("halt", message=sched.halt_reason)
        if not admit:
            return
        for name in sched.admit(time.time()):
            host = self._host(name)
            if self._free_slots:
                idx = self._free_slots.pop()
                self._slots[idx] = host
            else:
                idx = len(self._slots)
                self._slots.append(host)
            self._slot_of[name] = idx
            self._publish("admit", host=name)

    def _check_signal(self, name: str) -> None:
        """A module signals backpressure the moment Ironic answers 503 (run_control.py), not when
        its task ends: shrink the window and the busy limit now, while prefetched hosts wait."""
        if name in self._bp_signalled or not self._control.backpressure_signalled(name):
            return
        self._bp_signalled.add(name)
        if name not in self._bp_seen:  # else already counted from its set_fact
            self._count_backpressure(name)

    def _check_backpressure(self, name: str, facts) -> None:
        if name in self._bp_signalled:
            return  # counted from its signal; the returned fact says the same thing
        try:
            host_facts = facts.get(name)
        except Exception:  # noqa: BLE001 - a fact cache backend error must not stop the rollout
            host_facts = None
        flagged = bool(host_facts) and parse_bool(host_facts.get(BACKPRESSURE_FACT, False))
        if flagged and name not in self._bp_seen:
            self._count_backpressure(name)
        elif not flagged:
            self._bp_seen.discard(name)

    def _count_backpressure(self, name: str) -> None:
        self._bp_seen.add(name)
        window = self._sched.backpressure(name)
        self._publish_busy_bound()
        self._publish("backpressure", host=name, message="window now %d, busy limit %d" % (
            window, self._sched.busy_bound() or window))

    def _publish_busy_bound(self) -> None:
        """Backpressure lowers the bound on Ironic-busy nodes, not only the hosts in flight: the
        busy gate of node_deploy (where prefetched hosts wait) applies min(its limit, this)."""
        if self._sched.note_busy_bound(time.time()):
            self._publish_control(busy_limit=self._sched.busy_bound())

    def _publish_control(self, **fields) -> None:
        try:
            self._control.publish(**fields)
        except OSError as exc:
            # The rollout goes on as before this file existed; say what is not enforced.
            display.warning("ironwave.baremetal.wave: cannot publish %s to %s (%s): hosts in flight will not "
                            "see it" % (fields, self._control.path, exc))

    def _publish(self, kind: str, host: str | None = None, outcome: str | None = None,
                 message: str = "", report: dict | None = None) -> None:
        if not BUS.subscribers:
            return
        t0 = time.perf_counter()
        BUS.publish(WaveEvent(kind=kind, snapshot=self._sched.snapshot(time.time()), host=host,
                              outcome=outcome, message=message, report=report))
        self._publish_seconds += time.perf_counter() - t0
