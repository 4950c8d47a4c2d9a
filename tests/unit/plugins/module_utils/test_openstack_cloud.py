# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import textwrap

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import openstack_cloud as oc


def test_argument_spec_names_match_openstack_cloud_and_auth_is_secret():
    spec = oc.cloud_argument_spec(extra=dict(type="str"))
    for name in ("cloud", "auth", "auth_type", "region_name", "interface", "validate_certs", "ca_cert",
                 "client_cert", "client_key", "api_timeout", "baremetal_api_version", "extra"):
        assert name in spec
    assert spec["auth"]["no_log"] is True


def test_connection_kwargs_translate_and_disable_blanket_retries():
    kw = oc.connection_kwargs(dict(cloud="c1", validate_certs=False, ca_cert="/ca", client_cert="/c",
                                   client_key="/k", api_timeout=5, auth=None))
    assert kw == dict(cloud="c1", verify=False, cacert="/ca", cert="/c", key="/k", api_timeout=5,
                      baremetal_status_code_retries=0)
    inline = oc.connection_kwargs(dict(cloud={"auth_type": "none", "baremetal_endpoint_override": "http://x"}))
    assert inline["auth_type"] == "none" and "cloud" not in inline


@pytest.fixture
def clouds_file(tmp_path, monkeypatch):
    path = tmp_path / "clouds.yaml"
    path.write_text(textwrap.dedent("""
        clouds:
          devstack:
            auth_type: none
            baremetal_endpoint_override: http://127.0.0.1:1
    """))
    for var in list(__import__("os").environ):
        if var.startswith("OS_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    return path


def test_sole_cloud_in_client_config_file_is_used(clouds_file):
    # AWX writes one cloud and no OS_CLOUD: that cloud must be picked without naming it.
    conn = oc.connect(dict(cloud=None))
    assert conn.config.name == "devstack"
    assert int(conn.config.get_status_code_retries("baremetal")) == 0


def test_os_cloud_is_honoured(clouds_file, monkeypatch):
    monkeypatch.setenv("OS_CLOUD", "devstack")
    assert oc.connect({}).config.name == "devstack"


class _Ansible:
    params = {"outage_budget": 7, "run_guard": {"pid": 1, "start": "", "control": None}}

    def __init__(self, argument_spec, supports_check_mode, **kwargs):
        self.params = dict(_Ansible.params)


class _Module(oc.IronwaveModule):
    ansible_module_class = _Ansible


class _Guarded(_Module):
    guarded = True


def test_every_cloud_module_gets_the_outage_budget_and_one_client():
    assert oc.cloud_argument_spec()["outage_budget"] == dict(type="int", default=180)
    mod = _Module()
    mod._conn = object()
    client = mod.client
    assert client is mod.client and client.stats is mod.stats
    assert client.policy.outage_budget == 7 and client.guard is None
    guarded = _Guarded()
    guarded._conn = object()
    assert guarded.client.guard is guarded.guard and guarded.guard.pid == 1
