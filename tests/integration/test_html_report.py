# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The wave_report callback's HTML report of a real deploy: playbooks/deploy.yml on 5 nodes of a
local Ironic of its own (deploy_limit 2: a canary, then waves of 2). The HTML is checked against the
JSON report of the same run, then rendered by headless Chromium (the Debian package `chromium`) to
a PNG that must have the window's size and show the picture's colours."""
from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from ironwave_testlib.paths import PLAYBOOKS
from ironwave_testlib.playbook import run_playbook

REPO = PLAYBOOKS.parent
PREFIX = "html-"
HOSTS = [f"{PREFIX}inst-{i}" for i in range(5)]
SVG = "{http://www.w3.org/2000/svg}"
WIDTH, HEIGHT = 1400, 1000
DEPLOYING_RGB = bytes((0x31, 0x82, 0xBD))   # PHASE_COLOURS["deploying"] in wave_report_render


class _Tags(HTMLParser):
    """Start tags with attributes, and the text of each <td data-key> (the summary cells)."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.summary: dict[str, str] = {}
        self._key: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        self._key = attrs.get("data-key") if tag == "td" else None

    def handle_data(self, data):
        if self._key:
            self.summary[self._key] = self.summary.get(self._key, "") + data

    def handle_endtag(self, tag):
        self._key = None


@pytest.fixture(scope="module")
def deploy_run(local_ironic_factory, tmp_path_factory):
    """One real deploy of 5 hosts with every report file written into a temp dir."""
    ironic = local_ironic_factory("html-report")
    result = ironic.run_playbook(REPO / "playbooks" / "enroll.yml", {
        "enroll_cloud": ironic.cloud,
        "enroll_generate": {"count": len(HOSTS), "name_prefix": PREFIX, "mac_prefix": "52:55:3a"}})
    assert result.rc == 0, result.output
    tmp = tmp_path_factory.mktemp("html-report")
    inv = tmp / "inventory.yml"
    inv.write_text(yaml.safe_dump({"baremetal": {"hosts": {h: {} for h in HOSTS}, "vars": {
        "deploy_cloud": ironic.cloud, "deploy_resource_class": "baremetal",
        "deploy_candidate_expression": f"starts_with(name, '{PREFIX}')", "deploy_poll_interval": 0.5}}}))
    env = {**ironic.env, "IRONWAVE_WAVE_REPORT_PATH": str(tmp / "report.json"),
           "IRONWAVE_WAVE_SVG_PATH": str(tmp / "timeline.svg"),
           "IRONWAVE_WAVE_HTML_PATH": str(tmp / "out" / "report.html")}
    result = run_playbook(REPO / "playbooks" / "deploy.yml", {"deploy_limit": 2}, env, "-i", str(inv),
                          "--forks", "10")
    assert result.rc == 0, result.output
    states = {n.name: n.provision_state for n in ironic.conn.baremetal.nodes() if n.name.startswith(PREFIX)}
    assert sorted(states.values()) == ["active"] * len(HOSTS), states
    assert f"HTML report: {tmp / 'out' / 'report.html'}" in result.stdout, result.output
    return tmp, result


