# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Fixture for the local Nova stack (helpers in tests/lib/ironwave_testlib/local_nova.py).

- `local_nova` (session): a real Nova (api, conductor, scheduler, two nova-compute services with
  the ironic driver) + Placement + its own Ironic, brought up once through playbooks/local_nova.yml
  in $IRONWAVE_NOVA_TEST_DIR (default <repo>/.state/test-nova) on the ports below. A stack already
  running there is reused (the role run is idempotent). Stopped at session end by its recorded
  PIDs unless IRONWAVE_KEEP_NOVA=1.
- Tests marked `stops_local_nova` are moved to the end of the session (after every other file's).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

LIB = str(Path(__file__).resolve().parents[1] / "lib")
if LIB not in sys.path:
    sys.path.insert(0, LIB)

from ironwave_testlib.local_nova import LocalNova  # noqa: E402  pylint: disable=wrong-import-position
from ironwave_testlib.paths import REPO  # noqa: E402  pylint: disable=wrong-import-position

# Apart from `make nova-up` (5000, 8774, 8778, 9292, 9696, 13316, 5682, 25682, 24369, Ironic 6386) and
# the integration tests' Ironic ports (6395+).
TEST_PORTS = {"keystone": 28500, "api": 28774, "placement": 28778, "glance": 28292, "neutron": 28696, "mariadb": 28306,
              "rabbitmq": 28672, "rabbitmq_dist": 28673, "epmd": 28369, "ironic": 28385}
COMPUTES = ["ironwave-test-compute-1", "ironwave-test-compute-2"]


def pytest_configure(config):
    config.addinivalue_line("markers", "stops_local_nova: stops the session's Nova stack; runs after every other test")


def pytest_collection_modifyitems(items):
    """Tests that stop the shared stack run last, whatever file they are in."""
    items.sort(key=lambda item: item.get_closest_marker("stops_local_nova") is not None)


@pytest.fixture(scope="session")
def local_nova():
    root = Path(os.environ.get("IRONWAVE_NOVA_TEST_DIR") or REPO / ".state" / "test-nova")
    root.mkdir(parents=True, exist_ok=True)
    stack = LocalNova(root=root, ports=TEST_PORTS, computes=COMPUTES)
    monkey = pytest.MonkeyPatch()
    monkey.setenv("OS_CLIENT_CONFIG_FILE", str(stack.clouds_yaml))
    try:
        stack.start()
        yield stack
    finally:
        problems = ""
        if os.environ.get("IRONWAVE_KEEP_NOVA") != "1":
            result = stack.stop()
            problems = result.output if result.rc != 0 else ""
        monkey.undo()
        assert not problems, problems
