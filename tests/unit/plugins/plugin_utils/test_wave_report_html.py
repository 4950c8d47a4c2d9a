# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The HTML report and the timeline picture, from synthetic runs with node_deploy-shaped phases."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from ansible_collections.ironwave.baremetal.plugins.plugin_utils.wave_report_html import (
    host_start,
    node_rows,
    report_html,
    slot_wait,
)
from ansible_collections.ironwave.baremetal.plugins.plugin_utils.wave_report_render import (
    axis_ticks,
    backpressure_intervals,
    busy_steps,
    clean_phases,
    node_info,
    timeline_svg,
)
from ansible_collections.ironwave.baremetal.plugins.plugin_utils.wave_schedule import (
    FAILED,
    OK,
    WaveScheduler,
    parse_settings,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script>&"\''
T0 = 1000.0


def _phases(start: float, wait: float, deploy: float, cb: float, end: str = "active") -> list[dict]:
    """reserved -> waiting -> admitted -> deploying -> wait call-back -> end, as node_deploy returns them."""
    at = [start, start + 0.5, start + 0.5 + wait, start + 1.0 + wait, start + 1.0 + wait + deploy,
          start + 1.0 + wait + deploy + cb]
    names = ["reserved", "waiting", "admitted", "deploying", "wait call-back", end]
    return [{"phase": n, "at": T0 + a} for n, a in zip(names, at)]


def deploy_run():
    """6 hosts, canary then waves of 3 (window 3); n3 fails; backpressure from n2 lowered the busy
    bound to 1 between t=20 and t=30; the last host's result carried no phases."""
    hosts = ["n0", "n1", "n2", "n3", "n4", HOSTILE]
    s = WaveScheduler(hosts, parse_settings({"ironwave_wave_size": 3, "ironwave_wave_schedule": [1, 3],
                                             "ironwave_wave_max_failures": [0, 1]}), T0, "deploy <fleet>")
    s.admit(T0)
    s.host_left("n0", OK, T0 + 10)
    s.admit(T0 + 10)  # n1 n2 n3
    s.backpressure("n2")
    assert s.busy_bound() == 1 and s.note_busy_bound(T0 + 20)
    s.host_left("n1", OK, T0 + 22)
    s.host_left("n3", FAILED, T0 + 24)
    s.admit(T0 + 24)
    s.aimd.value = s.aimd.cap  # recovered
    s.note_busy_bound(T0 + 30)
    s.host_left("n2", OK, T0 + 31)
    s.admit(T0 + 31)
    s.host_left("n4", OK, T0 + 40)
    s.host_left(HOSTILE, OK, T0 + 41)
    s.finish(T0 + 42)
    rep = s.report()
    rep["busy_limit"] = 3
    extra = {
        "n0": ({"uuid": "u-0", "name": "node-0"}, _phases(0, 0, 4, 5)),
        "n1": ({"uuid": "u-1", "name": "node-1"}, _phases(10, 1, 5, 5)),
        "n2": ({"uuid": "u-2", "name": "node-2"}, _phases(10, 2, 8, 10)),
        "n3": ({"uuid": "u-3"}, _phases(10, 3, 9, 0, end="deploy failed")),
        "n4": ({"uuid": "u-4", "name": HOSTILE}, _phases(24, 4, 6, 5)),
    }
    for h in rep["hosts"]:
        if h["name"] in extra:
            h["node"], h["phases"] = extra[h["name"]]
    return rep


class _Collect(HTMLParser):
    """Tags with their attributes, to assert on the document's structure."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict]]:
    p = _Collect()
    p.feed(html)
    return p.tags


def _svg_root(svg: str) -> ET.Element:
    return ET.fromstring(svg.split("\n", 1)[1] if svg.startswith("<?xml") else svg)


def test_result_fields_are_normalised():
    assert node_info("abc") == {"uuid": "abc"}
    assert node_info({"uuid": "u", "name": "n", "other": 1}) == {"uuid": "u", "name": "n"}
    assert node_info(None) is None and node_info({}) is None
    raw = [{"phase": "active", "at": 5, "source": "ironic"}, {"phase": "reserved", "at": 1.5, "x": "y"},
           {"phase": 3, "at": 1}, "x", {"phase": "deploying", "at": True}]
    assert clean_phases(raw) == [{"phase": "reserved", "at": 1.5}, {"phase": "active", "at": 5.0, "source": "ironic"}]
    assert clean_phases(None) == []


def test_busy_count_and_backpressure_from_the_records():
    rep = deploy_run()
    steps = busy_steps([rep])
    # n0 deploying/wait call-back 1.0..10.0; n1 12..22; n2 13..31; n3 14..23 (then failed); n4 29..40
    assert max(count for _at, count in steps) == 3
    assert steps[-1][1] == 0
    assert dict(steps)[T0 + 14] == 3
    assert backpressure_intervals(rep) == [(T0 + 20, T0 + 30, 1)]


def test_axis_ticks_are_round_numbers():
    assert axis_ticks(42) == [0, 10, 20, 30, 40]
    assert axis_ticks(7) == [0, 1, 2, 3, 4, 5, 6, 7]
    assert axis_ticks(3600)[:3] == [0, 600, 1200]


def test_svg_rows_phases_axis_waves_shading_busy_chart():
    rep = deploy_run()
    root = _svg_root(timeline_svg([rep]))
    hosts = [g for g in root.iter(SVG + "g") if g.get("class") == "host"]
    assert [g.get("data-host") for g in hosts] == ["n0", "n1", "n2", "n3", "n4", HOSTILE]
    n3 = hosts[3]
    assert [r.get("data-phase") for r in n3.iter(SVG + "rect")] == [
        "reserved", "waiting", "admitted", "deploying", "wait call-back", "deploy failed"]
    assert [r.get("fill") for r in n3.iter(SVG + "rect")][-1] == "#d62728"
    # the row is labelled with the node name, the host without phases keeps the window bar
    assert hosts[0].find(SVG + "text").text == "node-0"
    assert hosts[3].find(SVG + "text").text == "n3"
    assert {r.get("class") for r in hosts[5].iter(SVG + "rect")} == {"waiting", "ok"}
    ticks = [t.text for t in root.iter(SVG + "text") if t.get("class") == "tick-label"]
    assert ticks[:5] == ["0 s", "10 s", "20 s", "30 s", "40 s"]
    assert any(t.text == "seconds from run start" for t in root.iter(SVG + "text"))
    waves = [ln for ln in root.iter(SVG + "line") if ln.get("class") == "wave-boundary"]
    assert [w.get("data-wave") for w in waves] == ["1", "2", "3"]
    # wave 2 starts at t=10: its line is right of wave 1's by 10/42 of the plot
    assert float(waves[1].get("x1")) > float(waves[0].get("x1"))
    shade = [r for r in root.iter(SVG + "rect") if r.get("class") == "backpressure"]
    assert len(shade) == 1 and shade[0].get("data-bound") == "1"
    busy = [p for p in root.iter(SVG + "polyline") if p.get("class") == "busy-count"]
    assert len(busy) == 1 and busy[0].get("data-peak") == "3"
    limit = [ln for ln in root.iter(SVG + "line") if ln.get("class") == "busy-limit"]
    assert [ln.get("data-limit") for ln in limit] == ["3"]
    bound = [ln for ln in root.iter(SVG + "line") if ln.get("class") == "busy-bound"]
    assert [ln.get("data-bound") for ln in bound] == ["1"]
    legend = {g.get("data-key") for g in root.iter(SVG + "g") if g.get("class") == "legend"}
    assert {"reserved", "waiting", "deploying", "wait call-back", "active", "deploy failed",
            "backpressure", "wave-boundary"} <= legend


def test_svg_without_any_phases_says_so_and_parses():
    rep = deploy_run()
    for h in rep["hosts"]:
        h.pop("phases", None)
    root = _svg_root(timeline_svg([rep]))
    assert any(t.get("class") == "no-phases" for t in root.iter(SVG + "text"))
    assert not [p for p in root.iter(SVG + "polyline") if p.get("class") == "busy-count"]


def test_html_sections_tables_and_sorting():
    rep = deploy_run()
    html = report_html([rep])
    tags = _tags(html)
    sections = [a["id"] for t, a in tags if t == "section"]
    assert sections == ["summary", "waves", "nodes", "timeline"]
    summary = {a["data-key"] for t, a in tags if t == "td" and "data-key" in a}
    assert {"waves", "ok", "failed", "duration", "peak in flight", "window cap", "backpressure"} <= summary
    assert re.search(r'data-key="ok">5<', html) and re.search(r'data-key="failed">1<', html)
    assert re.search(r'data-key="backpressure">1<', html)
    assert re.search(r'data-key="peak Ironic-busy">3<', html)
    assert [a["data-wave"] for t, a in tags if t == "tr" and a.get("class") == "wave"] == ["1", "2", "3"]
    rows = [a for t, a in tags if t == "tr" and (a.get("class") or "").startswith("node")]
    # every host once, in time order (n5's work began at its admission, t=31)
    assert [r["data-host"] for r in rows] == ["n0", "n1", "n2", "n3", "n4", HOSTILE]
    assert rows[3]["class"] == "node failed"
    assert rows[0]["data-phases"].split(",") == [
        "reserved", "waiting", "admitted", "deploying", "wait call-back", "active"]
    assert "sortable" in html and "addEventListener('click'" in html and "<script>" in html
    assert html.count("<svg") == 1 and "<?xml" not in html


def test_node_figures():
    rep = deploy_run()
    by_name = {h["name"]: h for _rep, h in node_rows([rep])}
    assert slot_wait(by_name["n2"]) == 2.0
    assert host_start(by_name["n1"]) == T0 + 10
    assert host_start(by_name[HOSTILE]) == T0 + 31
    html = report_html([rep])
    # n2: reserved at 10, active at 10+1+2+8+10 = 31 -> 21 s
    assert '<td class="num" data-v="21.0">0:00:21</td>' in html


def test_html_escapes_every_string_and_loads_nothing():
    rep = deploy_run()
    html = report_html([rep])
    assert "<script>alert" not in html
    assert html.count("<script>") == 1
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "deploy &lt;fleet&gt;" in html and "deploy <fleet>" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", html, re.I)
    assert "@import" not in html and "url(" not in html
    # the inline picture is well-formed XML with the hostile names in it intact
    svg = html[html.index("<svg"):html.index("</svg>") + len("</svg>")]
    root = ET.fromstring(svg)
    assert HOSTILE in {g.get("data-host") for g in root.iter(SVG + "g")}


class _Host:
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name


class _Result:
    def __init__(self, host, action, res):
        self._host, self._result = _Host(host), res
        self._task = type("Task", (), {"action": action})()


def test_callback_takes_node_and_phases_from_deploy_results_only():
    from types import SimpleNamespace

    from ansible_collections.ironwave.baremetal.plugins.callback.wave_report import CallbackModule, _with_nodes

    cb = SimpleNamespace(_nodes={})
    phases = _phases(0, 1, 2, 3)
    CallbackModule._collect(cb, _Result("n0", "ironwave.baremetal.node_deploy", {
        "node": "u-0", "phases": phases, "slot_wait": 1.0, "password": "s3cret",
        "invocation": {"module_args": {"busy_limit": 3, "cloud": {"auth": {"password": "s3cret"}}}}}))
    CallbackModule._collect(cb, _Result("n1", "node_deploy", {"node": {"uuid": "u-1", "name": "node-1"},
                                                              "phases": [], "failed": True}))
    CallbackModule._collect(cb, _Result("n2", "ironwave.baremetal.nova_server", {"phases": phases[:2]}))
    CallbackModule._collect(cb, _Result("n3", "ansible.builtin.debug", {"node": "u-3", "msg": "not a deploy"}))
    assert sorted(cb._nodes) == ["n0", "n1", "n2"]
    assert cb._nodes["n0"] == {"node": {"uuid": "u-0"}, "phases": phases, "slot_wait": 1.0, "busy_limit": 3}
    assert cb._nodes["n1"] == {"node": {"uuid": "u-1", "name": "node-1"}, "phases": []}
    assert cb._nodes["n2"] == {"phases": phases[:2]}
    rep = deploy_run()
    for h in rep["hosts"]:
        h.pop("node", None), h.pop("phases", None)
    rep.pop("busy_limit")
    out = _with_nodes(rep, cb._nodes)
    by_name = {h["name"]: h for h in out["hosts"]}
    assert by_name["n0"]["phases"] == phases and by_name["n0"]["node"] == {"uuid": "u-0"}
    assert "phases" not in by_name["n4"] and out["busy_limit"] == 3
    assert "s3cret" not in repr(out)


def test_waves_starting_together_share_one_label():
    rep = deploy_run()
    rep["waves"][2]["started_at"] = rep["waves"][1]["started_at"]   # sliding: wave 3 admitted with wave 2
    root = _svg_root(timeline_svg([rep]))
    labels = [t.text for t in root.iter(SVG + "text") if t.get("class") == "wave-label"]
    assert labels == ["wave 1", "waves 2, 3"]
    assert len([ln for ln in root.iter(SVG + "line") if ln.get("class") == "wave-boundary"]) == 3
