# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""service_client.ServiceClient: the retry policy by cause for compute/Placement/image requests.
A fake keystoneauth session answers from a script; the clock advances only through sleep."""
from __future__ import annotations

import json
import random

import pytest

from keystoneauth1 import exceptions as ksa

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, ironic_errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import service_client as sc

EP = "http://nova.example:8774/v2.1"
REFUSED = ksa.ConnectFailure(f"Unable to establish connection to {EP}/servers: [Errno 111] Connection refused")
ABORTED = ksa.ConnectFailure(f"Unable to establish connection to {EP}/servers: ('Connection aborted.', "
                             "RemoteDisconnected('Remote end closed connection without response'))")


class Resp:
    def __init__(self, status: int, body=None, text: str = "", headers: dict | None = None) -> None:
        self.status_code = status
        self._body = body
        self.text = text or (json.dumps(body) if body is not None else "")
        self.content = self.text.encode()
        self.headers = {"Content-Type": "application/json", **(headers or {})}

    def json(self):
        if self._body is None:
            raise ValueError("no JSON")
        return self._body


class Session:
    """Answers each request with the next scripted item (a Resp, or an exception to raise)."""

    def __init__(self, *script) -> None:
        self.script = list(script)
        self.sent: list[tuple[str, str, dict]] = []

    def request(self, url, method, **kwargs):
        assert kwargs["raise_exc"] is False and kwargs["connect_retries"] == 0
        assert kwargs["status_code_retries"] == 0
        self.sent.append((method, url[len(EP):], kwargs))
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item


class Conn:
    def __init__(self, session, config=None) -> None:
        self.session = session
        self.config = config


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def client(session, service: str = "compute", budget: float = 60.0):
    clock = Clock()
    version = ("OpenStack-API-Version", f"{service} 2.74") if service != "image" else None
    return sc.ServiceClient(Conn(session), service, version, outage_budget=budget, endpoint=EP + "/",
                            clock=clock, sleep=clock.sleep, rng=random.Random(1)), clock


def test_get_sends_the_version_header_and_flattens_params():
    s = Session(Resp(200, {"servers": []}, headers={"X-Openstack-Request-Id": "req-1"}))
    c, _unused = client(s)
    body, headers = c.call("GET", "/servers/detail", params={"tags": "ironwave", "name": None, "x": ["a", "b"]})
    assert body == {"servers": []} and headers["X-Openstack-Request-Id"] == "req-1"
    method, path, kw = s.sent[0]
    assert (method, path) == ("GET", "/servers/detail?tags=ironwave&x=a&x=b")
    assert kw["headers"]["OpenStack-API-Version"] == "compute 2.74" and "json" not in kw
    assert c.requests == 1


def test_per_call_microversion_overrides_the_default():
    s = Session(Resp(200, {}))
    c, _unused = client(s)
    c.call("GET", "/os-hypervisors/detail", version="2.88")
    assert s.sent[0][2]["headers"]["OpenStack-API-Version"] == "compute 2.88"


def test_image_service_sends_no_version_header_and_204_has_no_body():
    s = Session(Resp(204))
    c, _unused = client(s, service="image")
    assert c.call("DELETE", "/v2/images/x") == (None, {"Content-Type": "application/json"})
    assert "OpenStack-API-Version" not in s.sent[0][2]["headers"]


def test_outage_is_ridden_out_then_answers():
    s = Session(REFUSED, Resp(503, text="<html>Service Unavailable</html>"), Resp(502), Resp(200, {"ok": 1}))
    c, clock = client(s)
    assert c.request("GET", "/servers/x") == {"ok": 1}
    assert len(s.sent) == 4 and c.stats.retries == 3 and len(clock.slept) == 3 and all(d > 0 for d in clock.slept)


def test_outage_longer_than_the_budget_raises_cloud_unreachable_naming_the_endpoint():
    s = Session(*([REFUSED] * 200))
    c, clock = client(s, budget=30.0)
    with pytest.raises(errors.CloudUnreachable) as info:
        c.request("GET", "/servers/detail")
    assert info.value.kind == ironic_errors.ENDPOINT and info.value.result["endpoint"] == EP
    assert EP in info.value.msg and "outage_budget 30 s" in info.value.msg and "compute" in info.value.msg
    assert clock.now - 1000.0 <= 30.0 and len(s.sent) > 3


def test_nova_4xx_raises_at_once_with_novas_message():
    s = Session(Resp(404, {"itemNotFound": {"code": 404, "message": "Flavor bm could not be found."}}))
    c, clock = client(s)
    with pytest.raises(sc.ServiceError) as info:
        c.request("GET", "/flavors/bm")
    err = info.value
    assert err.status == 404 and err.kind == "not_found" and err.service == "compute" and not err.ambiguous
    assert err.msg == "compute: GET /flavors/bm failed (404): Flavor bm could not be found."
    assert err.result == {"status_code": 404, "service": "compute"} and clock.slept == [] and len(s.sent) == 1


def test_placement_error_names_placements_detail():
    detail = ("The server could not comply with the request since it is either malformed or otherwise "
              "incorrect.\n\n Invalid resource class in resources parameter: No such resource class CUSTOM_X.  ")
    s = Session(Resp(400, {"errors": [{"status": 400, "title": "Bad Request", "detail": detail,
                                       "code": "placement.undefined_code"}]}))
    c, _unused = client(s, service="placement")
    with pytest.raises(sc.ServiceError) as info:
        c.request("GET", "/resource_providers", params={"resources": "CUSTOM_X:1"})
    assert info.value.status == 400 and "No such resource class CUSTOM_X" in info.value.msg
    assert info.value.msg.startswith("placement: GET /resource_providers failed (400): ")


def test_conflict_and_500_are_not_retried():
    busy = "Cannot 'delete' instance x while it is in task_state deleting"
    s = Session(Resp(409, {"conflictingRequest": {"code": 409, "message": busy}}),
                Resp(500, text="Internal Server Error\n  boom"))
    c, _unused = client(s)
    with pytest.raises(sc.ServiceError) as info:
        c.request("DELETE", "/servers/x")
    assert info.value.kind == "conflict" and "task_state deleting" in info.value.msg
    with pytest.raises(sc.ServiceError) as info:
        c.request("GET", "/servers/x")
    assert info.value.status == 500 and info.value.msg.endswith("Internal Server Error boom")
    assert len(s.sent) == 2


def test_ok_statuses_are_returned_instead_of_raised():
    s = Session(Resp(404, {"itemNotFound": {"code": 404, "message": "gone"}}, headers={"X": "1"}))
    c, _unused = client(s)
    assert c.call("DELETE", "/servers/x", ok=(404,)) == (None, {"Content-Type": "application/json", "X": "1"})


def test_post_is_not_resent_after_an_ambiguous_failure():
    s = Session(ABORTED, Resp(202, {"server": {"id": "s1"}}))
    c, clock = client(s)
    with pytest.raises(sc.ServiceError) as info:
        c.request("POST", "/servers", json={"server": {"name": "web-1"}}, resend=False)
    assert info.value.ambiguous and info.value.status is None and len(s.sent) == 1 and clock.slept == []
    s2 = Session(Resp(504, text="Gateway Timeout"), Resp(202, {"server": {"id": "s1"}}))
    c2, _unused = client(s2)
    with pytest.raises(sc.ServiceError) as info:
        c2.request("POST", "/servers", json={"server": {}})
    assert info.value.ambiguous and info.value.status == 504 and len(s2.sent) == 1


def test_post_that_surely_was_not_sent_is_resent():
    s = Session(REFUSED, Resp(202, {"server": {"id": "s1"}}))
    c, _unused = client(s)
    assert c.request("POST", "/servers", json={"server": {"name": "web-1"}}, resend=False) == {"server": {"id": "s1"}}
    assert len(s.sent) == 2 and s.sent[1][2]["json"] == {"server": {"name": "web-1"}}


def test_idempotent_writes_are_resent_after_an_ambiguous_failure():
    s = Session(ABORTED, Resp(204), ABORTED, Resp(200, {"extra_specs": {}}))
    c, _unused = client(s)
    c.request("DELETE", "/servers/x")
    assert c.request("POST", "/flavors/f/os-extra_specs", json={"extra_specs": {}}, resend=True) == {"extra_specs": {}}
    assert len(s.sent) == 4


def test_tls_error_is_not_an_outage():
    s = Session(ksa.SSLError("certificate verify failed"))
    c, _unused = client(s)
    with pytest.raises(sc.ServiceError) as info:
        c.request("GET", "/servers/detail")
    assert info.value.status is None and "certificate verify failed" in info.value.msg and len(s.sent) == 1


@pytest.mark.parametrize("body,expected", [
    ({"badRequest": {"code": 400, "message": "Invalid input"}}, "Invalid input"),
    ({"errors": [{"title": "Conflict"}]}, "Conflict"),
    ({"errors": []}, "fallback"),
    ("plain text", "fallback"),
    (None, "fallback"),
])
def test_service_message(body, expected):
    assert sc.service_message(body, "fallback") == expected


class Config:
    def __init__(self, override=None) -> None:
        self.override = override

    def get_endpoint(self, service_type):
        return self.override

    def get_interface(self, service_type):
        return "internal"

    def get_region_name(self, service_type):
        return "RegionOne"


class CatalogSession:
    def __init__(self, endpoint) -> None:
        self.endpoint, self.asked = endpoint, []

    def get_endpoint(self, **kwargs):
        self.asked.append(kwargs)
        return self.endpoint


def test_endpoint_from_the_override_else_the_catalog_else_bad_input():
    assert sc.service_endpoint(Conn(CatalogSession(None), Config("http://x/placement/")), "placement") == \
        "http://x/placement"
    catalog = CatalogSession("http://nova:8774/v2.1/")
    assert sc.service_endpoint(Conn(catalog, Config()), "compute") == "http://nova:8774/v2.1"
    assert catalog.asked == [{"service_type": "compute", "interface": "internal", "region_name": "RegionOne"}]
    with pytest.raises(errors.BadInput, match="no placement endpoint"):
        sc.service_endpoint(Conn(CatalogSession(None), Config()), "placement")
