# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""BMC and cloud secrets are masked even when argument validation fails (before run())."""
from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ironwave.baremetal.plugins.modules import fleet_enroll


def test_argument_spec_failure_masks_bmc_and_cloud_secrets(capsys):
    args = {"cloud": {"auth_type": "password", "region_name": "RegionX",
                      "auth": {"auth_url": "http://ks", "password": "cloud-pw-1"}},
            "nodes": [{"name": "n1", "driver": "ipmi", "driver_info": {"ipmi_password": "bmc-pw-1"}}],
            "timeout": "not-a-number"}
    with patch_module_args(args), pytest.raises(SystemExit):
        fleet_enroll.FleetEnroll()
    out = capsys.readouterr().out
    result = json.loads(out[out.index("{"):])
    assert result["failed"] and "timeout" in result["msg"]
    assert "bmc-pw-1" not in out and "cloud-pw-1" not in out
    assert "RegionX" in out, "only secrets are masked"


def test_in_worker_module_class_is_masked_too(monkeypatch):
    """plugin_utils/in_worker.py swaps in an AnsibleModule subclass with its own _load_params and
    _record_module_result; the masking subclass sits on top of it."""
    from ansible.module_utils.basic import AnsibleModule

    from ansible_collections.ironwave.baremetal.plugins.module_utils import openstack_cloud

    recorded = {}

    class InWorker(AnsibleModule):
        def _load_params(self):
            self.params = {"cloud": {"auth": {"token": "tok-1"}}, "timeout": "x",
                           "nodes": [{"name": "n", "driver_info": {"redfish_password": "bmc-pw-2"}}]}

        def _record_module_result(self, o):
            recorded.update(o)

    monkeypatch.setattr(openstack_cloud.IronwaveModule, "ansible_module_class", InWorker)
    with pytest.raises(SystemExit):
        fleet_enroll.FleetEnroll()
    text = json.dumps(recorded)
    assert recorded["failed"] and "tok-1" not in text and "bmc-pw-2" not in text
