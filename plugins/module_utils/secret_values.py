# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Find the secret values inside structured parameters (pure).

Ansible masks by value: every string in `AnsibleModule.no_log_values` is replaced by ********
wherever it appears in the result (invocation, msg, Ironic's echoed errors). Marking a whole
parameter `no_log` would mask every leaf, e.g. an inline cloud's region or a node's BMC address,
and for `cloud` given as a name the name itself. So only the values held under secret keys are
collected, from raw (not yet validated) parameters: masking must hold even when validation fails.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

# Words in a BMC / driver_info key that mark a secret (BMC passwords, SNMP communities, keys).
DRIVER_SECRET_WORDS = ("password", "secret", "token", "community", "key", "passphrase", "credential",
                       "ipmi_kg")
# Keys of an openstacksdk/keystoneauth cloud config that hold a secret (password,
# application_credential_secret, token, client_secret, passcode, ...). Not "key": `key` and
# `client_key` are file paths, and `*_name`/`*_id` must stay readable.
CLOUD_SECRET_WORDS = ("password", "secret", "token", "passcode", "passphrase")


def is_secret_key(key: Any, words: tuple[str, ...] = DRIVER_SECRET_WORDS) -> bool:
    lowered = str(key).lower()
    return any(word in lowered for word in words)


def is_cloud_secret_key(key: Any) -> bool:
    return is_secret_key(key, CLOUD_SECRET_WORDS)


def leaves(value: Any) -> Iterator[str]:
    """Every scalar in a structure as Ansible stringifies it (bools and None are never masked)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            yield from leaves(item)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, (str, bytes, int, float)):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        if text:
            yield text


def secrets_under(value: Any, is_secret: Callable[[Any], bool]) -> set[str]:
    """All values held (at any depth) under a key for which `is_secret(key)` is true."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if is_secret(key):
                found.update(leaves(item))
            else:
                found |= secrets_under(item, is_secret)
    elif isinstance(value, (list, tuple)):
        for item in value:
            found |= secrets_under(item, is_secret)
    return found


def cloud_secrets(params: dict) -> set[str]:
    """Secrets of an inline `cloud` dict (a cloud *name* is not a secret and yields nothing)."""
    cloud = params.get("cloud") if isinstance(params, dict) else None
    return secrets_under(cloud, is_cloud_secret_key) if isinstance(cloud, dict) else set()
