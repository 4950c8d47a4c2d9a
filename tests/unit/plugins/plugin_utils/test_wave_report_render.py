# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import xml.etree.ElementTree as ET

from ansible_collections.ironwave.baremetal.plugins.plugin_utils.wave_report_render import (
    eta_seconds,
    format_duration,
    progress_line,
    summary_table,
    timeline_svg,
)
from ansible_collections.ironwave.baremetal.plugins.plugin_utils.wave_schedule import (
    FAILED,
    OK,
    WaveScheduler,
    parse_settings,
)

SVG_NS = "{http://www.w3.org/2000/svg}"


def finished_run():
    hosts = ["n%d" % i for i in range(6)]
    s = WaveScheduler(hosts, parse_settings({"ironwave_wave_size": 2, "ironwave_wave_schedule": [1, 2]}), 100.0, "deploy")
    s.admit(100.0)
    s.host_left("n0", OK, 110.0)
    s.admit(110.0)
    s.host_left("n1", FAILED, 115.0)  # default budget 0: halts, n2 still finishes
    assert s.admit(115.0) == []
    s.host_left("n2", OK, 120.0)
    s.finish(121.0)
    return s


def test_progress_line_is_plain_text():
    s = WaveScheduler(["a", "b", "c", "d"], parse_settings({"ironwave_wave_size": 2}), 0.0, "p")
    s.admit(0.0)
    s.host_left("a", OK, 10.0)
    s.admit(10.0)
    line = progress_line(s.snapshot(10.0), "leave a")
    assert line == ("WAVE p | wave 1/1 | window 2/2 | in flight 2 | done 1/4 | failed 0 | "
                    "waiting for slot 1 | ETA 0:00:30 | leave a")
    assert "\x1b" not in line


def test_eta_unknown_before_first_departure_and_halted():
    s = WaveScheduler(["a", "b"], parse_settings({"ironwave_wave_size": 1}), 0.0)
    s.admit(0.0)
    assert eta_seconds(s.snapshot(5.0)) is None
    s.host_left("a", FAILED, 6.0)
    assert s.halted
    assert "ETA halted" in progress_line(s.snapshot(6.0))
    assert "waiting for slot 0 | not started 1" in progress_line(s.snapshot(6.0))


def test_format_duration():
    assert format_duration(None) == "-"
    assert format_duration(3725.4) == "1:02:05"


def test_summary_table_rows():
    rep = finished_run().report()
    table = summary_table(rep)
    lines = table.splitlines()
    assert lines[0] == "WAVE SUMMARY play deploy"
    assert lines[3].split()[:5] == ["1", "1", "1", "0", "0"]
    assert lines[4].split()[:5] == ["2", "2", "1", "1", "0"]
    assert "EXCEEDED" in lines[4]
    assert lines[-1].split()[:5] == ["total", "6", "2", "1", "3"]
    assert "HALTED" in lines[-1]


def test_svg_has_one_bar_per_host_and_parses():
    rep = finished_run().report()
    svg = timeline_svg([rep])
    root = ET.fromstring(svg.split("\n", 1)[1])
    groups = [g for g in root.iter(SVG_NS + "g") if g.get("class") == "host"]
    assert [g.get("data-host") for g in groups] == ["n%d" % i for i in range(6)]
    assert [g.get("data-state") for g in groups] == ["ok", "failed", "ok", "not_started", "not_started", "not_started"]
    # the canary's run bar starts at the left edge and the failed host's bar is red
    red = [r for r in groups[1].iter(SVG_NS + "rect") if r.get("class") == "failed"]
    assert red and red[0].get("fill") == "#d62728"
