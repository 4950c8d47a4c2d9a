# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The one connection helper: cloud argument spec, openstacksdk connection, SDK error handling.

Option names match openstack.cloud so playbooks and AWX credentials carry over. This is the only
module_utils file that imports openstacksdk; decisions live in the pure modules next to it.
"""
from __future__ import annotations

import time
from typing import Any, Callable, TypeVar

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ironwave.baremetal.plugins.module_utils import ironic_errors

try:
    import openstack
    import openstack.exceptions
    HAS_SDK = True
    SDK_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - reported by the module at run time
    HAS_SDK = False
    SDK_IMPORT_ERROR = _exc

T = TypeVar("T")

CLOUD_OPTION_NAMES = (
    "cloud", "auth", "auth_type", "region_name", "interface", "validate_certs", "ca_cert",
    "client_cert", "client_key", "api_timeout", "baremetal_api_version", "baremetal_endpoint_override",
)


def cloud_argument_spec(**extra: Any) -> dict:
    """The shared argument spec for every module that talks to the cloud (plus `extra`)."""
    spec = dict(
        cloud=dict(type="raw"),
        auth=dict(type="dict", no_log=True),
        auth_type=dict(type="str"),
        region_name=dict(type="str"),
        interface=dict(type="str", default="public", choices=["admin", "internal", "public"],
                       aliases=["endpoint_type"]),
        validate_certs=dict(type="bool", aliases=["verify"]),
        ca_cert=dict(type="str", aliases=["cacert"]),
        client_cert=dict(type="str", aliases=["cert"]),
        client_key=dict(type="str", no_log=False, aliases=["key"]),
        api_timeout=dict(type="int"),
        baremetal_api_version=dict(type="str"),
        baremetal_endpoint_override=dict(type="str"),
    )
    spec.update(extra)
    return spec


def connection_kwargs(params: dict) -> dict:
    """Translate module parameters into openstack.connect() keyword arguments (pure)."""
    kwargs: dict[str, Any] = {}
    cloud = params.get("cloud")
    if isinstance(cloud, dict):
        # A whole cloud config inline (as openstack.cloud allows).
        kwargs.update(cloud)
    elif cloud:
        kwargs["cloud"] = cloud
    for name in ("auth", "auth_type", "region_name", "interface", "api_timeout",
                 "baremetal_api_version", "baremetal_endpoint_override"):
        if params.get(name) is not None:
            kwargs[name] = params[name]
    if params.get("validate_certs") is not None:
        kwargs["verify"] = params["validate_certs"]
    if params.get("ca_cert"):
        kwargs["cacert"] = params["ca_cert"]
    if params.get("client_cert"):
        kwargs["cert"] = params["client_cert"]
    if params.get("client_key"):
        kwargs["key"] = params["client_key"]
    # openstacksdk retries every 409/503 five times whatever the cause; we decide per cause.
    kwargs["baremetal_status_code_retries"] = 0
    return kwargs


def connect(params: dict):
    """Open an openstacksdk connection. Honours OS_CLOUD and OS_CLIENT_CONFIG_FILE; with no cloud
    named and a clouds.yaml holding exactly one cloud (as AWX writes it), that cloud is used."""
    return openstack.connect(**connection_kwargs(params))


def classify_exception(exc: BaseException) -> ironic_errors.IronicError:
    """Classify an openstacksdk / keystoneauth exception."""
    status = getattr(exc, "status_code", None)
    details = getattr(exc, "details", None)
    message = details if isinstance(details, str) and details else str(exc)
    response = getattr(exc, "response", None)
    if not (isinstance(details, str) and details) and response is not None:
        try:
            body = response.json()
            fault = body.get("error_message") or body
            if isinstance(fault, str):
                import json
                fault = json.loads(fault)
            message = fault.get("faultstring") or message
        except Exception:  # body was not JSON; keep str(exc)
            pass
    return ironic_errors.classify(status, message, type(exc).__name__)


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


def api_request(conn, method: str, path: str, microversion: str = "1.52", **kwargs: Any) -> Any:
    """One raw bare metal API request (e.g. a bulk `GET /nodes?fields=...`); returns the JSON body
    (None for 204) and raises openstacksdk exceptions, so classify_exception works the same.
    Sent through the keystoneauth session with no status-code retries and no discovery."""
    headers = {"X-OpenStack-Ironic-API-Version": microversion, "Accept": "application/json"}
    resp = conn.session.request(baremetal_base_url(conn) + path, method, headers=headers, raise_exc=False,
                                status_code_retries=0, **kwargs)
    openstack.exceptions.raise_from_response(resp)
    if resp.status_code == 204 or not resp.content:
        return None
    return resp.json()


def cloud_identity(params: dict, conn=None) -> str:
    """A stable key for 'which Ironic' (cloud name + endpoint), for caches shared across hosts."""
    endpoint = None
    if conn is not None:
        try:
            endpoint = baremetal_base_url(conn)
        except Exception:  # noqa: BLE001 - identity falls back to the parameters
            endpoint = None
    return repr((params.get("cloud") if not isinstance(params.get("cloud"), dict) else
                 sorted(params["cloud"].items(), key=str), params.get("baremetal_endpoint_override"),
                 params.get("region_name"), endpoint))


def call_with_retry(fn: Callable[[], T], attempts: int = 6, sleep: Callable[[float], None] = time.sleep,
                    retry_kinds: tuple = (ironic_errors.NODE_LOCKED,)) -> T:
    """Run fn(); retry only failures whose kind is in retry_kinds (default: NodeLocked) with jitter."""
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised unless retryable
            if not HAS_SDK or not isinstance(exc, openstack.exceptions.SDKException):
                raise
            err = classify_exception(exc)
            if err.kind not in retry_kinds or attempt == attempts - 1:
                raise
            sleep(ironic_errors.backoff_delay(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def call_with_policy(fn: Callable[[], T], stats: ironic_errors.CallStats | None = None,
                     deadline: float = 120.0, sleep: Callable[[float], None] = time.sleep,
                     clock: Callable[[], float] = time.monotonic) -> T:
    """Run fn(); on failure decide by cause (ironic_errors.retry_plan): NodeLocked is retried with
    short jitter, 503 backpressure with longer backoff (counted in `stats`), NodeAssociated and
    every other NEVER kind is raised at once. Gives up after `deadline` seconds."""
    start = clock()
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised unless retryable
            if not HAS_SDK or not isinstance(exc, openstack.exceptions.SDKException):
                raise
            err = classify_exception(exc)
            if stats is not None:
                stats.record(err)
            delay = ironic_errors.retry_plan(err, attempt, clock() - start, deadline)
            if delay is None:
                raise
            if stats is not None:
                stats.retries += 1
            sleep(delay)
            attempt += 1


class IronwaveModule:
    """Base for cloud modules: argument spec, connection, one-line errors.

    Subclasses set `argument_spec` (module-specific options), optionally `module_kwargs`
    (mutually_exclusive, required_if, ...) and implement `run()`.
    """

    argument_spec: dict = {}
    module_kwargs: dict = {}
    # Swapped by plugins/plugin_utils/in_worker.py when the module runs inside the Ansible worker.
    ansible_module_class: type = AnsibleModule

    def __init__(self) -> None:
        self.ansible = self.ansible_module_class(
            argument_spec=cloud_argument_spec(**self.argument_spec),
            supports_check_mode=True,
            **self.module_kwargs,
        )
        self.params = self.ansible.params
        self._conn = None
        self.stats = ironic_errors.CallStats()

    def call(self, fn: Callable[[], T], deadline: float = 120.0) -> T:
        """Call Ironic through the per-cause retry policy, counting 503s for the result."""
        return call_with_policy(fn, self.stats, deadline=deadline)

    @property
    def conn(self):
        if self._conn is None:
            if not HAS_SDK:
                self.ansible.fail_json(msg=missing_required_lib("openstacksdk"), exception=str(SDK_IMPORT_ERROR))
            try:
                self._conn = connect(self.params)
            except Exception as exc:  # noqa: BLE001 - turned into one clear line
                self.fail_sdk(exc, "connecting to the cloud")
        return self._conn

    def fail_sdk(self, exc: BaseException, what: str, **result: Any) -> None:
        err = classify_exception(exc)
        result = {**self.stats.result_keys(), **result}
        self.ansible.fail_json(msg=err.one_line(what), error_kind=err.kind, error_action=err.action,
                               status_code=err.status, **result)

    def run(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self) -> None:
        try:
            self.run()
        except Exception as exc:  # noqa: BLE001
            if HAS_SDK and isinstance(exc, openstack.exceptions.SDKException):
                self.fail_sdk(exc, type(self).__name__)
            raise
