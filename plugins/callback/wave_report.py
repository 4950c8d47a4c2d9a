# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
name: wave_report
type: aggregate
short_description: Progress, per-wave summary, JSON and HTML reports and an SVG timeline for the wave strategy
description:
  - Listens to the events published by the C(ironwave.baremetal.wave) strategy (same controller process) and
    prints progress lines (wave k/n, window, in flight, done, failed, waiting for a slot, ETA) without any
    terminal control codes, so they read the same in a terminal, a log file and AWX job output.
  - At the end of each wave play it prints a per-wave summary table and the strategy's one-paragraph summary
    (a halted rollout's paragraph is printed by the strategy itself, as an error), and (re)writes a JSON report
    of all wave plays of the run, an SVG timeline and a self-contained HTML report.
  - The timeline shows one row per node on a time axis (seconds from run start) with its phases from Ironic's
    own history - reserved, waiting for a slot, request sent, deploying, wait call-back, active or failed - as
    the task results of C(ironwave.baremetal.node_deploy) report them; on the Nova path one row per server
    from C(ironwave.baremetal.nova_server) (create request sent, Nova's task states such as scheduling and
    spawning, then the node's provision states; any module whose result has C(phases) counts); a host
    without them gets one bar for its time in the wave window. Dashed
    lines mark each wave's start, shaded periods the backpressure periods (a busy bound below the cap
    published by the strategy), and under it a chart counts this run's Ironic-busy nodes over time against
    the limit (node_deploy's C(busy_limit), else the window cap) and the published busy bounds.
  - The JSON report carries, per host, the C(node) (uuid, name) and C(phases) (C(phase), C(at) epoch seconds)
    taken from those results.
  - The HTML report (one file, inline CSS, SVG and script, nothing loaded from elsewhere) has the summary per
    play, a per-wave table, a per-node table (sortable by clicking a header; in time order without
    JavaScript) and the timeline.
  - Aggregate callback, works next to any stdout callback. Enable it with
    C(callbacks_enabled = ironwave.baremetal.wave_report) or C(ANSIBLE_CALLBACKS_ENABLED).
  - Under ansible-runner (AWX), a report path left at its default is written into the job's artifacts
    directory (C(AWX_ISOLATED_DATA_DIR)/ironwave/, same file name), which AWX keeps, instead of the project
    directory, which it throws away; a path set in configuration, environment or ini is kept as given.
  - AWX artifacts (counts, failed and not-started hosts) are written by the strategy into the playbook stats
    custom data under C(ironwave_wave), which ansible-runner sends as C(artifact_data); no role task needed.
author:
  - ironwave.baremetal developers (@ironwave)
version_added: 0.1.0
requirements:
  - enable in configuration (callbacks_enabled)
options:
  report_path:
    description:
      - JSON report file. Empty string disables it. Parent directories are created.
      - Left at its default under ansible-runner (AWX), it goes to C($AWX_ISOLATED_DATA_DIR/ironwave/wave-report.json).
    type: path
    default: reports/wave-report.json
    env:
      - name: IRONWAVE_WAVE_REPORT_PATH
    ini:
      - section: callback_wave_report
        key: report_path
  svg_path:
    description:
      - SVG timeline file. Empty string disables it.
      - Left at its default under ansible-runner (AWX), it goes to C($AWX_ISOLATED_DATA_DIR/ironwave/wave-timeline.svg).
    type: path
    default: reports/wave-timeline.svg
    env:
      - name: IRONWAVE_WAVE_SVG_PATH
    ini:
      - section: callback_wave_report
        key: svg_path
  html_path:
    description:
      - Self-contained HTML report file. Empty string disables it. Parent directories are created.
      - Left at its default under ansible-runner (AWX), it goes to C($AWX_ISOLATED_DATA_DIR/ironwave/wave-report.html).
    type: path
    default: reports/wave-report.html
    env:
      - name: IRONWAVE_WAVE_HTML_PATH
    ini:
      - section: callback_wave_report
        key: html_path
    version_added: 0.2.0
  progress_interval:
    description:
      - Minimum seconds between two progress lines. Play start, wave changes, halts and the end are always
        printed. 0 prints a line for every admission and departure.
    type: float
    default: 5.0
    env:
      - name: IRONWAVE_WAVE_PROGRESS_INTERVAL
    ini:
      - section: callback_wave_report
        key: progress_interval
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase

from ansible_collections.ironwave.baremetal.plugins.plugin_utils.wave_report_html import report_html
from ansible_collections.ironwave.baremetal.plugins.plugin_utils.wave_report_render import (
    clean_phases,
    node_info,
    progress_line,
    summary_table,
    timeline_svg,
)
from ansible_collections.ironwave.baremetal.plugins.plugin_utils.wave_schedule import BUS, WaveEvent
from ansible_collections.ironwave.baremetal.plugins.plugin_utils import in_worker, report_location

_ALWAYS = ("play_start", "halt", "play_end")
#: Modules whose results carry a node's deploy phases (any other result with `phases` counts too).
_DEPLOY_ACTIONS = ("ironwave.baremetal.node_deploy", "node_deploy")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "ironwave.baremetal.wave_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super().__init__(display=display)
        # Loaded in the ansible-playbook process: pre-import openstacksdk for the in-worker cloud
        # modules under any strategy (plugins/plugin_utils/in_worker.py).
        in_worker.warm_imports()
        self._reports: list[dict] = []
        # host -> node, phases, slot_wait, busy_limit from its deploy result in the current play
        self._nodes: dict[str, dict] = {}
        self._last_line = 0.0
        self._last_wave = 0
        BUS.subscribe(self._on_event)

    def _on_event(self, event: WaveEvent) -> None:
        snap = event.snapshot
        if event.kind == "play_start":
            self._last_wave = 0
            self._nodes = {}
        note = event.kind if event.host is None else "%s %s%s" % (
            event.kind, event.host, " (%s)" % event.outcome if event.outcome and event.outcome != "ok" else "")
        if event.message and event.kind != "play_end":
            note += ": " + event.message
        now = time.monotonic()
        interval = float(self.get_option("progress_interval") or 0)
        if event.kind in _ALWAYS or snap.wave != self._last_wave or now - self._last_line >= interval:
            self._display.display(progress_line(snap, note))
            self._last_line = now
            self._last_wave = snap.wave
        if event.kind == "play_end" and event.report is not None:
            self._reports.append(_with_nodes(event.report, self._nodes))
            self._display.display(summary_table(event.report))
            if not event.report["halted"]:
                # When halted the strategy itself reports the paragraph as an error.
                self._display.display(event.report["summary"])
            self._write()

    def _write(self) -> None:
        report_path = self._path("report_path")
        svg_path = self._path("svg_path")
        html_path = self._path("html_path")
        if report_path:
            _write_file(report_path, json.dumps({"plays": self._reports}, indent=2, sort_keys=True) + "\n")
        if svg_path:
            _write_file(svg_path, timeline_svg(self._reports))
        if html_path:
            _write_file(html_path, report_html(self._reports))
        written = [f"{label} {os.path.abspath(path)}" for label, path in
                   (("report:", report_path), ("timeline picture:", svg_path), ("HTML report:", html_path)) if path]
        if written:
            self._display.display("WAVE " + " | ".join(written))

    def _path(self, option: str):
        value, origin = self.get_option_and_origin(option)
        return report_location.report_path(value, origin, os.environ)

    def _collect(self, result) -> None:
        """Keep a deploy result's node and phases for the report (only those fields: nothing else of a
        result, which may hold secrets, goes into the files)."""
        res = result._result
        if not isinstance(res, dict):
            return
        if isinstance(res.get("results"), list):  # a loop: the last item that has phases
            res = next((r for r in reversed(res["results"]) if isinstance(r, dict) and r.get("phases")), res)
        action = getattr(result._task, "action", "")
        if "phases" not in res and action not in _DEPLOY_ACTIONS:
            return
        phases = clean_phases(res.get("phases"))
        node = node_info(res.get("node"))
        if not phases and node is None:
            return
        entry: dict = {"phases": phases}
        if node is not None:
            entry["node"] = node
        if isinstance(res.get("slot_wait"), (int, float)) and not isinstance(res.get("slot_wait"), bool):
            entry["slot_wait"] = float(res["slot_wait"])
        args = (res.get("invocation") or {}).get("module_args") or {}
        limit = res.get("busy_limit", args.get("busy_limit"))
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
            entry["busy_limit"] = limit
        self._nodes[result._host.get_name()] = entry

    def v2_runner_on_ok(self, result):
        self._collect(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._collect(result)

    def v2_playbook_on_start(self, playbook):
        BUS.subscribe(self._on_event)

    def v2_playbook_on_stats(self, stats):
        BUS.unsubscribe(self._on_event)


def _with_nodes(report: dict, nodes: dict[str, dict]) -> dict:
    """The strategy's play report with each host's node and phases (when its results had them) and the
    play's busy limit (the largest node_deploy busy_limit seen)."""
    limits = []
    for host in report["hosts"]:
        entry = nodes.get(host["name"])
        if not entry:
            continue
        host.update({k: v for k, v in entry.items() if k != "busy_limit"})
        if "busy_limit" in entry:
            limits.append(entry["busy_limit"])
    if limits:
        report["busy_limit"] = max(limits)
    return report


def _write_file(path: str, text: str) -> None:
    path = os.path.expanduser(path)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
