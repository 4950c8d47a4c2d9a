# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Text and SVG rendering for the wave report callback.

Pure Python, no terminal control codes anywhere: the same lines must read well in a terminal, in a
log file and in AWX's job output. Inputs are :class:`WaveSnapshot` objects and the report dicts
built by :meth:`WaveScheduler.report`.
"""
from __future__ import annotations

from html import escape
from typing import Any, Mapping, Sequence

from ansible_collections.ironwave.baremetal.plugins.plugin_utils.wave_schedule import (
    FAILED,
    NOT_STARTED,
    OK,
    RUNNING,
    UNREACHABLE,
    WAITING,
    WaveSnapshot,
)

STATE_COLOURS = {
    OK: "#2e9e44",
    FAILED: "#d62728",
    UNREACHABLE: "#ff7f0e",
    RUNNING: "#1f77b4",
    NOT_STARTED: "#bdbdbd",
    "waiting": "#eeeeee",
}


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return "%d:%02d:%02d" % (h, m, s)


def eta_seconds(snap: WaveSnapshot) -> float | None:
    """Remaining hosts / observed throughput. Unknown until a host finished."""
    remaining = snap.total - snap.done - snap.not_started
    if remaining <= 0:
        return 0.0
    elapsed = snap.now - snap.started_at
    if snap.done == 0 or elapsed <= 0 or snap.halted:
        return None
    return remaining / (snap.done / elapsed)


def progress_line(snap: WaveSnapshot, event: str = "") -> str:
    parts = [
        "WAVE %s" % (snap.play or "-"),
        "wave %d/%d" % (snap.wave, snap.waves),
        "window %d/%d" % (snap.window, snap.window_cap),
        "in flight %d" % snap.in_flight,
        "done %d/%d" % (snap.done, snap.total),
        "failed %d" % snap.failed,
        "waiting for slot %d" % snap.waiting,
    ]
    if snap.not_started:
        parts.append("not started %d" % snap.not_started)
    eta = eta_seconds(snap)
    parts.append("ETA %s" % ("halted" if snap.halted else ("unknown" if eta is None else format_duration(eta))))
    line = " | ".join(parts)
    if event:
        line += " | " + event
    return line


def summary_table(report: Mapping[str, Any]) -> str:
    """Fixed-width table, one row per wave plus a total row."""
    head = ("wave", "hosts", "ok", "failed", "not started", "duration", "budget")
    rows: list[tuple[str, ...]] = []
    for w in report["waves"]:
        budget = []
        if w["budget"]["max_failures"] is not None:
            budget.append("<=%d" % w["budget"]["max_failures"])
        if w["budget"]["max_fail_percentage"] is not None:
            budget.append("<=%g%%" % w["budget"]["max_fail_percentage"])
        rows.append((str(w["wave"]), str(w["hosts"]), str(w["ok"]), str(w["failed"]), str(w["not_started"]),
                     format_duration(w["duration"]),
                     " ".join(budget) + (" EXCEEDED" if w["budget_exceeded"] else "")))
    t = report["totals"]
    total_duration = None
    if report.get("ended_at") is not None:
        total_duration = report["ended_at"] - report["started_at"]
    rows.append(("total", str(t["hosts"]), str(t["ok"]), str(t["failed"]), str(t["not_started"]),
                 format_duration(total_duration), "HALTED" if report["halted"] else ""))
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]

    def fmt(r: Sequence[str]) -> str:
        return "  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip()

    lines = ["WAVE SUMMARY play %s" % report["play"], fmt(head), fmt(["-" * w for w in widths])]
    lines += [fmt(r) for r in rows]
    return "\n".join(lines)


def timeline_svg(reports: Sequence[Mapping[str, Any]], width: int = 900, bar_height: int = 14) -> str:
    """One horizontal bar per host per play: waiting (light), then its run coloured by outcome."""
    label_w = 160
    gap = 4
    plot_w = width - label_w - 20
    body: list[str] = []
    y = 30
    for rep in reports:
        start = rep["started_at"]
        end = rep.get("ended_at") or max([h["left_at"] or start for h in rep["hosts"]] + [start])
        span = max(end - start, 1e-6)

        def x(ts: float) -> float:
            return label_w + (ts - start) / span * plot_w

        body.append('<text x="4" y="%d" font-weight="bold">%s (%s)</text>' % (
            y, escape(str(rep["play"])), format_duration(end - start)))
        y += 8
        for h in rep["hosts"]:
            state = h["state"]
            title = "%s wave %d %s" % (h["name"], h["wave"], state)
            parts = ['<g class="host" data-host="%s" data-state="%s"><title>%s</title>' % (
                escape(h["name"], quote=True), escape(state, quote=True), escape(title))]
            parts.append('<text x="4" y="%d">%s</text>' % (y + bar_height - 3, escape(h["name"])))
            if h["admitted_at"] is None:
                parts.append('<rect class="%s" x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>' % (
                    NOT_STARTED, label_w, y, plot_w, bar_height, STATE_COLOURS[NOT_STARTED]))
            else:
                parts.append('<rect class="%s" x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>' % (
                    WAITING, label_w, y, max(x(h["admitted_at"]) - label_w, 0), bar_height, STATE_COLOURS["waiting"]))
                left = h["left_at"] if h["left_at"] is not None else end
                colour = STATE_COLOURS.get(state, STATE_COLOURS[RUNNING])
                parts.append('<rect class="%s" x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>' % (
                    escape(state, quote=True), x(h["admitted_at"]), y,
                    max(x(left) - x(h["admitted_at"]), 1.0), bar_height, colour))
            parts.append("</g>")
            body.append("".join(parts))
            y += bar_height + gap
        y += 20
    legend_y = y
    legend = []
    lx = label_w
    for state in (OK, FAILED, UNREACHABLE, NOT_STARTED, "waiting"):
        legend.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>' % (
            lx, legend_y, STATE_COLOURS[state], lx + 16, legend_y + 11, state.replace("_", " ")))
        lx += 110
    height = legend_y + 30
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="monospace" '
            'font-size="11">\n<title>ironwave wave timeline</title>\n%s\n%s\n</svg>\n' % (
                width, height, "\n".join(body), "".join(legend)))
