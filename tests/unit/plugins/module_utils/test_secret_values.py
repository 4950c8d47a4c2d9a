# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

from ansible_collections.ironwave.baremetal.plugins.module_utils import secret_values as sv


def test_cloud_name_is_no_secret():
    assert sv.cloud_secrets({"cloud": "ironwave-test"}) == set()
    assert sv.cloud_secrets({"cloud": None}) == set()


def test_inline_cloud_secrets_only():
    cloud = {"auth_type": "v3applicationcredential", "region_name": "RegionOne", "key": "/etc/k.pem",
             "auth": {"auth_url": "https://ks", "username": "op", "password": "pw1",
                      "application_credential_id": "id1", "application_credential_secret": "s3",
                      "token": "tok", "passcode": 123456}}
    assert sv.cloud_secrets({"cloud": cloud}) == {"pw1", "s3", "tok", "123456"}


def test_driver_secrets_at_any_depth_even_in_invalid_entries():
    nodes = [{"name": "a", "driver_info": {"redfish_password": "p", "redfish_address": "https://x",
                                           "ipmi_kg": "kg", "snmp_auth_key": "k"}},
             "not-a-mapping",
             {"name": "b", "redfish_password": "misplaced", "ports": [{"address": "zz"}]},
             {"name": "c", "driver_info": {"secrets": {"one": "x1", "two": ["x2"]}, "flag": True}}]
    assert sv.secrets_under(nodes, sv.is_secret_key) == {"p", "kg", "k", "misplaced", "x1", "x2"}


def test_leaves_skip_bools_and_none():
    assert list(sv.leaves({"a": [True, None, 0, "", "s", 1.5]})) == ["0", "s", "1.5"]
