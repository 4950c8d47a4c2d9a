# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""nova_client: the compute, Placement and image calls (paths, pagination, lookups) on a fake
keystoneauth session that answers by (method, path)."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from keystoneauth1 import exceptions as ksa

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_client as ncl

EP = "http://cloud.example:8774/v2.1"


class Resp:
    def __init__(self, status: int, body=None) -> None:
        self.status_code = status
        self._body = body
        self.text = json.dumps(body) if body is not None else ""
        self.content = self.text.encode()
        self.headers = {"Content-Type": "application/json"}

    def json(self):
        if self._body is None:
            raise ValueError("no JSON")
        return self._body


def not_found(what: str) -> Resp:
    return Resp(404, {"itemNotFound": {"code": 404, "message": f"{what} could not be found."}})


class Session:
    """Answers by "METHOD path" (path without the query) with a Resp, an exception, or a callable
    taking the query dict; records what was sent."""

    def __init__(self, routes: dict) -> None:
        self.routes = routes
        self.sent: list[tuple[str, str, dict, object]] = []

    def request(self, url, method, **kwargs):
        parts = urlsplit(url[len(EP):])
        query = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(parts.query).items()}
        self.sent.append((method, parts.path, query, kwargs.get("json")))
        answer = self.routes.get(f"{method} {parts.path}", Resp(404, {"itemNotFound": {"message": "no route"}}))
        if callable(answer):
            answer = answer(query)
        if isinstance(answer, BaseException):
            raise answer
        return answer


class Conn:
    def __init__(self, session) -> None:
        self.session = session


def api(cls, routes: dict):
    s = Session(routes)
    return cls(Conn(s), endpoint=EP, sleep=lambda seconds: None), s


def server(i: int, name: str | None = None) -> dict:
    return {"id": f"s{i}", "name": name or f"web-{i}", "status": "ACTIVE"}


# -- compute -----------------------------------------------------------------------------------------

def test_servers_follows_pages_with_the_last_id_as_marker_and_keeps_the_filters():
    def page(query):
        if "marker" not in query:
            return Resp(200, {"servers": [server(1), server(2)], "servers_links": [{"rel": "next", "href": "x"}]})
        if query["marker"] == "s2":
            return Resp(200, {"servers": [server(3)], "servers_links": [{"rel": "next", "href": "y"}]})
        return Resp(200, {"servers": [], "servers_links": []})
    nova, s = api(ncl.NovaApi, {"GET /servers/detail": page})
    assert [x["id"] for x in nova.servers(tags="ironwave")] == ["s1", "s2", "s3"]
    assert [q for _m, _p, q, _j in s.sent] == [{"tags": "ironwave"}, {"tags": "ironwave", "marker": "s2"},
                                               {"tags": "ironwave", "marker": "s3"}]
    assert s.sent[0][0] == "GET"


def test_servers_stops_on_a_page_without_links():
    nova, s = api(ncl.NovaApi, {"GET /servers/detail": Resp(200, {"servers": [server(1)]})})
    assert len(nova.servers()) == 1 and len(s.sent) == 1


def test_compute_requests_carry_microversion_2_74():
    s = Session({"GET /servers/detail": Resp(200, {"servers": []})})
    nova = ncl.NovaApi(Conn(s), endpoint=EP)
    nova.servers()
    assert nova.api.version_header == ("OpenStack-API-Version", "compute 2.74")


def test_server_named_escapes_the_regex_and_keeps_exact_names_only():
    listing = {"servers": [server(1, "web.1"), server(2, "webx1")]}
    nova, s = api(ncl.NovaApi, {"GET /servers/detail": Resp(200, listing)})
    assert [x["id"] for x in nova.server_named("web.1")] == ["s1"]
    assert s.sent[0][2] == {"name": "^web\\.1$"}


