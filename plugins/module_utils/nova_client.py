# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The collection's clients for the Nova path: compute, Placement and image (I/O only).

Every call is one REST request through service_client.ServiceClient (the retry policy by cause).
Shapes are the APIs' own dicts. Compute requests are sent at microversion 2.74 or later: 2.74 is
where server create accepts `hypervisor_hostname` (a pinned build, admin only), 2.53 where
hypervisors and services have UUID ids, 2.52 where servers carry tags.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors
from ansible_collections.ironwave.baremetal.plugins.module_utils.service_client import ServiceClient, ServiceError

COMPUTE_VERSION = "2.74"
PLACEMENT_VERSION = "1.20"   # 1.20: provider UUIDs on POST; >=1.4 `resources=` filter; 1.12 allocation dicts


def _q(value: str) -> str:
    return quote(str(value), safe="")


class NovaApi:
    def __init__(self, conn, **kwargs: Any) -> None:
        self.api = ServiceClient(conn, "compute", ("OpenStack-API-Version", f"compute {COMPUTE_VERSION}"), **kwargs)

    # -- flavors and images ----------------------------------------------------------------
    def find_flavor(self, name_or_id: str) -> dict:
        """The flavor with its extra specs; BadInput naming the flavor when there is none."""
        flavor, _unused = self.api.call("GET", f"/flavors/{_q(name_or_id)}", ok=(404,))
        if flavor is None:
            listing = self.api.request("GET", "/flavors/detail", params={"is_public": "None"})
            matches = [f for f in listing.get("flavors", []) if f.get("name") == name_or_id]
            if not matches:
                raise errors.BadInput(f"flavor: no flavor named or with id {name_or_id!r}; create it with "
                                      "resources:CUSTOM_<RESOURCE CLASS>=1 (see docs/nova.md) or fix the name")
            flavor = {"flavor": matches[0]}
        flavor = flavor["flavor"]
        specs = flavor.get("extra_specs")
        if specs is None:
            specs = self.api.request("GET", f"/flavors/{_q(flavor['id'])}/os-extra_specs").get("extra_specs", {})
        return {**flavor, "extra_specs": specs or {}}

    def create_flavor(self, body: dict) -> dict:
        return self.api.request("POST", "/flavors", json={"flavor": body}, resend=False)["flavor"]

    def set_flavor_extra_specs(self, flavor_id: str, specs: dict) -> None:
        self.api.request("POST", f"/flavors/{_q(flavor_id)}/os-extra_specs", json={"extra_specs": specs},
                         resend=True)

    def delete_flavor_extra_spec(self, flavor_id: str, key: str) -> None:
        self.api.call("DELETE", f"/flavors/{_q(flavor_id)}/os-extra_specs/{_q(key)}", ok=(404,))

    # -- servers ---------------------------------------------------------------------------
    def _paged(self, path: str, key: str, params: dict[str, Any]) -> list[dict]:
        """Every item of a compute listing, following `<key>_links` by marker."""
        out: list[dict] = []
        query = dict(params)
        while True:
            body = self.api.request("GET", path, params=query)
            page = body.get(key, [])
            out.extend(page)
            if not body.get(f"{key}_links") or not page:
                return out
            query = {**params, "marker": page[-1]["id"]}

    def servers(self, **filters: Any) -> list[dict]:
        """GET /servers/detail with filters (e.g. tags=..., name=^x$), all pages."""
        return self._paged("/servers/detail", "servers", filters)

    def server_named(self, name: str) -> list[dict]:
        return [s for s in self.servers(name=f"^{re.escape(name)}$") if s.get("name") == name]

    def get_server(self, server_id: str) -> dict | None:
        body, _unused = self.api.call("GET", f"/servers/{_q(server_id)}", ok=(404,))
        return body["server"] if body else None

    def create_server(self, body: dict) -> dict:
        """POST /servers. Not resent after an ambiguous failure: the caller looks the name up."""
        return self.api.request("POST", "/servers", json={"server": body}, resend=False)["server"]

    def delete_server(self, server_id: str) -> None:
        self.api.call("DELETE", f"/servers/{_q(server_id)}", ok=(404,))

    def server_action(self, server_id: str, body: dict) -> None:
        """POST /servers/X/action (os-resetState, reboot, os-start, ...); a gone server is not an error.
        Not resent after an ambiguous failure: the caller re-reads the server."""
        self.api.call("POST", f"/servers/{_q(server_id)}/action", json=body, ok=(404,), resend=False)

    def instance_actions(self, server_id: str) -> list[dict]:
        return self.api.request("GET", f"/servers/{_q(server_id)}/os-instance-actions").get("instanceActions", [])

    def limits(self) -> dict:
        """The project's absolute limits and usage (maxTotalInstances, totalInstancesUsed, ...)."""
        return self.api.request("GET", "/limits").get("limits", {}).get("absolute", {})

    # -- compute services ------------------------------------------------------------------
    def hypervisors(self) -> list[dict]:
        """Hypervisors with their service host (ironic: hypervisor_hostname == node UUID)."""
        return self._paged("/os-hypervisors/detail", "hypervisors", {"limit": 1000})

    def compute_services(self) -> list[dict]:
        return self.api.request("GET", "/os-services", params={"binary": "nova-compute"}).get("services", [])


class PlacementApi:
    def __init__(self, conn, **kwargs: Any) -> None:
        self.api = ServiceClient(conn, "placement", ("OpenStack-API-Version", f"placement {PLACEMENT_VERSION}"),
                                 **kwargs)

    def providers(self, resources: str | None = None) -> list[dict]:
        """Resource providers; with `resources` ("CUSTOM_BAREMETAL:1") only those with that much free."""
        params = {"resources": resources} if resources else None
        try:
            return self.api.request("GET", "/resource_providers", params=params).get("resource_providers", [])
        except ServiceError as exc:
            if resources and exc.status == 400 and "No such resource class" in exc.msg:
                return []   # no provider ever had it: nothing is free
            raise

    def consumer_allocations(self, consumer: str) -> dict:
        """{rp_uuid: {"resources": {...}}} of one consumer (a server id); {} when it has none."""
        return self.api.request("GET", f"/allocations/{_q(consumer)}").get("allocations", {})

    def provider_allocations(self, provider: str) -> dict:
        """{consumer_uuid: {"resources": {...}}} on one provider; {} when the provider is unknown."""
        body, _unused = self.api.call("GET", f"/resource_providers/{_q(provider)}/allocations", ok=(404,))
        return (body or {}).get("allocations", {})


class ImageApi:
    def __init__(self, conn, **kwargs: Any) -> None:
        self.api = ServiceClient(conn, "image", None, **kwargs)

    def resolve(self, name_or_id: str) -> str:
        """An image id from a name or id (Glance v2); BadInput naming the image when unknown or ambiguous."""
        body, _unused = self.api.call("GET", f"/v2/images/{_q(name_or_id)}", ok=(404, 400))
        if body and body.get("id"):
            return body["id"]
        images = self.api.request("GET", "/v2/images", params={"name": name_or_id}).get("images", [])
        if len(images) == 1:
            return images[0]["id"]
        if not images:
            raise errors.BadInput(f"image: no image named or with id {name_or_id!r} in the image service; "
                                  "upload it or fix the name")
        raise errors.BadInput(f"image: {len(images)} images are named {name_or_id!r}; give the image id")


__all__ = ["NovaApi", "PlacementApi", "ImageApi", "ServiceError", "COMPUTE_VERSION"]
