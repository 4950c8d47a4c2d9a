# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import input_checks as ic


def test_require_lists_every_problem_and_says_nothing_was_sent():
    ic.require(None, None)
    with pytest.raises(errors.BadInput) as caught:
        ic.require(ic.more_than_zero("timeout", 0), None, ic.at_least("batch", 0, 1))
    assert caught.value.msg == ("timeout: must be more than 0 seconds (got 0); batch: must be at least 1 (got 0)"
                                " (nothing was sent to Ironic)")
    assert caught.value.result["problems"] == ["timeout: must be more than 0 seconds (got 0)",
                                               "batch: must be at least 1 (got 0)"]


@pytest.mark.parametrize("value,ok", [(0.5, True), (0, False), (-1, False), (True, False), ("1", False)])
def test_more_than_zero(value, ok):
    assert (ic.more_than_zero("poll_interval", value) is None) == ok


def test_poll_fits():
    assert ic.poll_fits("poll_interval", 5, "timeout", 10) is None
    assert "longer than timeout" in ic.poll_fits("poll_interval", 20, "timeout", 10)


def test_trait_names():
    assert ic.trait_names("traits", ["CUSTOM_GPU", "HW_CPU_X86_AVX2"]) is None
    assert ic.trait_names("traits", None) is None
    msg = ic.trait_names("traits", ["gpu", "CUSTOM_OK", 3])
    assert msg.startswith("traits: 'gpu', 3 is not a trait name") and "CUSTOM_GPU" in msg


def test_cloud_not_found():
    msg = ic.cloud_not_found("nope", "Cloud nope was not found.", ["defaults", "b", "a"], "/etc/c.yaml")
    assert msg == ("cloud: 'nope' is not defined in clouds.yaml (/etc/c.yaml); set cloud (or OS_CLOUD) to one "
                   "of: a, b, or point OS_CLIENT_CONFIG_FILE at the clouds.yaml that defines it")
    assert ic.cloud_not_found("nope", "connection refused", ["a"], None) is None
    assert ic.cloud_not_found({"auth": {}}, "Cloud x was not found.", [], None) is None


def test_instance_info():
    assert ic.instance_info("instance_info", None) is None
    assert ic.instance_info("instance_info", {"image_source": "http://x/i.img", "root_gb": 10,
                                              "capabilities": {"boot_mode": "uefi"}, "other": 1}) is None
    msg = ic.instance_info("instance_info", {"image_source": 42, "root_gb": -1, "capabilities": [1]})
    assert "instance_info.image_source: must be a non-empty string" in msg
    assert "instance_info.root_gb" in msg and "instance_info.capabilities" in msg
    assert "must be a mapping" in ic.instance_info("instance_info", "x")
