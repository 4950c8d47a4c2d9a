# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Fixtures that run a real local Ironic (the helpers live in tests/lib/ironwave_testlib).

- `local_ironic` (session): one Ironic on 127.0.0.1:$IRONWAVE_TEST_PORT (default 6395), cloud
  `ironwave-test`, state and clouds.yaml in a temp dir. Treat it as shared: don't stop or
  reconfigure it; start your own with the factory for that.
- `local_ironic_factory` (session): `local_ironic_factory(name, port=None, **role_vars)` starts
  another instance (e.g. `max_concurrent_deploy=2`); its port defaults to the first free one from
  base+2 up (base+1 is left to the molecule scenario's 6396).
Every instance is stopped by its PID (state=stopped) at the end of the session, even after failures.
Each pytest-xdist worker shifts its ports by 10.
"""
from __future__ import annotations

import os
import re

import pytest

from ironwave_testlib.local_ironic import IronicFactory, LocalIronic
from ironwave_testlib.playbook import run_playbook

# Older tests import these from conftest; the helpers themselves live in ironwave_testlib.
__all__ = ["IronicFactory", "LocalIronic", "run_playbook"]

_WORKER = int(re.sub(r"\D", "", os.environ.get("PYTEST_XDIST_WORKER", "gw0")) or 0)
BASE_PORT = int(os.environ.get("IRONWAVE_TEST_PORT", "6395")) + 10 * _WORKER


@pytest.fixture(scope="session")
def local_ironic_factory(tmp_path_factory):
    factory = IronicFactory(tmp_path_factory.mktemp("local-ironic"), BASE_PORT)
    monkey = pytest.MonkeyPatch()
    monkey.setenv("OS_CLIENT_CONFIG_FILE", str(factory.clouds_yaml))
    try:
        yield factory
    finally:
        problems = factory.stop_all()
        monkey.undo()
        assert not problems, "\n".join(problems)


@pytest.fixture(scope="session")
def local_ironic(local_ironic_factory) -> LocalIronic:
    """The shared local Ironic of the test session (do not stop or reconfigure it)."""
    return local_ironic_factory("main", port=BASE_PORT, cloud="ironwave-test")
