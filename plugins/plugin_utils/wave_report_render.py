# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Text and SVG rendering for the wave report callback.

Pure Python, no terminal control codes anywhere: the same lines must read well in a terminal, in a
log file and in AWX's job output. Inputs are :class:`WaveSnapshot` objects and the report dicts
built by :meth:`WaveScheduler.report`, which the callback adds a host's ``node`` and ``phases``
(from its deploy result, Ironic's own history) to. The SVG timeline is used on its own and inside
the HTML report (wave_report_html).
"""
from __future__ import annotations

from html import escape
from typing import Any, Mapping, Sequence

from ansible_collections.ironwave.baremetal.plugins.module_utils.ironic_states import BUSY
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


# --------------------------------------------------------------------------- timeline picture
# Per node: its phases from Ironic's own history (as node_deploy/nova results carry them in
# `phases`); hosts whose results had none get the strategy's admitted..left bar instead.

#: Phases before Ironic's states: the node is reserved, waits at the busy gate, its deploy request was sent.
PHASE_COLOURS = {
    "reserved": "#c6dbef",
    "waiting": "#fdd49e",
    "admitted": "#9ecae1",
    # Nova path (nova_server): the create request, then Nova's task states before Ironic deploys.
    "requested": "#9ecae1",
    "scheduling": "#deebf7",
    "networking": "#c6dbef",
    "block_device_mapping": "#c6dbef",
    "spawning": "#6baed6",
    "deploying": "#3182bd",
    "wait call-back": "#6a51a3",
    "active": "#2e9e44",
    "deploy failed": "#d62728",
    "error": "#d62728",
}
OTHER_PHASE_COLOUR = "#969696"
PHASE_LABELS = {"waiting": "waiting for a slot", "admitted": "request sent", "requested": "create request sent",
                "deploy failed": "deploy failed / error"}
BACKPRESSURE_FILL = "#fd8d3c"
LABEL_W = 220
AXIS_STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 14400, 28800, 86400)


def node_info(value: Any) -> dict[str, str] | None:
    """A result's `node` (a UUID string or a dict with uuid/name) as {"uuid", "name"}; None when absent."""
    if isinstance(value, Mapping):
        info = {k: str(value[k]) for k in ("uuid", "name") if value.get(k) not in (None, "")}
        return info or None
    if isinstance(value, str) and value:
        return {"uuid": value}
    return None


def clean_phases(value: Any) -> list[dict[str, Any]]:
    """A result's `phases` reduced to well-formed {"phase": str, "at": float[, "source": str]} entries in
    time order (source: "ironic" when the time is Ironic's own, "module" when the module's clock)."""
    out = []
    for item in value if isinstance(value, (list, tuple)) else []:
        if isinstance(item, Mapping) and isinstance(item.get("phase"), str) and _is_time(item.get("at")):
            entry = {"phase": item["phase"], "at": float(item["at"])}
            if isinstance(item.get("source"), str):
                entry["source"] = item["source"]
            out.append(entry)
    return sorted(out, key=lambda p: p["at"])


def _is_time(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def node_label(host: Mapping[str, Any]) -> str:
    node = host.get("node") or {}
    return str(node.get("name") or host["name"])


def phase_at(host: Mapping[str, Any], phase: str) -> float | None:
    """When the host's node first entered `phase` (None if it never did or there are no phases)."""
    return next((p["at"] for p in host.get("phases") or () if p["phase"] == phase), None)


def host_end(host: Mapping[str, Any], rep: Mapping[str, Any]) -> float:
    """Where a host's last bar ends: when it left the window, else the play's end."""
    phases = host.get("phases") or []
    last = phases[-1]["at"] if phases else rep["started_at"]
    return max(host.get("left_at") or rep.get("ended_at") or last, last)


def phase_segments(host: Mapping[str, Any], rep: Mapping[str, Any]) -> list[tuple[str, float, float]]:
    """(phase, start, stop): each phase lasts until the next one; the last until the host left."""
    phases = host.get("phases") or []
    end = host_end(host, rep)
    return [(p["phase"], p["at"], phases[i + 1]["at"] if i + 1 < len(phases) else end)
            for i, p in enumerate(phases)]


def run_span(reports: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    """(run start, run end) over every play, host departure and phase time."""
    if not reports:
        return 0.0, 1.0
    t0 = min(r["started_at"] for r in reports)
    times = [t0]
    for rep in reports:
        times += [t for t in (rep.get("ended_at"),) if t is not None]
        for h in rep["hosts"]:
            times += [t for t in (h.get("admitted_at"), h.get("left_at")) if t is not None]
            times += [p["at"] for p in h.get("phases") or ()]
            t0 = min([t0] + [p["at"] for p in h.get("phases") or ()])
    return t0, max(*times, t0 + 1e-6)


def busy_steps(reports: Sequence[Mapping[str, Any]]) -> list[tuple[float, int]]:
    """(time, nodes of this run Ironic-busy from then on), from the phases; [] without phase data."""
    deltas: list[tuple[float, int]] = []
    for rep in reports:
        for h in rep["hosts"]:
            for phase, start, stop in phase_segments(h, rep):
                if phase in BUSY:
                    deltas += [(start, 1), (stop, -1)]
    steps: list[tuple[float, int]] = []
    count = 0
    for at, delta in sorted(deltas):  # at one instant, departures (-1) before arrivals
        count += delta
        if steps and steps[-1][0] == at:
            steps[-1] = (at, count)
        else:
            steps.append((at, count))
    return steps


def backpressure_intervals(rep: Mapping[str, Any]) -> list[tuple[float, float, int]]:
    """(start, stop, bound) while the strategy published a busy bound below the cap (after backpressure)."""
    end = rep.get("ended_at") or rep["started_at"]
    changes = sorted(rep.get("busy_bound_changes") or [], key=lambda c: c["at"])
    out = []
    for i, change in enumerate(changes):
        if change["busy_limit"] is None:
            continue
        stop = changes[i + 1]["at"] if i + 1 < len(changes) else max(end, change["at"])
        out.append((change["at"], stop, int(change["busy_limit"])))
    return out


def play_limit(rep: Mapping[str, Any]) -> tuple[int, str]:
    """The busy limit the play was configured with (node_deploy's busy_limit), else its window cap."""
    if rep.get("busy_limit"):
        return int(rep["busy_limit"]), "limit"
    return int(rep["window_cap"]), "window cap"


def axis_ticks(span: float, target: int = 8) -> list[float]:
    step = next((s for s in AXIS_STEPS if span / s <= target), AXIS_STEPS[-1])
    return [i * step for i in range(int(span // step) + 1)]


def _phase_colour(phase: str) -> str:
    return PHASE_COLOURS.get(phase, OTHER_PHASE_COLOUR)


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "~"


def _attr(value: Any) -> str:
    return escape(str(value), quote=True)


class _Canvas:
    """Maps run time to x (seconds from run start) and collects SVG elements."""

    def __init__(self, t0: float, t1: float, width: int) -> None:
        self.t0, self.span = t0, t1 - t0
        self.plot_w = width - LABEL_W - 30
        self.width = width
        self.parts: list[str] = []

    def x(self, ts: float) -> float:
        return LABEL_W + (ts - self.t0) / self.span * self.plot_w

    def add(self, text: str) -> None:
        self.parts.append(text)

    def axis(self, y: float, ticks: Sequence[float], label: bool) -> None:
        for t in ticks:
            x = self.x(self.t0 + t)
            self.add('<line class="tick" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>' % (x, y, x, y + 4))
            self.add('<text class="tick-label" x="%.1f" y="%.1f" text-anchor="middle">%s</text>' % (
                x, y + 15, "%g s" % t))
        self.add('<line class="axis" x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>' % (
            LABEL_W, y, LABEL_W + self.plot_w, y))
        if label:
            self.add('<text class="axis-title" x="%.1f" y="%.1f" text-anchor="middle">%s</text>' % (
                LABEL_W + self.plot_w / 2, y + 29, "seconds from run start"))


NOVA_PHASES = frozenset({"requested", "scheduling", "networking", "block_device_mapping", "spawning"})


def _legend(c: _Canvas, y: int, fallback: bool, seen: frozenset = frozenset()) -> int:
    # The Nova path's phases are listed only when a row has them (an Ironic-only run never does).
    items = [(p, PHASE_LABELS.get(p, p), _phase_colour(p)) for p in PHASE_COLOURS
             if p != "error" and (p not in NOVA_PHASES or p in seen)]
    items.append(("other", "other Ironic state", OTHER_PHASE_COLOUR))
    if fallback:
        items += [("fallback-waiting", "no phases: before window", STATE_COLOURS["waiting"]),
                  ("fallback-run", "no phases: in window", STATE_COLOURS[OK])]
    items.append(("backpressure", "backpressure (busy bound)", BACKPRESSURE_FILL))
    lx = LABEL_W
    for key, text, colour in items:
        if lx + 200 > c.width:
            lx, y = LABEL_W, y + 16
        opacity = ' fill-opacity="0.35"' if key == "backpressure" else ""
        c.add('<g class="legend" data-key="%s"><rect x="%d" y="%d" width="12" height="12" fill="%s"%s '
              'stroke="#999"/><text x="%d" y="%d">%s</text></g>' % (
                  _attr(key), lx, y, colour, opacity, lx + 16, y + 10, escape(text)))
        lx += 200
    c.add('<g class="legend" data-key="wave-boundary"><line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444" '
          'stroke-dasharray="4 3"/><text x="%d" y="%d">wave start</text></g>' % (lx + 6, y, lx + 6, y + 12, lx + 16, y + 10))
    return y + 16


def _host_row(c: _Canvas, rep: Mapping[str, Any], h: Mapping[str, Any], y: float, bar_h: int) -> None:
    state = h["state"]
    node = h.get("node") or {}
    segments = phase_segments(h, rep)
    title = "%s wave %d %s" % (h["name"], h["wave"], state)
    if node:
        title += " node %s" % (node.get("name") or node.get("uuid"))
    title += "".join("\n%s at %.1f s" % (p, start - c.t0) for p, start, _stop in segments)
    c.add('<g class="host" data-host="%s" data-node="%s" data-state="%s" data-phases="%d"><title>%s</title>' % (
        _attr(h["name"]), _attr(node.get("name") or node.get("uuid") or ""), _attr(state), len(segments),
        escape(title)))
    c.add('<text x="4" y="%.1f">%s</text>' % (y + bar_h - 3, escape(_short(node_label(h)))))
    if segments:
        for phase, start, stop in segments:
            c.add('<rect class="phase" data-phase="%s" x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s">'
                  '<title>%s %.1f-%.1f s</title></rect>' % (
                      _attr(phase), c.x(start), y, max(c.x(stop) - c.x(start), 2.0), bar_h, _phase_colour(phase),
                      escape(phase), start - c.t0, stop - c.t0))
    elif h.get("admitted_at") is None:
        c.add('<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"/>' % (
            NOT_STARTED, c.x(rep["started_at"]), y, c.x(host_end(h, rep)) - c.x(rep["started_at"]), bar_h,
            STATE_COLOURS[NOT_STARTED]))
    else:
        left = h["left_at"] if h.get("left_at") is not None else host_end(h, rep)
        c.add('<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"/>' % (
            WAITING, c.x(rep["started_at"]), y, max(c.x(h["admitted_at"]) - c.x(rep["started_at"]), 0), bar_h,
            STATE_COLOURS["waiting"]))
        c.add('<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"/>' % (
            _attr(state), c.x(h["admitted_at"]), y, max(c.x(left) - c.x(h["admitted_at"]), 1.0), bar_h,
            STATE_COLOURS.get(state, STATE_COLOURS[RUNNING])))
    c.add("</g>")


def _busy_chart(c: _Canvas, reports: Sequence[Mapping[str, Any]], top: float, height: int,
                ticks: Sequence[float]) -> None:
    steps = busy_steps(reports)
    limits = [play_limit(r) for r in reports]
    bounds = [iv[2] for r in reports for iv in backpressure_intervals(r)]
    top_value = max([s[1] for s in steps] + [lim for lim, _kind in limits] + bounds + [1]) + 1
    bottom = top + height

    def y(v: float) -> float:
        return bottom - v / top_value * height

    c.add('<text class="chart-title" x="4" y="%.1f" font-weight="bold">Ironic-busy nodes</text>' % (top + 10))
    c.add('<text x="4" y="%.1f">of this run</text>' % (top + 24))
    for v in sorted({0, top_value - 1} | {lim for lim, _kind in limits}):
        c.add('<text class="y-label" x="%d" y="%.1f" text-anchor="end">%d</text>' % (LABEL_W - 6, y(v) + 4, v))
        c.add('<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>' % (LABEL_W, y(v), LABEL_W + c.plot_w, y(v)))
    for rep, (lim, kind) in zip(reports, limits):
        end = rep.get("ended_at") or run_span([rep])[1]
        c.add('<line class="busy-limit" data-limit="%d" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d62728" '
              'stroke-dasharray="6 3"><title>%s %d</title></line>' % (
                  lim, c.x(rep["started_at"]), y(lim), c.x(end), y(lim), kind, lim))
        c.add('<text x="%.1f" y="%.1f" fill="#d62728" text-anchor="end">%s %d</text>' % (
            c.x(end) - 2, y(lim) - 3, kind, lim))
        for start, stop, bound in backpressure_intervals(rep):
            c.add('<line class="busy-bound" data-bound="%d" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e6550d" '
                  'stroke-width="2"><title>busy bound %d published</title></line>' % (
                      bound, c.x(start), y(bound), c.x(stop), y(bound), bound))
    if steps:
        points = ["%.1f,%.1f" % (c.x(steps[0][0]), y(0))]
        prev = 0
        for at, count in steps:
            points += ["%.1f,%.1f" % (c.x(at), y(prev)), "%.1f,%.1f" % (c.x(at), y(count))]
            prev = count
        c.add('<polyline class="busy-count" data-peak="%d" points="%s" fill="none" stroke="#3182bd" '
              'stroke-width="2"/>' % (max(s[1] for s in steps), " ".join(points)))
    else:
        c.add('<text class="no-phases" x="%.1f" y="%.1f">no Ironic phases in the task results: busy nodes unknown'
              '</text>' % (LABEL_W + 8, top + height / 2))
    c.axis(bottom, ticks, label=True)


def _wave_lines(c: _Canvas, waves: Sequence[Mapping[str, Any]], top: int, bottom: float) -> None:
    """A dashed line at each wave's start; waves starting within a label's width of each other (a
    sliding window admits the next wave's hosts at once) share one label, "waves 2, 3"."""
    groups: list[tuple[float, list[int]]] = []
    for w in waves:
        if w.get("started_at") is None:
            continue
        x = c.x(w["started_at"])
        c.add('<line class="wave-boundary" data-wave="%d" x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#444" '
              'stroke-dasharray="4 3"/>' % (w["wave"], x, top - 12, x, bottom))
        if groups and x - groups[-1][0] < 60:
            groups[-1][1].append(w["wave"])
        else:
            groups.append((x, [w["wave"]]))
    for x, numbers in groups:
        c.add('<text class="wave-label" x="%.1f" y="%d">%s %s</text>' % (
            x + 2, top - 4, "waves" if len(numbers) > 1 else "wave", ", ".join(str(n) for n in numbers)))


def timeline_svg(reports: Sequence[Mapping[str, Any]], width: int = 1200, bar_height: int = 14,
                 xml_declaration: bool = True) -> str:
    """The run on one time axis: a row per node with its phases, wave starts, backpressure periods
    shaded, and under it the count of Ironic-busy nodes against the limit."""
    t0, t1 = run_span(reports)
    c = _Canvas(t0, t1, width)
    ticks = axis_ticks(t1 - t0)
    fallback = any(not h.get("phases") for rep in reports for h in rep["hosts"])
    c.add('<text x="4" y="16" font-weight="bold" font-size="13">ironwave deploy timeline</text>')
    seen = frozenset(str(p.get("phase")) for rep in reports for h in rep["hosts"] for p in h.get("phases") or []
                     if isinstance(p, Mapping))
    rows_top = _legend(c, 26, fallback, seen) + 26
    head, c.parts = c.parts, []
    y = float(rows_top)
    for rep in reports:
        end = rep.get("ended_at") or t1
        c.add('<text class="play" x="4" y="%.1f" font-weight="bold">%s (%s)</text>' % (
            y + 11, escape(str(rep["play"])), format_duration(end - rep["started_at"])))
        y += 16
        for h in rep["hosts"]:
            _host_row(c, rep, h, y, bar_height)
            y += bar_height + 4
        y += 6
    rows = c.parts
    c.parts = []
    c.axis(y + 2, ticks, label=False)
    chart_top = y + 40
    chart_h = 120
    _busy_chart(c, reports, chart_top, chart_h, ticks)
    chart = c.parts
    c.parts = []
    bottom = chart_top + chart_h
    for t in ticks:  # grid behind everything
        c.add('<line class="grid" x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#f0f0f0"/>' % (
            c.x(t0 + t), rows_top, c.x(t0 + t), bottom))
    for rep in reports:
        for start, stop, bound in backpressure_intervals(rep):
            c.add('<rect class="backpressure" data-bound="%d" x="%.1f" y="%d" width="%.1f" height="%.1f" fill="%s" '
                  'fill-opacity="0.25"><title>backpressure: busy bound %d, %.1f-%.1f s</title></rect>' % (
                      bound, c.x(start), rows_top, max(c.x(stop) - c.x(start), 1.0), bottom - rows_top,
                      BACKPRESSURE_FILL, bound, start - t0, stop - t0))
    shading = c.parts
    c.parts = []
    for rep in reports:
        _wave_lines(c, rep["waves"], rows_top, bottom)
    waves = c.parts
    height = int(bottom + 48)
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="monospace" font-size="11">\n<title>ironwave wave timeline</title>\n'
           '<rect width="100%%" height="100%%" fill="#ffffff"/>\n%s\n</svg>\n' % (
               width, height, width, height, "\n".join(head + shading + rows + waves + chart)))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + svg) if xml_declaration else svg
