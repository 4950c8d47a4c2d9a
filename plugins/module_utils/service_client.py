# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Raw REST to one OpenStack service (compute, placement, image) through the keystoneauth session,
with the collection's retry policy by cause (the Ironic client's, see ironic_client.py).

openstacksdk's proxies retry every 409/503 blindly; here:
- connection errors and 502/503/504 are an outage, ridden out for `outage_budget` seconds in a row;
  reads and idempotent writes are resent, a POST that may have been applied is not (the caller
  reconciles by name);
- everything else (4xx, 500) raises ServiceError at once, with the service's own message.

    client = ServiceClient(conn, "compute", version_header=("OpenStack-API-Version", "compute 2.74"))
    body, headers = client.call("GET", "/servers/detail", params={"tags": "ironwave"})
    client.request("POST", "/servers", json={...}) -> body
"""
from __future__ import annotations

import random
import time
from typing import Any, Callable
from urllib.parse import urlencode

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, ironic_errors
from ansible_collections.ironwave.baremetal.plugins.module_utils.ironic_client import (
    DEFAULT_OUTAGE_BUDGET, RetryPolicy, classify_transport, is_outage, surely_unsent)

_READS = ("GET", "HEAD")


class ServiceError(errors.IronwaveError):
    """A request to a non-Ironic service failed; `status_code` is the HTTP status (None: no answer)."""

    def __init__(self, service: str, what: str, status: int | None, message: str, ambiguous: bool = False) -> None:
        self.service, self.status, self.ambiguous = service, status, ambiguous
        kind = "not_found" if status == 404 else "conflict" if status == 409 else "api_error"
        super().__init__(f"{service}: {what} failed ({status or 'no answer'}): {message}", kind=kind,
                         status_code=status, service=service)


def service_message(body: Any, fallback: str) -> str:
    """The error text of a Nova ({"badRequest": {"message": ..}}), Placement ({"errors": [{"detail":
    ..}]}) or Glance (plain text) error body."""
    if isinstance(body, dict):
        errs = body.get("errors")
        if isinstance(errs, list) and errs and isinstance(errs[0], dict):
            return str(errs[0].get("detail") or errs[0].get("title") or fallback)
        for value in body.values():
            if isinstance(value, dict) and "message" in value:
                return str(value["message"])
    return fallback


def service_endpoint(conn, service_type: str) -> str:
    """The service's endpoint: the clouds.yaml override, else the catalog (no version discovery)."""
    endpoint = conn.config.get_endpoint(service_type)
    if not endpoint:
        endpoint = conn.session.get_endpoint(service_type=service_type,
                                             interface=conn.config.get_interface(service_type),
                                             region_name=conn.config.get_region_name(service_type))
    if not endpoint:
        raise errors.BadInput(f"cloud: no {service_type} endpoint in the service catalog or clouds.yaml "
                              f"({service_type}_endpoint_override); is this a Nova cloud?")
    return endpoint.rstrip("/")


class ServiceClient:
    def __init__(self, conn, service_type: str, version_header: tuple[str, str] | None = None,
                 outage_budget: float = DEFAULT_OUTAGE_BUDGET, endpoint: str | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None, stats: ironic_errors.CallStats | None = None) -> None:
        self.conn, self.service = conn, service_type
        self.version_header = version_header
        self.policy = RetryPolicy(float(outage_budget))
        self.clock, self.sleep, self.rng = clock, sleep, rng
        self.stats = stats if stats is not None else ironic_errors.CallStats()
        self._endpoint = endpoint.rstrip("/") if endpoint else None
        self.requests = 0   # sent, retries included (benchmarks count API requests per server)

    @property
    def endpoint(self) -> str:
        if self._endpoint is None:
            self._endpoint = service_endpoint(self.conn, self.service)
        return self._endpoint

    def _send(self, method: str, url: str, json: Any, version: str | None):
        headers = {"Accept": "application/json"}
        if self.version_header:
            name, value = self.version_header
            headers[name] = f"{value.split()[0]} {version}" if version else value
        kwargs: dict[str, Any] = {"headers": headers, "raise_exc": False, "status_code_retries": 0,
                                  "connect_retries": 0}
        if json is not None:
            kwargs["json"] = json
        self.requests += 1
        return self.conn.session.request(url, method, **kwargs)

    def call(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
             version: str | None = None, deadline: float = 120.0, resend: bool | None = None,
             ok: tuple[int, ...] = ()) -> tuple[Any, dict]:
        """(body, headers); statuses in `ok` are returned as (None, headers) instead of raised."""
        method = method.upper()
        if params:
            flat = {k: v for k, v in params.items() if v is not None}
            path = f"{path}{'&' if '?' in path else '?'}{urlencode(flat, doseq=True)}" if flat else path
        what = f"{method} {path.split('?', 1)[0]}"
        safe = method in _READS or method in ("PUT", "DELETE") if resend is None else resend
        start, attempt, outage_since = self.clock(), 0, None
        while True:
            try:
                resp = self._send(method, self.endpoint + path, json, version)
            except Exception as exc:  # noqa: BLE001 - transport errors, classified below
                err = classify_transport(exc)
                if err.kind != ironic_errors.CONNECTION:
                    raise ServiceError(self.service, what, None, err.message) from exc
                status, message = None, err.message
            else:
                status = resp.status_code
                if status < 400:
                    body = resp.json() if resp.content and status != 204 else None
                    return body, dict(resp.headers)
                if status in ok:
                    return None, dict(resp.headers)
                try:
                    body = resp.json()
                except ValueError:
                    body = None
                message = service_message(body, " ".join((getattr(resp, "text", "") or "").split())[:300]
                                          or f"HTTP {status}")
                err = ironic_errors.classify(status, message)
            self.stats.record(err)
            if not is_outage(err):
                raise ServiceError(self.service, what, status, message)
            now = self.clock()
            outage_since = now if outage_since is None else outage_since
            if method not in _READS and not safe and not surely_unsent(err):
                raise ServiceError(self.service, what, status, message, ambiguous=True)
            delay = self.policy.delay(err, attempt, now - start, deadline, now - outage_since, self.rng)
            if delay is None:
                raise errors.CloudUnreachable(
                    f"{what} failed: the {self.service} API at {self.endpoint} stayed unreachable for "
                    f"{now - outage_since:.0f} s (outage_budget {self.policy.outage_budget:.0f} s); last error: "
                    f"{message} [check that the service runs and is reachable, or raise outage_budget]",
                    endpoint=self.endpoint, status_code=status)
            self.stats.retries += 1
            self.sleep(delay)
            attempt += 1

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, path, **kwargs)[0]
