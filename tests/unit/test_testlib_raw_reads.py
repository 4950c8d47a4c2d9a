# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The Nova harness's raw reads (tests/lib/ironwave_testlib/nova_scenarios.py): a read retried after a
dropped keep-alive connection keeps its headers. Before, the retry went out without the Placement
microversion and Placement (at 1.0) answered 404 to /allocation_candidates - a founding-scenario
setup error on a stack whose Placement had just restarted."""
from __future__ import annotations

from keystoneauth1 import exceptions as ksa

from ironwave_testlib import nova_scenarios


class _Response:
    def raise_for_status(self) -> None:
        return None

    def json(self) -> dict:
        return {"provider_summaries": {}}


class _DropsFirstConnection:
    def __init__(self) -> None:
        self.headers: list[dict] = []

    def get(self, path, headers=None, **kwargs):
        self.headers.append(dict(headers or {}))
        if len(self.headers) == 1:
            raise ksa.ConnectFailure("connection dropped")
        return _Response()


def test_a_retried_read_keeps_its_microversion(monkeypatch):
    monkeypatch.setattr(nova_scenarios.time, "sleep", lambda seconds: None)
    proxy = _DropsFirstConnection()
    assert nova_scenarios._get(proxy, "/allocation_candidates?resources=CUSTOM_BAREMETAL:1",
                               headers={"OpenStack-API-Version": "placement 1.28"}) == {"provider_summaries": {}}
    assert len(proxy.headers) == 2
    assert all(h.get("OpenStack-API-Version") == "placement 1.28" for h in proxy.headers), proxy.headers
    assert all(h.get("X-OpenStack-Request-ID") for h in proxy.headers)
