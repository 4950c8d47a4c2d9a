# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The one connection helper: cloud argument spec, openstacksdk connection, SDK error handling.

Option names match openstack.cloud so playbooks and AWX credentials carry over. This is the only
module_utils file that imports openstacksdk; decisions live in the pure modules next to it.
"""
from __future__ import annotations

import os
import time
from typing import Any

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.ironwave.baremetal.plugins.module_utils import (
    errors, input_checks, ironic_errors, secret_values)
from ansible_collections.ironwave.baremetal.plugins.module_utils.ironic_client import (
    DEFAULT_OUTAGE_BUDGET, ApiError, IronicClient, baremetal_base_url)
from ansible_collections.ironwave.baremetal.plugins.module_utils.module_base import ModuleBase
from ansible_collections.ironwave.baremetal.plugins.module_utils.run_control import RunControl

try:
    import openstack
    import openstack.exceptions
    HAS_SDK = True
    SDK_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - reported by the module at run time
    HAS_SDK = False
    SDK_IMPORT_ERROR = _exc


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
        run_guard=dict(type="dict"),
        outage_budget=dict(type="int", default=int(DEFAULT_OUTAGE_BUDGET)),
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


def _cloud_not_found(cloud: Any, exc: BaseException) -> str | None:
    """A named cloud missing from clouds.yaml, as BadInput text naming the file and the choices."""
    cloud = cloud or os.environ.get("OS_CLOUD")
    if not isinstance(cloud, str) or "was not found" not in str(exc):
        return None
    try:
        from openstack.config import loader
        config = loader.OpenStackConfig()
        known, path = config.get_cloud_names(), config.config_filename
    except Exception:  # noqa: BLE001 - the message still names the cloud
        known, path = [], None
    return input_checks.cloud_not_found(cloud, str(exc), known, path)


def classify_exception(exc: BaseException) -> ironic_errors.IronicError:
    """Classify an exception of the client (ApiError), openstacksdk or keystoneauth."""
    if isinstance(exc, ApiError):
        return exc.error
    if isinstance(exc, errors.CloudUnreachable):
        return ironic_errors.IronicError(ironic_errors.ENDPOINT, ironic_errors.NEVER,
                                         exc.result.get("status_code"), exc.msg)
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


class IronwaveModule(ModuleBase):
    """Base for cloud modules: the cloud options, the connection, the Ironic client, the run guard.

    Subclasses set `argument_spec` (module-specific options), optionally `module_kwargs`
    (mutually_exclusive, required_if, ...) and implement `run()` (see ModuleBase).
    """

    # Whether the client checks the run guard (run_control) before every mutating request.
    guarded = False

    @classmethod
    def full_argument_spec(cls) -> dict:
        return cloud_argument_spec(**cls.argument_spec)

    @classmethod
    def secrets_in(cls, params: dict) -> set[str]:
        """Secrets inside raw parameters (the spec's no_log covers whole options only): an inline
        `cloud` dict's password/token/...; subclasses add theirs (e.g. BMC passwords)."""
        return secret_values.cloud_secrets(params)

    def __init__(self) -> None:
        super().__init__()
        self._conn = None
        self.stats = ironic_errors.CallStats()

    @property
    def guard(self) -> RunControl:
        """The run guard the action plugin filled (an empty guard never stops)."""
        if getattr(self, "_guard", None) is None:
            self._guard = RunControl.from_params(self.params.get("run_guard"))
        return self._guard

    @property
    def client(self) -> IronicClient:
        """The Ironic client (one retry policy by cause, the outage budget, stats counted here)."""
        if getattr(self, "_client", None) is None:
            budget = self.params.get("outage_budget")
            self._client = IronicClient(self.conn, self.stats,
                                        outage_budget=DEFAULT_OUTAGE_BUDGET if budget is None else budget,
                                        guard=self.guard if self.guarded else None)
        return self._client

    @property
    def conn(self):
        if self._conn is None:
            if not HAS_SDK:
                self.ansible.fail_json(msg=missing_required_lib("openstacksdk"), exception=str(SDK_IMPORT_ERROR))
            try:
                self._conn = connect(self.params)
            except Exception as exc:  # noqa: BLE001 - turned into one clear line
                input_checks.require(_cloud_not_found(self.params.get("cloud"), exc))
                self.fail_sdk(exc, "connecting to the cloud")
        return self._conn

    def fail_sdk(self, exc: BaseException, what: str, **result: Any) -> None:
        err = classify_exception(exc)
        result = {**self.stats.result_keys(), **result}
        self.ansible.fail_json(msg=err.one_line(what), error_kind=err.kind, error_action=err.action,
                               status_code=err.status, **result)

    def common_result(self) -> dict:
        """Per-cause call counts, the module's extra keys and `elapsed` (seconds since Ops/the
        client started, after imports) when timed."""
        timing = {"elapsed": round(time.monotonic() - self.t0, 3)} if getattr(self, "t0", None) else {}
        return {**self.stats.result_keys(), **self.result_extra(), **timing}

    def unexpected(self, exc: Exception) -> None:
        if HAS_SDK and isinstance(exc, openstack.exceptions.SDKException):
            self.fail_sdk(exc, type(self).__name__)
