# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The one Ironic client of the collection: raw bare metal REST through the keystoneauth session,
one retry policy by cause, pagination, one node shape.

Every module talks to Ironic through this class (modules get it as `IronwaveModule.client`; the
lifecycle facade `lifecycle_ops.Ops` sits on top of it). It takes the connection, the stats, the
clock and the sleep as arguments, so unit tests drive it with a fake session.

API (all paths relative to the API root ".../v1"; bodies are the API's own JSON dicts):

    client = IronicClient(conn, stats=CallStats(), outage_budget=180.0, guard=None,
                          clock=time.monotonic, sleep=time.sleep, endpoint=None)
    client.request(method, path, *, json=None, params=None, deadline=120.0, microversion=None,
                   resend=None, reconcile=None) -> dict | None      # body, None for 204
    client.list(path, key, fields=(), keep=(), params=None) -> list[dict]   # follows `next`
    client.list_nodes(fields=(), **filters) -> list[dict]          # GET /nodes?fields=..&filters
    client.list_ports(fields=(), **filters) -> list[dict]
    client.get_node(ident, fields=()) -> dict | None               # None when 404
    client.create_node(body) -> dict                               # POST /nodes (needs body["name"])
    client.create_port(body) -> dict                               # POST /ports (needs "address", "node_uuid")
    client.patch_node(ident, patch) -> dict                        # JSON patch list
    client.set_traits(ident, traits) -> None                       # PUT /nodes/X/traits
    client.set_provision_state(ident, target, reconcile=None, **body) -> None
    client.set_power_state(ident, target) -> None                  # "power on" / "power off" / "rebooting"
    client.get_allocation(ident) -> dict | None
    client.create_allocation(body) -> dict                         # POST /allocations (needs body["name"])
    client.delete_allocation(ident) -> None                        # 404 counts as done
    client.endpoint -> str                                         # ".../v1", for messages and cache keys

Node shape: what the API returns (`uuid`, `name`, `provision_state`, `traits` as a list of
strings, ...), never SDK objects; `NODE_VIEW_FIELDS` are the fields the lifecycle reads.

Failures raise `ApiError` (an errors.IronwaveError: .error is the classified
ironic_errors.IronicError, .status_code the HTTP status) or, after the outage budget,
`errors.CloudUnreachable` naming the endpoint; a gone or halted run (`guard`, see run_control)
raises errors.RunGone before any mutating request is sent.

The retry policy, by cause (decisions in `plan_retry`, pure):
- Connection errors (refused, reset, "Remote end closed connection", timeouts) and 502/503/504
  from a proxy are an outage: ride it out with bounded, jittered backoff until the API has been
  unreachable for `outage_budget` seconds in a row (shared by all requests of this client).
- NodeLocked, "database is locked": short jittered retries within `deadline`.
- ConcurrentActionLimit / NoFreeConductorWorker (503): longer backoff within `deadline`,
  counted as backpressure.
- Everything else (NodeAssociated, 400, 404, auth, ...): raised at once.
Before a retry the client asks whether resending is safe. A request the server surely did not
act on (connection refused, NodeLocked, a 503 limit, any 4xx) is always resent. After an
ambiguous failure (the connection dropped after sending, a 502/504, a 500) a request is resent
only if it is safe to repeat (`resend`, default `resend_safe(method, path)`: GET/PUT/PATCH yes,
POST and provision-state changes no; DELETE yes, and its 404 then means done); otherwise
`reconcile()` is called - it re-reads and returns the result if the first attempt took effect (so
that result is returned), or None to resend. Without `reconcile` such a request raises ApiError
with `.ambiguous = True`. create_node/create_port/create_allocation reconcile by name/address.
"""
from __future__ import annotations

import json as jsonlib
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable
from urllib.parse import quote, urlencode

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, ironic_errors

DEFAULT_MICROVERSION = "1.52"   # allocations + allocation_uuid on nodes, traits, conductor groups
DEFAULT_OUTAGE_BUDGET = 180.0
# No "allocation_uuid": Ironic 39 answers HTTP 500 to `GET /v1/nodes?fields=...,allocation_uuid`
# and silently drops it from `GET /v1/nodes/X?fields=...`. Single-node reads therefore fetch the
# whole node; listings rely on instance_uuid (Ironic keeps it equal to the allocation UUID).
NODE_VIEW_FIELDS = ("uuid", "name", "instance_uuid", "provision_state",
                    "target_provision_state", "maintenance", "maintenance_reason", "reservation",
                    "last_error", "power_state")
# Allocations are read without fields=: Ironic 39 omits node_uuid from both the listing and a
# single GET as soon as fields= is given.
ALLOCATION_KEYS = ("uuid", "name", "node_uuid", "state", "last_error")

OUTAGE_FIRST_DELAY = 0.25
OUTAGE_MAX_DELAY = 5.0
_READS = ("GET", "HEAD", "OPTIONS")


class ApiError(errors.IronwaveError):
    """Ironic answered with an error (or the request could not be completed), classified."""

    def __init__(self, err: ironic_errors.IronicError, what: str, ambiguous: bool = False) -> None:
        super().__init__(err.one_line(what), err.kind, error_action=err.action, status_code=err.status)
        self.error = err
        self.status_code = err.status
        self.ambiguous = ambiguous


# -- pure decisions ---------------------------------------------------------------------------
def is_outage(err: ironic_errors.IronicError) -> bool:
    """The API (or the way to it) is away: connection errors and 5xx from a proxy or a restarting
    API. Ironic's own 503 limits are backpressure, not an outage."""
    if err.kind == ironic_errors.CONNECTION:
        return True
    return err.kind == ironic_errors.SERVER_ERROR and err.status in (502, 503, 504)


_UNSENT_MARKERS = ("connection refused", "failed to establish a new connection", "newconnectionerror",
                   "name or service not known", "temporary failure in name resolution")


def surely_unsent(err: ironic_errors.IronicError) -> bool:
    """The server certainly did not act on the request: it was never delivered, or Ironic
    rejected it before changing anything."""
    if err.kind == ironic_errors.CONNECTION:
        text = err.message.lower()
        return any(m in text for m in _UNSENT_MARKERS)
    if err.kind in (ironic_errors.NODE_LOCKED, ironic_errors.CONCURRENT_ACTION_LIMIT,
                    ironic_errors.NO_FREE_CONDUCTOR_WORKER):
        return True
    return err.status is not None and 400 <= err.status < 500


def resend_safe(method: str, path: str) -> bool:
    """May this request be sent again after an attempt that may have taken effect? Reads and
    PUT/PATCH of a given state yes; POST (creates) and provision-state changes (a second `active`
    is refused as invalid state) no; DELETE yes (its 404 then means done)."""
    method = method.upper()
    if method in _READS or method == "DELETE":
        return True
    if method in ("PUT", "PATCH"):
        return not path.split("?", 1)[0].rstrip("/").endswith("/states/provision")
    return False


@dataclass(frozen=True)
class RetryPolicy:
    outage_budget: float = DEFAULT_OUTAGE_BUDGET

    def delay(self, err: ironic_errors.IronicError, attempt: int, elapsed: float, deadline: float,
              outage_elapsed: float, rng: random.Random | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None to give up. `attempt` counts the
        failures of this request (0-based), `elapsed` the request's seconds so far and
        `outage_elapsed` how long the API has been unreachable in a row."""
        if is_outage(err):
            r = rng or random
            cap = min(OUTAGE_MAX_DELAY, OUTAGE_FIRST_DELAY * (2 ** max(0, attempt)))
            delay = cap / 2 + r.uniform(0, cap / 2)   # never 0: a restarting API needs a moment
            return delay if outage_elapsed + delay <= self.outage_budget else None
        return ironic_errors.retry_plan(err, attempt, elapsed, deadline, rng=rng)


def classify_transport(exc: BaseException) -> ironic_errors.IronicError:
    """Classify an exception raised by the session (keystoneauth/requests), by class names."""
    names = [c.__name__ for c in type(exc).__mro__]
    status = getattr(exc, "http_status", None) or getattr(exc, "status_code", None)
    # The class itself decides (SSLError is a keystoneauth ConnectionError, but a configuration
    # problem); an unknown subclass of a transient failure counts as that failure.
    name = names[0]
    if name not in ironic_errors.CONNECTION_EXCEPTIONS and "SSLError" not in names:
        name = next((n for n in names if n in ironic_errors.CONNECTION_EXCEPTIONS), name)
    return ironic_errors.classify(status if isinstance(status, int) else None, str(exc), name)


def fault_message(body: Any, fallback: str) -> str:
    """Ironic's error text from a response body: {"error_message": "<json with faultstring>"}
    (or a dict), else the fallback."""
    try:
        fault = body.get("error_message") or body
        if isinstance(fault, str):
            try:
                fault = jsonlib.loads(fault)
            except ValueError:
                return fault
        return fault.get("faultstring") or fault.get("message") or fallback
    except AttributeError:
        return fallback


def classify_response(status: int, body: Any, text: str, reason: str = "") -> ironic_errors.IronicError:
    message = fault_message(body, " ".join((text or "").split())[:300] or reason or f"HTTP {status}")
    return ironic_errors.classify(status, message)


def baremetal_base_url(conn) -> str:
    """The bare metal API root ending in /v1, without version discovery (the endpoint override,
    else the service catalog). openstacksdk's proxy would first GET / and GET /v1/ in every
    process, which doubles the request count of a short-lived module."""
    cached = getattr(conn, "_ironwave_bm_base", None)
    if cached:
        return cached
    endpoint = conn.config.get_endpoint("baremetal")
    if not endpoint:
        endpoint = conn.session.get_endpoint(service_type="baremetal",
                                             interface=conn.config.get_interface("baremetal"),
                                             region_name=conn.config.get_region_name("baremetal"))
    endpoint = endpoint.rstrip("/")
    if not endpoint.endswith("/v1"):
        endpoint += "/v1"
    conn._ironwave_bm_base = endpoint
    return endpoint


def _q(ident: str) -> str:
    return quote(str(ident), safe="")


def _with_query(path: str, params: dict | None) -> str:
    if not params:
        return path
    flat = {k: (",".join(v) if isinstance(v, (list, tuple)) else v) for k, v in params.items() if v is not None}
    return f"{path}{'&' if '?' in path else '?'}{urlencode(flat, safe=',')}" if flat else path


class IronicClient:
    """See the module docstring for the API and the retry policy."""

    def __init__(self, conn, stats: ironic_errors.CallStats | None = None,
                 outage_budget: float = DEFAULT_OUTAGE_BUDGET, guard=None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 endpoint: str | None = None, microversion: str = DEFAULT_MICROVERSION,
                 rng: random.Random | None = None) -> None:
        self.conn = conn
        self.stats = stats if stats is not None else ironic_errors.CallStats()
        self.policy = RetryPolicy(float(outage_budget))
        self.guard = guard
        self.clock = clock
        self.sleep = sleep
        self.microversion = microversion
        self.rng = rng
        self._endpoint = endpoint.rstrip("/") if endpoint else None
        self._outage_since: float | None = None
        self.last_date: str | None = None
        self.requests = 0   # sent, retries included (benchmarks count API requests per server)

    @property
    def endpoint(self) -> str:
        if self._endpoint is None:
            self._endpoint = baremetal_base_url(self.conn)
        return self._endpoint

    # -- one request, with the retry policy ------------------------------------------------
    def _send(self, method: str, path: str, json: Any, microversion: str | None) -> Any:
        headers = {"X-OpenStack-Ironic-API-Version": microversion or self.microversion,
                   "Accept": "application/json"}
        kwargs: dict[str, Any] = {"headers": headers, "raise_exc": False, "status_code_retries": 0,
                                  "connect_retries": 0}
        if json is not None:
            kwargs["json"] = json
        self.requests += 1
        resp = self.conn.session.request(self.endpoint + path, method, **kwargs)
        # Ironic's own clock (HTTP Date): ages of markers are computed on it, never on ours.
        self.last_date = (getattr(resp, "headers", None) or {}).get("Date")
        status = resp.status_code
        if status < 400:
            if status == 204 or not resp.content:
                return None
            return resp.json()
        try:
            body = resp.json()
        except ValueError:
            body = None
        raise _HttpFailure(classify_response(status, body, getattr(resp, "text", ""),
                                             getattr(resp, "reason", "") or ""))

    def request(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
                deadline: float = 120.0, microversion: str | None = None, resend: bool | None = None,
                reconcile: Callable[[], Any] | None = None) -> Any:
        """One API request under the retry policy (see the module docstring)."""
        method = method.upper()
        path = _with_query(path, params)
        what = f"{method} {path.split('?', 1)[0]}"
        safe = resend_safe(method, path) if resend is None else resend
        mutating = method not in _READS
        start = self.clock()
        attempt = 0
        maybe_applied = False
        outage_spent = 0.0   # time spent riding out an outage does not count against `deadline`
        while True:
            if mutating and self.guard is not None:
                self.guard.check(f"sending {what}")
            try:
                body = self._send(method, path, json, microversion)
                self._outage_since = None
                return body
            except _HttpFailure as fail:
                err = fail.error
            except Exception as exc:  # noqa: BLE001 - transport errors, classified below
                err = classify_transport(exc)
                if err.kind != ironic_errors.CONNECTION:
                    self.stats.record(err)
                    raise ApiError(err, what) from exc
            self.stats.record(err)
            if err.backpressure and self.guard is not None:
                # The strategy lowers the busy limit at once, not when this task ends.
                report = getattr(self.guard, "report_backpressure", None)
                if report is not None:
                    report()
            now = self.clock()
            if is_outage(err):
                if self._outage_since is None:
                    self._outage_since = now
            else:
                self._outage_since = None
            if maybe_applied and method == "DELETE" and err.kind == ironic_errors.NOT_FOUND:
                return None  # the earlier attempt deleted it
            unsent = surely_unsent(err)
            if mutating and not unsent:
                # The server may have acted on it: resend only what is safe to repeat.
                maybe_applied = True
                if not safe and reconcile is not None:
                    done = reconcile()
                    if done is not None:
                        return done
                elif not safe and err.action != ironic_errors.NEVER:
                    raise ApiError(err, what, ambiguous=True)
            outage_for = now - self._outage_since if self._outage_since is not None else 0.0
            delay = self.policy.delay(err, attempt, now - start - outage_spent, deadline, outage_for, self.rng)
            if delay is None:
                if is_outage(err):
                    raise errors.CloudUnreachable(
                        f"{what} failed: the bare metal API at {self.endpoint} stayed unreachable for "
                        f"{outage_for:.0f} s (outage_budget {self.policy.outage_budget:.0f} s); last error: "
                        f"{err.message} [{ironic_errors.ENDPOINT}: check that Ironic runs and is reachable, "
                        "or raise outage_budget]", endpoint=self.endpoint, status_code=err.status)
                raise ApiError(err, what, ambiguous=maybe_applied)
            self.stats.retries += 1
            self.sleep(delay)
            if is_outage(err):
                outage_spent += self.clock() - now
            attempt += 1

    # -- reads ---------------------------------------------------------------------------------
    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def get_or_none(self, path: str, **kwargs: Any) -> Any:
        try:
            return self.request("GET", path, **kwargs)
        except ApiError as exc:
            if exc.kind == ironic_errors.NOT_FOUND:
                return None
            raise

    def list(self, path: str, key: str, fields: Iterable[str] = (), keep: Iterable[str] = (),
             params: dict | None = None) -> list[dict]:
        """Every item of a listing, following `next` links."""
        fields, keep = tuple(fields), tuple(keep)
        query = dict(params or {})
        if fields:
            query["fields"] = fields
        url: str | None = _with_query(path, query)
        items: list[dict] = []
        while url:
            body = self.request("GET", url) or {}
            rows = body.get(key, [])
            items.extend({k: r.get(k) for k in keep} if keep else r for r in rows)
            url = self._relative(body.get("next"))
        return items

    def _relative(self, link: str | None) -> str | None:
        if not link:
            return None
        if link.startswith(self.endpoint):
            return link[len(self.endpoint):]
        return "/" + link.split("/v1/", 1)[-1] if "/v1/" in link else link

    def list_nodes(self, fields: Iterable[str] = (), **filters: Any) -> list[dict]:
        return self.list("/nodes", "nodes", fields, params=filters)

    def list_ports(self, fields: Iterable[str] = (), **filters: Any) -> list[dict]:
        return self.list("/ports", "ports", fields, params=filters)

    def get_node(self, ident: str, fields: Iterable[str] = ()) -> dict | None:
        """The node, or None when Ironic does not know it (see NODE_VIEW_FIELDS about fields=)."""
        fields = tuple(fields)
        return self.get_or_none(f"/nodes/{_q(ident)}", params={"fields": fields} if fields else None)

    def get_allocation(self, ident: str) -> dict | None:
        body = self.get_or_none(f"/allocations/{_q(ident)}")
        return {k: body.get(k) for k in ALLOCATION_KEYS} if body is not None else None

    # -- writes --------------------------------------------------------------------------------
    def create_node(self, body: dict) -> dict:
        """POST /nodes; after an ambiguous failure the node is looked up by name."""
        name = body.get("name")
        return self.request("POST", "/nodes", json=body,
                            reconcile=(lambda: self.get_node(name)) if name else None)

    def create_port(self, body: dict) -> dict:
        """POST /ports; after an ambiguous failure the port is looked up by address."""
        address = body.get("address")

        def existing():
            rows = self.list("/ports", "ports", params={"address": address}) if address else []
            return next((r for r in rows if r.get("node_uuid") in (None, body.get("node_uuid"))), None)
        return self.request("POST", "/ports", json=body, reconcile=existing if address else None)

    def patch_node(self, ident: str, patch: list[dict], **kwargs: Any) -> dict:
        return self.request("PATCH", f"/nodes/{_q(ident)}", json=patch, **kwargs)

    def set_traits(self, ident: str, traits: Iterable[str]) -> None:
        self.request("PUT", f"/nodes/{_q(ident)}/traits", json={"traits": list(traits)})

    def set_provision_state(self, ident: str, target: str, reconcile: Callable[[], Any] | None = None,
                            deadline: float = 120.0, microversion: str | None = None, **body: Any) -> None:
        """PUT /nodes/X/states/provision {"target": target, **body}. Not resent after an ambiguous
        failure unless `reconcile` (re-read the node; non-None = it took effect) says it did not."""
        self.request("PUT", f"/nodes/{_q(ident)}/states/provision", json={"target": target, **body},
                     reconcile=reconcile, deadline=deadline, microversion=microversion)

    def set_power_state(self, ident: str, target: str) -> None:
        self.request("PUT", f"/nodes/{_q(ident)}/states/power", json={"target": target})

    def create_allocation(self, body: dict, deadline: float = 120.0) -> dict:
        """POST /allocations; after an ambiguous failure the allocation is read back by name (or
        UUID) - if it is there, the first attempt created it."""
        ident = body.get("name") or body.get("uuid")

        def existing():
            alloc = self.get_allocation(ident)
            if alloc is not None and body.get("uuid") and alloc.get("uuid") != body["uuid"]:
                return None  # someone else's allocation under the name: the resend gets 409
            return alloc
        return self.request("POST", "/allocations", json=body, deadline=deadline,
                            reconcile=existing if ident else None)

    def delete_allocation(self, ident: str) -> None:
        try:
            self.request("DELETE", f"/allocations/{_q(ident)}")
        except ApiError as exc:
            if exc.kind != ironic_errors.NOT_FOUND:
                raise


class _HttpFailure(Exception):
    def __init__(self, error: ironic_errors.IronicError) -> None:
        super().__init__(error.message)
        self.error = error
