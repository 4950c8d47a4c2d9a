# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Checks of module parameters that the argument spec cannot express (pure).

Each check returns a problem - one line naming the field, what is wrong and the fix - or None;
`require()` raises errors.BadInput with every problem, before anything is sent to Ironic.
docs/runbook.md ("Bad input") lists what each module refuses.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors

_TRAIT_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,254}$")


def require(*problems: str | None) -> None:
    """Raise BadInput listing every problem (None entries are fine)."""
    found = [p for p in problems if p]
    if found:
        raise errors.BadInput("; ".join(found) + " (nothing was sent to Ironic)", problems=found)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def more_than_zero(field: str, value: Any, unit: str = "seconds") -> str | None:
    if _is_number(value) and value > 0:
        return None
    return f"{field}: must be more than 0 {unit} (got {value!r})"


def at_least(field: str, value: Any, low: int, why: str = "") -> str | None:
    if _is_number(value) and value >= low:
        return None
    return f"{field}: must be at least {low}{' ' + why if why else ''} (got {value!r})"


def poll_fits(poll_field: str, poll: Any, timeout_field: str, timeout: Any) -> str | None:
    """A poll interval longer than the whole wait never polls twice."""
    if _is_number(poll) and _is_number(timeout) and timeout > 0 and poll > timeout:
        return (f"{poll_field}: {poll!r} s is longer than {timeout_field} ({timeout!r} s); "
                f"use a {poll_field} of at most {timeout_field}")
    return None


def trait_names(field: str, traits: Iterable[Any] | None) -> str | None:
    """Traits are upper-case names (standard os-traits or CUSTOM_*); Ironic and placement refuse others."""
    bad = [t for t in traits or () if not isinstance(t, str) or not _TRAIT_RE.match(t)]
    if not bad:
        return None
    return (f"{field}: {', '.join(repr(t) for t in bad)} is not a trait name; use upper-case names of "
            f"letters, digits and _ such as CUSTOM_GPU or HW_CPU_X86_AVX2")


def cloud_not_found(cloud: Any, message: str, known: Iterable[str], config_file: str | None) -> str | None:
    """openstacksdk's 'Cloud X was not found.' as a fix: which clouds.yaml was read, what it offers."""
    if not isinstance(cloud, str) or "was not found" not in str(message):
        return None
    names = [n for n in known if n != "defaults"]
    where = config_file or "no clouds.yaml found (OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/)"
    offer = f"one of: {', '.join(sorted(names))}" if names else "a cloud defined there"
    return (f"cloud: {cloud!r} is not defined in clouds.yaml ({where}); set cloud (or OS_CLOUD) to {offer}, "
            f"or point OS_CLIENT_CONFIG_FILE at the clouds.yaml that defines it")


_INSTANCE_INFO_STRINGS = ("image_source", "image_checksum", "image_os_hash_algo", "image_os_hash_value",
                          "image_type", "image_disk_format", "kernel", "ramdisk", "root_device_hint")
_INSTANCE_INFO_SIZES = ("root_gb", "root_mb", "swap_mb", "ephemeral_gb", "ephemeral_mb")


def instance_info(field: str, value: Any) -> str | None:
    """The instance_info keys Ironic's deploy reads, with the types it needs (others pass through).
    A wrong type is not refused by PATCH but fails the deploy (e.g. HTTP 500 for a numeric
    image_source), after the node was written."""
    if value is None:
        return None
    if not isinstance(value, dict):
        return f"{field}: must be a mapping such as {{image_source: https://.../image.qcow2}} (got {value!r})"
    problems = []
    for key in _INSTANCE_INFO_STRINGS:
        if key in value and (not isinstance(value[key], str) or not value[key].strip()):
            problems.append(f"{field}.{key}: must be a non-empty string (a URL or an image UUID for image_source), "
                            f"got {value[key]!r}")
    for key in _INSTANCE_INFO_SIZES:
        item = value.get(key)
        if key in value and not (isinstance(item, int) and not isinstance(item, bool) and item >= 0
                                 or isinstance(item, str) and item.isdigit()):
            problems.append(f"{field}.{key}: must be a whole number >= 0, got {item!r}")
    caps = value.get("capabilities")
    if "capabilities" in value and not isinstance(caps, (dict, str)):
        problems.append(f"{field}.capabilities: must be a mapping such as {{boot_mode: uefi}}, got {caps!r}")
    return "; ".join(problems) or None
