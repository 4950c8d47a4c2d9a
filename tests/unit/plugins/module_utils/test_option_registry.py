# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import json
import os
import subprocess

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import option_registry as reg

DUMP = {
    "namespaces": ["ironic", "oslo.messaging"],
    "options": [
        {"section": "conductor", "name": "max_concurrent_deploy", "type": "Integer", "min": 1,
         "max": None, "choices": None, "mutable": True, "deprecated": [], "default": 250},
        {"section": "conductor", "name": "workers_pool_size", "type": "Integer", "min": 3,
         "max": None, "choices": None, "mutable": False, "deprecated": [], "default": 300},
        {"section": "conductor", "name": "automated_clean", "type": "Boolean", "mutable": False,
         "deprecated": [], "default": True},
        {"section": "DEFAULT", "name": "executor_thread_pool_size", "type": "Integer", "mutable": False,
         "deprecated": [["DEFAULT", "rpc_thread_pool_size"]], "default": 64},
        {"section": "api", "name": "port", "type": "Port", "min": 0, "max": 65535, "mutable": False,
         "deprecated": [], "default": 6385},
        {"section": "DEFAULT", "name": "rpc_transport", "type": "String", "choices": ["oslo", "json-rpc", "none"],
         "mutable": False, "deprecated": [], "default": "oslo"},
    ],
}


def test_valid_options_and_mutability():
    registry = reg.registry_from_dump(json.dumps(DUMP))
    checked, errors, warnings = reg.validate(
        {"conductor": {"max_concurrent_deploy": 2, "workers_pool_size": "400"}}, registry)
    assert errors == [] and warnings == []
    assert {c.name: c.mutable for c in checked} == {"max_concurrent_deploy": True, "workers_pool_size": False}


@pytest.mark.parametrize("options, needle", [
    ({"conductor": {"max_concurrent_deploy": 0}}, "[conductor] max_concurrent_deploy = 0 is below its minimum 1"),
    ({"conductor": {"max_concurrent_deploy": "many"}}, "is not a valid integer"),
    ({"conductor": {"max_concurent_deploy": 5}}, "[conductor] max_concurent_deploy is not a known option"),
    ({"conductr": {"max_concurrent_deploy": 5}}, "section [conductr] is unknown too"),
    ({"api": {"port": 70000}}, "above its maximum 65535"),
    ({"conductor": {"automated_clean": "maybe"}}, "not a valid boolean"),
    ({"DEFAULT": {"rpc_transport": "zmq"}}, "not one of oslo, json-rpc, none"),
])
def test_invalid_options_are_named(options, needle):
    registry = reg.registry_from_dump(DUMP)
    _ignored, errors, _ignored = reg.validate(options, registry)
    assert len(errors) == 1 and needle in errors[0], errors


def test_allow_unknown_is_only_for_names():
    registry = reg.registry_from_dump(DUMP)
    checked, errors, warnings = reg.validate({"keystone_authtoken": {"password": "x"}}, registry, allow_unknown=True)
    assert not errors and checked[0].info is None and warnings
    _ignored, errors, _ignored = reg.validate({"conductor": {"max_concurrent_deploy": 0}}, registry, allow_unknown=True)
    assert errors


def test_deprecated_name_accepted_with_warning_and_alias_for_file():
    registry = reg.registry_from_dump(DUMP)
    checked, errors, warnings = reg.validate({"DEFAULT": {"rpc_thread_pool_size": 4}}, registry)
    assert not errors and "deprecated name" in warnings[0]
    assert checked[0].name == "rpc_thread_pool_size" and checked[0].aliases == ["executor_thread_pool_size"]
    checked, _ignored, _ignored = reg.validate({"DEFAULT": {"executor_thread_pool_size": 4}}, registry)
    assert checked[0].aliases == ["rpc_thread_pool_size"]


