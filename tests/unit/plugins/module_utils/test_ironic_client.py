# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The one Ironic client: retry policy by cause, outage budget, resend safety, pagination.
A fake keystoneauth session answers from a script; the clock advances only through sleep."""
from __future__ import annotations

import json
import random

import pytest

from keystoneauth1 import exceptions as ksa

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, ironic_errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import ironic_client as ic
from ansible_collections.ironwave.baremetal.plugins.module_utils.run_control import RunControl
from ansible_collections.ironwave.baremetal.plugins.plugin_utils.run_control_file import RunControlFile

EP = "http://ironic.example:6385/v1"
ABORTED = ksa.ConnectFailure(f"Unable to establish connection to {EP}/nodes: ('Connection aborted.', "
                             "RemoteDisconnected('Remote end closed connection without response'))")
REFUSED = ksa.ConnectFailure(f"Unable to establish connection to {EP}/nodes: HTTPConnectionPool(host='x', "
                             "port=6385): Max retries exceeded (Caused by NewConnectionError(': Failed to "
                             "establish a new connection: [Errno 111] Connection refused'))")


class Resp:
    def __init__(self, status: int, body=None, text: str = "") -> None:
        self.status_code = status
        self._body = body
        self.text = text or (json.dumps(body) if body is not None else "")
        self.content = self.text.encode()
        self.reason = ""
        self.headers = {"content-type": "application/json"}

    def json(self):
        if self._body is None:
            raise ValueError("no JSON")
        return self._body


def fault(status: int, text: str) -> Resp:
    return Resp(status, {"error_message": json.dumps({"faultstring": text, "faultcode": "Client"})})


def refuse(url, method, **kwargs):
    raise REFUSED


class Session:
    """Answers each request with the next scripted item (a Resp, or an exception to raise)."""

    def __init__(self, *script) -> None:
        self.script = list(script)
        self.sent: list[tuple[str, str, dict]] = []

    def request(self, url, method, **kwargs):
        assert kwargs["raise_exc"] is False and kwargs["connect_retries"] == 0
        self.sent.append((method, url[len(EP):], kwargs.get("json")))
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item


class Conn:
    def __init__(self, session) -> None:
        self.session = session


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def client(session, budget: float = 180.0, guard=None) -> tuple[ic.IronicClient, Clock]:
    clock = Clock()
    return ic.IronicClient(Conn(session), outage_budget=budget, guard=guard, clock=clock, sleep=clock.sleep,
                           endpoint=EP, rng=random.Random(1)), clock


def test_read_that_meets_a_dropped_keepalive_connection_is_simply_retried():
    s = Session(ABORTED, Resp(200, {"nodes": []}))
    c, clock = client(s)
    assert c.request("GET", "/nodes") == {"nodes": []}
    assert len(s.sent) == 2 and c.stats.retries == 1 and clock.slept[0] < 1.0
    assert c.stats.kinds == {ironic_errors.CONNECTION: 1}


def test_api_restart_is_ridden_out_with_bounded_backoff():
    # About 10 s without an API (connection refused), then it answers.
    s = Session(*([REFUSED] * 30))
    c, clock = client(s)
    s.script = []

    def answer(url, method, **kw):
        s.sent.append((method, url, kw.get("json")))
        if clock.now < 1010.0:
            raise REFUSED
        return Resp(200, {"uuid": "n1"})
    s.request = answer
    assert c.get_node("n1") == {"uuid": "n1"}
    assert max(clock.slept) <= ic.OUTAGE_MAX_DELAY and 1010.0 <= clock.now < 1016.0


def test_outage_longer_than_the_budget_fails_naming_the_endpoint():
    s = Session()
    s.request = refuse
    c, clock = client(s, budget=30)
    with pytest.raises(errors.CloudUnreachable) as info:
        c.request("GET", "/nodes")
    assert EP in info.value.msg and "outage_budget 30" in info.value.msg
    assert info.value.kind == ironic_errors.ENDPOINT
    assert 25 <= clock.now - 1000.0 <= 30


def test_proxy_5xx_counts_as_outage_and_is_retried():
    s = Session(Resp(502, text="<html>Bad Gateway</html>"), Resp(504, text="timeout"), Resp(200, {"ok": 1}))
    c = client(s)[0]
    assert c.request("GET", "/nodes") == {"ok": 1} and len(s.sent) == 3


def test_outage_budget_is_shared_by_the_requests_of_one_client():
    s = Session()
    s.request = refuse
    c, clock = client(s, budget=20)
    with pytest.raises(errors.CloudUnreachable):
        c.request("GET", "/nodes")
    first = clock.now
    with pytest.raises(errors.CloudUnreachable):
        c.request("GET", "/nodes")   # the API is still away: no second full budget
    assert clock.now - first <= ic.OUTAGE_MAX_DELAY


def test_post_allocation_whose_connection_dropped_is_answered_by_reading_it_by_name():
    created = {"uuid": "a1", "name": "web-1", "node_uuid": None, "state": "allocating", "last_error": None}
    s = Session(ABORTED, Resp(200, created))
    c = client(s)[0]
    got = c.create_allocation({"name": "web-1", "uuid": "a1", "resource_class": "rc"})
    assert got == created
    assert [m for m, _p, _b in s.sent] == ["POST", "GET"] and s.sent[1][1] == "/allocations/web-1"


def test_post_allocation_not_found_after_a_dropped_connection_is_sent_again():
    created = {"uuid": "a1", "name": "web-1", "state": "allocating"}
    s = Session(ABORTED, fault(404, "Allocation web-1 could not be found."), Resp(201, created))
    c = client(s)[0]
    assert c.create_allocation({"name": "web-1", "uuid": "a1"})["uuid"] == "a1"
    assert [m for m, _p, _b in s.sent] == ["POST", "GET", "POST"]


def test_post_refused_before_sending_is_resent_without_reconciling():
    s = Session(REFUSED, Resp(201, {"uuid": "a1", "name": "web-1"}))
    c = client(s)[0]
    assert c.create_allocation({"name": "web-1"})["uuid"] == "a1"
    assert [m for m, _p, _b in s.sent] == ["POST", "POST"]


def test_someone_elses_allocation_under_our_name_is_not_taken_for_ours():
    s = Session(ABORTED, Resp(200, {"uuid": "other", "name": "web-1"}),
                fault(409, "An allocation with name web-1 already exists."))
    c = client(s)[0]
    with pytest.raises(ic.ApiError) as info:
        c.create_allocation({"name": "web-1", "uuid": "a1"})
    assert info.value.kind == ironic_errors.DUPLICATE


def test_deploy_request_after_a_504_is_not_resent_blindly():
    s = Session(Resp(504, text="Gateway Timeout"), Resp(202))
    c = client(s)[0]
    with pytest.raises(ic.ApiError) as info:
        c.set_provision_state("n1", "active")
    assert info.value.ambiguous and len(s.sent) == 1


def test_deploy_request_reconcile_decides_took_effect_or_resend():
    s = Session(Resp(504, text="Gateway Timeout"))
    c = client(s)[0]
    c.set_provision_state("n1", "active", reconcile=lambda: "deploying")
    assert len(s.sent) == 1
    s = Session(ABORTED, Resp(202))
    c = client(s)[0]
    c.set_provision_state("n1", "active", reconcile=lambda: None)
    assert [m for m, _p, _b in s.sent] == ["PUT", "PUT"] and s.sent[1][2] == {"target": "active"}


def test_delete_whose_first_attempt_took_effect_is_done_on_404():
    s = Session(ABORTED, fault(404, "Allocation a1 could not be found."))
    c = client(s)[0]
    assert c.request("DELETE", "/allocations/a1") is None and len(s.sent) == 2
    # Without an ambiguous first attempt a 404 is an error.
    s = Session(fault(404, "Allocation a1 could not be found."))
    c = client(s)[0]
    with pytest.raises(ic.ApiError):
        c.request("DELETE", "/allocations/a1")


def test_node_associated_is_never_retried_node_locked_is():
    s = Session(fault(409, "Node n1 is associated with instance i1."))
    c = client(s)[0]
    with pytest.raises(ic.ApiError) as info:
        c.patch_node("n1", [{"op": "add", "path": "/instance_uuid", "value": "i2"}])
    assert info.value.kind == ironic_errors.NODE_ASSOCIATED and len(s.sent) == 1 and not info.value.ambiguous
    s = Session(fault(409, "Node n1 is locked by host c1, please retry after the current operation is completed."),
                Resp(200, {"uuid": "n1"}))
    c = client(s)[0]
    assert c.patch_node("n1", [])["uuid"] == "n1" and c.stats.retries == 1


def test_backpressure_503_is_retried_within_the_deadline_and_counted():
    limit = fault(503, "Unable to process request at this time. The concurrent action limit for provisioning "
                       "has been reached.")
    s = Session(limit, Resp(202))
    c = client(s)[0]
    c.set_provision_state("n1", "active")
    assert len(s.sent) == 2 and c.stats.backpressure
    s = Session()
    s.request = lambda url, method, **kw: limit
    c, clock = client(s)
    with pytest.raises(ic.ApiError) as info:
        c.set_provision_state("n1", "active", deadline=30)
    assert info.value.kind == ironic_errors.CONCURRENT_ACTION_LIMIT and clock.now - 1000 <= 30


def test_backpressure_is_signalled_to_the_run_at_once_while_retrying(tmp_path):
    """The strategy must learn of the 503 while the task still retries, not when it ends."""
    limit = fault(503, "Unable to process request at this time. The concurrent action limit for provisioning "
                       "has been reached.")
    guard = RunControl(control=str(tmp_path / "run.json"), host="web-1")
    writer = RunControlFile(guard.control)
    seen = []
    s = Session(limit, limit, Resp(202))
    c, clock = client(s, guard=guard)
    c.sleep = lambda d: seen.append(writer.backpressure_signalled("web-1"))
    c.set_provision_state("n1", "active")
    assert seen == [True, True] and not writer.backpressure_signalled("web-2")
    writer.remove()
    assert not writer.backpressure_signalled("web-1")


def test_misconfiguration_fails_at_once():
    s = Session(ksa.SSLError("certificate verify failed"))
    c = client(s)[0]
    with pytest.raises(ic.ApiError) as info:
        c.request("GET", "/nodes")
    assert info.value.kind == ironic_errors.ENDPOINT and len(s.sent) == 1


def test_listing_follows_next_links_and_keeps_fields():
    s = Session(Resp(200, {"nodes": [{"uuid": "a", "x": 1}], "next": f"{EP}/nodes?fields=uuid&marker=a"}),
                Resp(200, {"nodes": [{"uuid": "b", "x": 2}]}))
    c = client(s)[0]
    assert c.list("/nodes", "nodes", fields=("uuid", "x"), keep=("uuid",)) == [{"uuid": "a"}, {"uuid": "b"}]
    assert s.sent[0][1] == "/nodes?fields=uuid,x" and s.sent[1][1] == "/nodes?fields=uuid&marker=a"


def test_guard_is_checked_before_mutating_requests_only():
    class Gone:
        def check(self, what):
            raise errors.RunGone(f"run gone; not {what}")
    s = Session(Resp(200, {"nodes": []}))
    c = client(s, guard=Gone())[0]
    assert c.list_nodes() == []
    with pytest.raises(errors.RunGone):
        c.create_allocation({"name": "web-1"})
    assert [m for m, _p, _b in s.sent] == ["GET"]


@pytest.mark.parametrize("method,path,safe", [
    ("GET", "/nodes", True), ("PATCH", "/nodes/x", True), ("PUT", "/nodes/x/traits", True),
    ("PUT", "/nodes/x/states/power", True), ("PUT", "/nodes/x/states/provision", False),
    ("POST", "/allocations", False), ("DELETE", "/allocations/a", True)])
def test_resend_safety_by_request(method, path, safe):
    assert ic.resend_safe(method, path) is safe


def test_classify_transport_errors():
    assert ic.classify_transport(ABORTED).kind == ironic_errors.CONNECTION
    assert ic.classify_transport(ksa.ConnectTimeout("Request to x timed out")).kind == ironic_errors.CONNECTION
    assert ic.classify_transport(ksa.EndpointNotFound()).kind == ironic_errors.ENDPOINT
    assert ic.surely_unsent(ic.classify_transport(REFUSED))
    assert not ic.surely_unsent(ic.classify_transport(ABORTED))


def test_time_spent_in_an_outage_does_not_eat_the_request_deadline():
    locked = fault(409, "Node n1 is locked by host c1, please retry after the current operation is completed.")
    s = Session()
    c, clock = client(s)

    def answer(url, method, **kw):
        s.sent.append((method, url, kw.get("json")))
        if clock.now < 1060.0:
            raise REFUSED           # a minute without an API ...
        if len(s.sent) < 40 and clock.now < 1063.0:
            return locked           # ... then the node is locked for a moment
        return Resp(200, {"uuid": "n1"})
    s.request = answer
    assert c.patch_node("n1", [], deadline=10)["uuid"] == "n1"