def test_html_report_matches_the_json_report(deploy_run):
    tmp = deploy_run[0]
    play = json.loads((tmp / "report.json").read_text())["plays"][-1]
    html = (tmp / "out" / "report.html").read_text()
    parser = _Tags()
    parser.feed(html)

    # Summary numbers are the JSON report's.
    s = parser.summary
    assert (s["play"], int(s["waves"]), int(s["hosts"])) == (play["play"], len(play["waves"]), len(HOSTS))
    assert (int(s["ok"]), int(s["failed"]), int(s["not started"])) == (
        play["totals"]["ok"], play["totals"]["failed"], play["totals"]["not_started"]) == (len(HOSTS), 0, 0)
    assert (int(s["peak in flight"]), int(s["window cap"]), int(s["backpressure"])) == (
        play["peak_in_flight"], play["window_cap"], play["backpressure_decreases"])
    assert s["halted"] == "no"
    waves = [a["data-wave"] for t, a in parser.tags if t == "tr" and a.get("class") == "wave"]
    assert waves == [str(w["wave"]) for w in play["waves"]] == ["1", "2", "3"]

    # One row per host, in the table and in the picture; phases where the results had them.
    rows = {a["data-host"]: a for t, a in parser.tags if t == "tr" and "node" in (a.get("class") or "").split()}
    assert sorted(rows) == sorted(HOSTS) and len([1 for t, a in parser.tags if t == "tr" and a.get(
        "class", "").startswith("node")]) == len(HOSTS)
    svg = html[html.index("<svg"):html.index("</svg>") + len("</svg>")]
    root = ET.fromstring(svg)
    groups = {g.get("data-host"): g for g in root.iter(SVG + "g") if g.get("class") == "host"}
    assert sorted(groups) == sorted(HOSTS)
    hosts = {h["name"]: h for h in play["hosts"]}
    for name, host in hosts.items():
        phases = [p["phase"] for p in host.get("phases") or []]
        assert rows[name]["data-phases"] == ",".join(phases)
        drawn = [r.get("data-phase") for r in groups[name].iter(SVG + "rect") if r.get("class") == "phase"]
        assert drawn == phases
    with_phases = [h for h in hosts.values() if h.get("phases")]
    if with_phases:   # node_deploy reports phases: every node's history, ending active
        assert len(with_phases) == len(HOSTS)
        for host in with_phases:
            names = [p["phase"] for p in host["phases"]]
            assert names[0] == "reserved" and names[-1] == "active" and "deploying" in names, names
            assert host["node"]["uuid"]
        busy = [p for p in root.iter(SVG + "polyline") if p.get("class") == "busy-count"]
        assert len(busy) == 1 and int(busy[0].get("data-peak")) >= 1
        assert int(s["peak Ironic-busy"]) == int(busy[0].get("data-peak"))
    # Wave starts on the axis; nothing loaded from elsewhere.
    assert len([ln for ln in root.iter(SVG + "line") if ln.get("class") == "wave-boundary"]) == 3
    assert any(t.text == "seconds from run start" for t in root.iter(SVG + "text"))
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", html, re.I)
    # The SVG file is the same picture.
    standalone = ET.fromstring((tmp / "timeline.svg").read_text().split("\n", 1)[1])
    assert sorted(g.get("data-host") for g in standalone.iter(SVG + "g") if g.get("class") == "host") == sorted(HOSTS)


def _chromium() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.skip("chromium is not installed and this user may not install it (apt-get install chromium)")
    pytest.fail("chromium is missing: as root, tests/run-all.sh installs the Debian package chromium")


def _png(path: Path) -> tuple[int, int, Counter]:
    """Width, height and colour counts (RGB) of an 8-bit, non-interlaced RGB/RGBA PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, colour_type, _compression, _filter, interlace = ihdr
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, ihdr
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    prev = bytearray(stride)
    colours: Counter = Counter()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif kind == 3:
            for i in range(stride):
                line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a, b, c = (line[i - bpp] if i >= bpp else 0), prev[i], (prev[i - bpp] if i >= bpp else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        colours.update(bytes(line[i:i + 3]) for i in range(0, stride, bpp))
        prev = line
    return width, height, colours


def test_html_report_renders_in_headless_chromium(deploy_run, tmp_path):
    tmp = deploy_run[0]
    chromium = _chromium()
    png = tmp_path / "report.png"
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}", (tmp / "out" / "report.html").as_uri()],
        capture_output=True, text=True, timeout=180, check=False, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and png.exists(), proc.stdout + proc.stderr
    width, height, colours = _png(png)
    assert (width, height) == (WIDTH, HEIGHT)
    total = width * height
    assert len(colours) > 20, colours.most_common(5)          # text, tables, bars: not one flat colour
    assert colours.most_common(1)[0][1] < 0.97 * total
    play = json.loads((tmp / "report.json").read_text())["plays"][-1]
    if any("deploying" in [p["phase"] for p in h.get("phases") or []] for h in play["hosts"]):
        # The timeline is on the first screen: its deploying bars are drawn.
        assert colours[DEPLOYING_RGB] > 50, colours.most_common(10)