def test_get_server_is_none_when_nova_does_not_know_it():
    nova, _unused = api(ncl.NovaApi, {"GET /servers/s1": not_found("Instance s1"),
                                      "GET /servers/s2": Resp(200, {"server": server(2)})})
    assert nova.get_server("s1") is None and nova.get_server("s2")["id"] == "s2"


def test_create_server_is_not_resent_after_an_ambiguous_failure():
    drop = ksa.ConnectFailure("('Connection aborted.', RemoteDisconnected('Remote end closed connection'))")
    answers = [drop, Resp(202, {"server": {"id": "s1"}})]
    nova, s = api(ncl.NovaApi, {"POST /servers": lambda q: answers.pop(0)})
    with pytest.raises(ncl.ServiceError) as info:
        nova.create_server({"name": "web-1"})
    assert info.value.ambiguous and len(s.sent) == 1 and s.sent[0][3] == {"server": {"name": "web-1"}}


def test_delete_server_of_a_gone_server_is_done():
    nova, s = api(ncl.NovaApi, {"DELETE /servers/s1": not_found("Instance s1")})
    nova.delete_server("s1")
    assert s.sent[0][:2] == ("DELETE", "/servers/s1")


def test_flavor_by_id_with_embedded_extra_specs():
    flavor = {"id": "f1", "name": "bm", "extra_specs": {"resources:CUSTOM_BAREMETAL": "1"}}
    nova, s = api(ncl.NovaApi, {"GET /flavors/f1": Resp(200, {"flavor": flavor})})
    assert nova.find_flavor("f1") == flavor and len(s.sent) == 1


def test_flavor_by_name_is_looked_up_in_the_listing_with_its_extra_specs():
    listing = {"flavors": [{"id": "f0", "name": "small"}, {"id": "f1", "name": "bm baremetal"}]}
    nova, s = api(ncl.NovaApi, {
        "GET /flavors/bm%20baremetal": not_found("Flavor bm baremetal"),
        "GET /flavors/detail": Resp(200, listing),
        "GET /flavors/f1/os-extra_specs": Resp(200, {"extra_specs": {"resources:CUSTOM_BAREMETAL": "1"}})})
    flavor = nova.find_flavor("bm baremetal")
    assert flavor == {"id": "f1", "name": "bm baremetal", "extra_specs": {"resources:CUSTOM_BAREMETAL": "1"}}
    assert [(m, p) for m, p, _q, _j in s.sent] == [("GET", "/flavors/bm%20baremetal"), ("GET", "/flavors/detail"),
                                                   ("GET", "/flavors/f1/os-extra_specs")]
    assert s.sent[1][2] == {"is_public": "None"}


def test_unknown_flavor_is_bad_input_naming_it():
    nova, _unused = api(ncl.NovaApi, {"GET /flavors/nope": not_found("Flavor nope"),
                                      "GET /flavors/detail": Resp(200, {"flavors": [{"id": "f1", "name": "bm"}]})})
    with pytest.raises(errors.BadInput, match="flavor: no flavor named or with id 'nope'"):
        nova.find_flavor("nope")


def test_flavor_extra_spec_writes():
    nova, s = api(ncl.NovaApi, {"POST /flavors": Resp(200, {"flavor": {"id": "f9"}}),
                                "POST /flavors/f9/os-extra_specs": Resp(200, {"extra_specs": {"a": "1"}}),
                                "DELETE /flavors/f9/os-extra_specs/resources%3AVCPU": not_found("spec")})
    assert nova.create_flavor({"name": "bm"}) == {"id": "f9"}
    nova.set_flavor_extra_specs("f9", {"a": "1"})
    nova.delete_flavor_extra_spec("f9", "resources:VCPU")
    assert [j for _m, _p, _q, j in s.sent] == [{"flavor": {"name": "bm"}}, {"extra_specs": {"a": "1"}}, None]