@pytest.mark.parametrize("release, name, ok", [
    ("2025.1", "executor_thread_pool_size", True),
    ("2025.1", "rpc_thread_pool_size", True),  # deprecated name still accepted
    ("kilo", "rpc_thread_pool_size", True),
    ("kilo", "executor_thread_pool_size", False),  # did not exist before Liberty
])
def test_table_thread_pool_names(release, name, ok):
    registry = reg.registry_from_table("ironic", release)
    _ignored, errors, _ignored = reg.validate({"DEFAULT": {name: 8}}, registry)
    assert (not errors) is ok, errors


def test_table_knows_bounds_and_defaults():
    registry = reg.registry_from_table("ironic", "2025.1")
    _ignored, errors, _ignored = reg.validate({"conductor": {"max_concurrent_deploy": 0}}, registry)
    assert "minimum 1" in errors[0]
    info, _ignored = registry.resolve("conductor", "workers_pool_size")
    assert info.is_default("300") and not info.is_default("100")
    assert reg.registry_from_table("ironic", "2023.1").resolve("conductor", "workers_pool_size")[0].is_default("100")
    _ignored, errors, _ignored = reg.validate({"conductor": {"debug": True}}, registry)
    assert "not a known option" in errors[0]


def test_same_value_by_type():
    registry = reg.registry_from_dump(DUMP)
    info, _ignored = registry.resolve("conductor", "automated_clean")
    assert reg.same_value(info, "True", "true") and reg.same_value(info, "on", "1")
    info, _ignored = registry.resolve("conductor", "workers_pool_size")
    assert reg.same_value(info, "0300", "300") and not reg.same_value(info, "30", "300")
    assert reg.format_value(True) == "true" and reg.format_value(["a", "b"]) == "a,b"


# --- the real registries -------------------------------------------------------------------------
# ironic is installed for the local Ironic anyway; nova only where a venv with it exists.
_REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
IRONIC_PYTHON = os.environ.get("IRONWAVE_IRONIC_PYTHON") or os.path.join(
    _REPO, ".state", "ironic", "venv", "bin", "python")  # the local_ironic role's default venv
NOVA_PYTHON = os.environ.get("IRONWAVE_NOVA_PYTHON", "")


def _dump(python: str, *namespaces: str) -> reg.Registry:
    out = subprocess.run([python, "-c", reg.DUMP_SCRIPT, *namespaces], capture_output=True, text=True,
                         check=True, timeout=120)
    return reg.registry_from_dump(out.stdout)


@pytest.mark.skipif(not os.path.exists(IRONIC_PYTHON or "/nonexistent"),
                    reason="set IRONWAVE_IRONIC_PYTHON to the python of a venv with ironic installed")
def test_real_ironic_registry_matches_table():
    registry = _dump(IRONIC_PYTHON)
    table = reg.registry_from_table("ironic", "2026.2")
    for key, info in table.options.items():
        real = registry.options[key]
        assert (real.type, real.minimum, real.mutable) == (info.type, info.minimum, info.mutable), key
    assert registry.resolve("DEFAULT", "rpc_thread_pool_size")[0].name == "executor_thread_pool_size"
    _ignored, errors, _ignored = reg.validate({"conductor": {"max_concurrent_deploy": 0, "no_such_option": 1}}, registry)
    assert len(errors) == 2


@pytest.mark.skipif(not os.path.exists(NOVA_PYTHON or "/nonexistent"),
                    reason="set IRONWAVE_NOVA_PYTHON to the python of a venv with nova installed")
def test_real_nova_registry_matches_table():
    registry = _dump(NOVA_PYTHON, "nova.conf", "oslo.messaging")
    info, _ignored = registry.resolve("DEFAULT", "max_concurrent_builds")
    table, _ignored = reg.registry_from_table("nova", "2026.2").resolve("DEFAULT", "max_concurrent_builds")
    assert (info.type, info.minimum, info.mutable) == (table.type, table.minimum, table.mutable)
