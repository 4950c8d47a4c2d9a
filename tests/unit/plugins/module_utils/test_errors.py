# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, ironic_errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import openstack_cloud


def test_error_carries_kind_message_and_result_fields():
    exc = errors.AssociationRefused("refusing to deploy node n1: owned by i2", "associated_elsewhere", node="n1")
    assert exc.as_result() == {"node": "n1", "msg": "refusing to deploy node n1: owned by i2",
                               "error_kind": "associated_elsewhere"}
    assert errors.BadInput("x").kind == ironic_errors.BAD_REQUEST
    assert errors.ReservationFailed("x").kind == ironic_errors.ALLOCATION_FAILED


def test_from_ironic_keeps_the_classification():
    err = ironic_errors.classify(409, "Node n1 is associated with instance i2.")
    exc = errors.from_ironic(err, "deploy n1", node="n1")
    assert exc.kind == ironic_errors.NODE_ASSOCIATED and exc.result["status_code"] == 409
    assert "deploy n1 failed" in exc.msg


class _FakeAnsible:
    def __init__(self, argument_spec, supports_check_mode, **kwargs):
        self.params = {}
        self.out = None

    def exit_json(self, **kw):
        self.out = ("exit", kw)
        raise SystemExit(0)

    def fail_json(self, **kw):
        self.out = ("fail", kw)
        raise SystemExit(1)


class _Raises(openstack_cloud.IronwaveModule):
    ansible_module_class = _FakeAnsible

    def run(self):
        raise errors.DeploymentFailed("node n1 went to deploy failed: boom", node="n1")


class _Returns(openstack_cloud.IronwaveModule):
    ansible_module_class = _FakeAnsible

    def run(self):
        return {"changed": True, "node": "n1"}


def test_only_the_base_class_turns_errors_into_a_failure():
    mod = _Raises()
    with pytest.raises(SystemExit):
        mod()
    kind, result = mod.ansible.out
    assert kind == "fail" and result["error_kind"] == "deploy_failed" and result["node"] == "n1"
    assert result["backpressure"] is False and "retries" in result


def test_returned_result_is_the_exit():
    mod = _Returns()
    with pytest.raises(SystemExit):
        mod()
    assert mod.ansible.out == ("exit", {**mod.stats.result_keys(), "changed": True, "node": "n1"})
