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


def test_retry_only_for_node_locked():
    import openstack.exceptions as exc

    calls = []

    def locked():
        calls.append(1)
        if len(calls) < 3:
            raise exc.ConflictException(message="Node n1 is locked by host c1, please retry after the current "
                                                "operation is completed.", http_status=409)
        return "ok"

    assert oc.call_with_retry(locked, sleep=lambda s: None) == "ok" and len(calls) == 3

    def associated():
        calls.append(2)
        raise exc.ConflictException(message="Node n1 is associated with instance i1.", http_status=409)

    calls.clear()
    with pytest.raises(exc.ConflictException):
        oc.call_with_retry(associated, sleep=lambda s: None)
    assert calls == [2]
