# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.plugin_utils.report_location import report_path

AWX = {"AWX_ISOLATED_DATA_DIR": "/runner/artifacts/42"}


@pytest.mark.parametrize(("value", "origin", "env", "expected"), [
    # Under ansible-runner a default path goes to the job's artifacts, which AWX keeps.
    ("/srv/project/reports/wave-report.json", "default", AWX, "/runner/artifacts/42/ironwave/wave-report.json"),
    ("reports/wave-timeline.svg", "default", AWX, "/runner/artifacts/42/ironwave/wave-timeline.svg"),
    # A path somebody set is kept, under runner or not.
    ("/data/wave.json", "env: IRONWAVE_WAVE_REPORT_PATH", AWX, "/data/wave.json"),
    ("/data/wave.json", "/etc/ansible/ansible.cfg", AWX, "/data/wave.json"),
    # Outside runner the default stays where it was.
    ("/srv/project/reports/wave-report.json", "default", {}, "/srv/project/reports/wave-report.json"),
    ("/srv/project/reports/wave-report.json", "default", {"AWX_ISOLATED_DATA_DIR": ""},
     "/srv/project/reports/wave-report.json"),
    # Empty disables the file.
    ("", "env: IRONWAVE_WAVE_SVG_PATH", AWX, None),
    (None, "default", AWX, None),
])
def test_report_path(value, origin, env, expected):
    assert report_path(value, origin, env) == expected
