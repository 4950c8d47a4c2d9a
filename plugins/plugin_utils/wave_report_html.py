# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The wave report as one self-contained HTML file (pure; the callback writes it).

Inline CSS, the SVG timeline inline and a few lines of inline JavaScript that sort the per-node
table by a clicked header; nothing is loaded from anywhere, so the file opens the same from an AWX
artifact, a mail attachment or a laptop without network. Without JavaScript the node table stays
in time order. Every string from the run (play, host and node names, messages) is HTML-escaped.
Input: the play report dicts of the JSON report (WaveScheduler.report plus the callback's per-host
``node``/``phases``).
"""
from __future__ import annotations

from html import escape
from typing import Any, Mapping, Sequence

from ansible_collections.ironwave.baremetal.plugins.plugin_utils.wave_report_render import (
    busy_steps,
    format_duration,
    phase_at,
    play_limit,
    run_span,
    timeline_svg,
)

CSS = """
body { font-family: sans-serif; font-size: 14px; margin: 16px; color: #222; background: #fff; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 24px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f0f0f0; }
table.sortable th { cursor: pointer; }
table.sortable th[aria-sort=ascending]::after { content: " \\25B2"; }
table.sortable th[aria-sort=descending]::after { content: " \\25BC"; }
tr.failed td, tr.unreachable td { background: #fde0dd; }
tr.not_started td { color: #777; }
p.summary { max-width: 70em; }
p.halted, tr.halted td { color: #b00; font-weight: bold; }
"""

# Sorts the table whose header was clicked by each cell's data-v (numbers as numbers, empty last).
SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
        if (x === '' || y === '') { return (x === '') - (y === ''); }
        var nx = Number(x), ny = Number(y);
        var r = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
        return asc ? r : -r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""

NODE_COLUMNS = ("play", "host", "node", "wave", "result", "start (s)", "reserved to active", "slot wait",
                "backpressure")


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _secs(value: float | None) -> str:
    return "" if value is None else "%.1f" % value


def _cell(text: Any, sort: Any = None, num: bool = False) -> str:
    sort_value = text if sort is None else sort
    return '<td%s data-v="%s">%s</td>' % (' class="num"' if num else "", _e(sort_value), _e(text))


def _interval(host: Mapping[str, Any], start: str, stop: str) -> float | None:
    a, b = phase_at(host, start), phase_at(host, stop)
    return None if a is None or b is None else b - a


def host_start(host: Mapping[str, Any]) -> float | None:
    """When the host's work began: its first phase, else its admission to the window."""
    phases = host.get("phases") or []
    return phases[0]["at"] if phases else host.get("admitted_at")


def slot_wait(host: Mapping[str, Any]) -> float | None:
    """Seconds waiting at the busy gate: waiting -> admitted from the phases, else the result's slot_wait."""
    waited = _interval(host, "waiting", "admitted")
    if waited is None and phase_at(host, "admitted") is not None:
        waited = 0.0
    return waited if waited is not None else host.get("slot_wait")


def _summary_row(rep: Mapping[str, Any]) -> list[tuple[str, Any]]:
    t = rep["totals"]
    duration = None if rep.get("ended_at") is None else rep["ended_at"] - rep["started_at"]
    steps = busy_steps([rep])
    limit, kind = play_limit(rep)
    return [
        ("play", rep["play"]), ("waves", len(rep["waves"])), ("hosts", t["hosts"]), ("ok", t["ok"]),
        ("failed", t["failed"]), ("not started", t["not_started"]), ("duration", format_duration(duration)),
        ("peak in flight", rep["peak_in_flight"]), ("window cap", rep["window_cap"]),
        ("peak Ironic-busy", max(count for _at, count in steps) if steps else "unknown"),
        ("busy limit", "%d (%s)" % (limit, kind) if kind != "limit" else limit),
        ("backpressure", rep.get("backpressure_decreases", 0)),
        ("halted", "yes" if rep["halted"] else "no"),
    ]


def _summary(reports: Sequence[Mapping[str, Any]]) -> str:
    """One row per play, then each play's paragraph (why it ended as it did)."""
    if not reports:
        return "<p>No wave play ran.</p>"
    head = "".join("<th>%s</th>" % _e(k) for k, _value in _summary_row(reports[0]))
    rows = "".join('<tr class="play%s" data-play="%s">%s</tr>' % (
        " halted" if rep["halted"] else "", _e(rep["play"]),
        "".join('<td data-key="%s">%s</td>' % (_e(k), _e(v)) for k, v in _summary_row(rep))) for rep in reports)
    paragraphs = "".join('<p class="summary%s">%s</p>' % (" halted" if rep["halted"] else "", _e(rep.get("summary", "")))
                         for rep in reports)
    return '<table class="summary"><thead><tr>%s</tr></thead><tbody>%s</tbody></table>\n%s' % (head, rows, paragraphs)


def _waves(rep: Mapping[str, Any], t0: float) -> str:
    head = ("wave", "hosts", "window", "ok", "failed", "not started", "start (s)", "duration", "budget")
    rows = []
    for w in rep["waves"]:
        budget = [("<= %d failed" % w["budget"]["max_failures"]) if w["budget"]["max_failures"] is not None else "",
                  ("<= %g%%" % w["budget"]["max_fail_percentage"])
                  if w["budget"]["max_fail_percentage"] is not None else ""]
        text = " ".join(b for b in budget if b) + (" EXCEEDED" if w["budget_exceeded"] else "")
        start = None if w.get("started_at") is None else w["started_at"] - t0
        rows.append('<tr class="wave" data-wave="%d">%s</tr>' % (w["wave"], "".join((
            _cell(w["wave"], num=True), _cell(w["hosts"], num=True), _cell(w["window"], num=True),
            _cell(w["ok"], num=True), _cell(w["failed"], num=True), _cell(w["not_started"], num=True),
            _cell(_secs(start), num=True), _cell(format_duration(w.get("duration")), w.get("duration"), num=True),
            _cell(text.strip())))))
    return '<h3>%s</h3>\n<table class="waves" data-play="%s"><thead><tr>%s</tr></thead><tbody>%s</tbody></table>' % (
        _e(rep["play"]), _e(rep["play"]), "".join("<th>%s</th>" % h for h in head), "\n".join(rows))


def node_rows(reports: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(play, host) in time order (by when the host's work began; never started last)."""
    rows = [(rep, h) for rep in reports for h in rep["hosts"]]
    return sorted(rows, key=lambda r: (host_start(r[1]) is None, host_start(r[1]) or 0.0))


def _nodes(reports: Sequence[Mapping[str, Any]], t0: float) -> str:
    rows = []
    for rep, h in node_rows(reports):
        node = h.get("node") or {}
        start = host_start(h)
        to_active = _interval(h, "reserved", "active")
        waited = slot_wait(h)
        cells = (
            _cell(rep["play"]), _cell(h["name"]), _cell(node.get("name") or node.get("uuid") or ""),
            _cell(h["wave"], num=True), _cell(h["state"]),
            _cell(_secs(None if start is None else start - t0), num=True),
            _cell(format_duration(to_active) if to_active is not None else "", _secs(to_active), num=True),
            _cell(_secs(waited), num=True), _cell(h.get("backpressure", 0), num=True))
        rows.append('<tr class="node %s" data-host="%s" data-phases="%s">%s</tr>' % (
            _e(h["state"]), _e(h["name"]), _e(",".join(p["phase"] for p in h.get("phases") or ())),
            "".join(cells)))
    return ('<table class="sortable nodes"><thead><tr>%s</tr></thead><tbody>\n%s\n</tbody></table>' % (
        "".join("<th>%s</th>" % _e(c) for c in NODE_COLUMNS), "\n".join(rows)))


def report_html(reports: Sequence[Mapping[str, Any]]) -> str:
    """The whole report: summary, per-wave table, sortable per-node table and the timeline picture."""
    t0 = run_span(reports)[0]
    plays = ", ".join(str(r["play"]) for r in reports) or "no wave play"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>ironwave wave report: %s</title>" % _e(plays),
        "<style>%s</style></head><body>" % CSS,
        "<h1>ironwave wave report</h1>",
        '<section id="summary"><h2>Summary</h2>',
        _summary(reports),
        "</section>",
        '<section id="waves"><h2>Waves</h2>',
        *(_waves(r, t0) for r in reports),
        "</section>",
        '<section id="nodes"><h2>Nodes</h2>',
        "<p>Times in seconds from run start. Click a column header to sort; without JavaScript the rows "
        "are in time order.</p>",
        _nodes(reports, t0),
        "</section>",
        '<section id="timeline"><h2>Timeline</h2>',
        "<p>Per node its phases from Ironic's own history (hosts without them: the time in the wave "
        "window); dashed lines are wave starts, shaded periods are backpressure (a lowered busy bound). "
        "Below: this run's Ironic-busy nodes against the limit.</p>",
        timeline_svg(reports, xml_declaration=False),
        "</section>",
        "<script>%s</script>" % SORT_JS,
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