def test_hypervisors_follow_pages():
    def page(query):
        if "marker" not in query:
            return Resp(200, {"hypervisors": [{"id": "h1"}], "hypervisors_links": [{"rel": "next"}]})
        return Resp(200, {"hypervisors": [{"id": "h2"}]})
    nova, s = api(ncl.NovaApi, {"GET /os-hypervisors/detail": page})
    assert [h["id"] for h in nova.hypervisors()] == ["h1", "h2"]
    assert s.sent[1][2] == {"limit": "1000", "marker": "h1"}


def test_compute_services_are_asked_for_nova_compute_only():
    nova, s = api(ncl.NovaApi, {"GET /os-services": Resp(200, {"services": [{"host": "c1"}]})})
    assert nova.compute_services() == [{"host": "c1"}] and s.sent[0][2] == {"binary": "nova-compute"}


# -- Placement -----------------------------------------------------------------------------------------

def placement_400(detail: str) -> Resp:
    return Resp(400, {"errors": [{"status": 400, "title": "Bad Request", "detail": detail}]})


def test_providers_with_an_unknown_resource_class_are_none():
    placement, s = api(ncl.PlacementApi, {"GET /resource_providers": placement_400(
        "Invalid resource class in resources parameter: No such resource class CUSTOM_BAREMETAL.")})
    assert placement.providers("CUSTOM_BAREMETAL:1") == []
    assert s.sent[0][2] == {"resources": "CUSTOM_BAREMETAL:1"}
    assert placement.api.version_header == ("OpenStack-API-Version", "placement 1.20")


def test_providers_other_errors_are_raised():
    placement, _unused = api(ncl.PlacementApi, {"GET /resource_providers": placement_400("Invalid query")})
    with pytest.raises(ncl.ServiceError, match="Invalid query"):
        placement.providers("CUSTOM_BAREMETAL:1")
    placement, _unused = api(ncl.PlacementApi, {"GET /resource_providers": placement_400(
        "No such resource class CUSTOM_X")})
    with pytest.raises(ncl.ServiceError):
        placement.providers()    # without a resources filter this is not "nothing is free"


def test_allocations_of_a_consumer_and_of_a_provider():
    allocs = {"rp1": {"resources": {"CUSTOM_BAREMETAL": 1}, "generation": 3}}
    placement, _unused = api(ncl.PlacementApi, {
        "GET /allocations/s1": Resp(200, {"allocations": allocs}),
        "GET /resource_providers/rp1/allocations": Resp(200, {"allocations": {"s1": {"resources": {}}}}),
        "GET /resource_providers/rp9/allocations": Resp(404, {"errors": [{"detail": "No resource provider"}]})})
    assert placement.consumer_allocations("s1") == allocs
    assert placement.provider_allocations("rp1") == {"s1": {"resources": {}}}
    assert placement.provider_allocations("rp9") == {}


# -- images -------------------------------------------------------------------------------------------

def test_image_by_id_then_by_name():
    images, s = api(ncl.ImageApi, {"GET /v2/images/i1": Resp(200, {"id": "i1", "name": "ubuntu"}),
                                   "GET /v2/images/ubuntu": not_found("image"),
                                   "GET /v2/images": Resp(200, {"images": [{"id": "i1", "name": "ubuntu"}]})})
    assert images.resolve("i1") == "i1" and images.resolve("ubuntu") == "i1"
    assert s.sent[-1][2] == {"name": "ubuntu"}
    assert images.api.version_header is None


@pytest.mark.parametrize("found,match", [([], "no image named or with id 'ubuntu'"),
                                         ([{"id": "a"}, {"id": "b"}], "2 images are named 'ubuntu'")])
def test_unknown_or_ambiguous_image_is_bad_input(found, match):
    images, _unused = api(ncl.ImageApi, {"GET /v2/images/ubuntu": Resp(400, {"message": "not a uuid"}),
                                         "GET /v2/images": Resp(200, {"images": found})})
    with pytest.raises(errors.BadInput, match=match):
        images.resolve("ubuntu")
