# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The fault texts below are built from Nova 34.0.0 / Ironic 39.0.0 source (exception msg_fmt and
the driver/manager/conductor code paths quoted in nova_faults' docstring)."""
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_faults as nf

INST = "5c7a2d6e-1f0b-4b8e-9a43-0d3c1f1e2a11"
NODE = "0f7d9a3c-8c55-4a2e-b0f4-6c0e7d2a9b10"
OTHER = "9d1e0c2b-3a4f-4e5d-8c6b-7a8f9e0d1c2b"

ABORT_PREP = f"Build of instance {INST} aborted: Failure prepping block device."
RESERVE = f"Failed to reserve node {NODE} when provisioning the instance {INST}"
LOCKED = f"Node {NODE} is locked by host conductor-1, please retry after the current operation is completed."
ASSOCIATED = f"Node {NODE} is associated with instance {OTHER}."
CHOSEN = f"Chosen ironic node {NODE} is not available"
EXHAUSTED = ("Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures "
             f"for instance {INST}.")
MAX_ATTEMPTS = ("Exceeded maximum number of retries. Exceeded max scheduling attempts 3 for instance "
                f"{INST}. Last exception: Insufficient compute resources: {CHOSEN}.")
NVH_NOT_ENOUGH = "No valid host was found. There are not enough hosts available."
NVH_NO_CANDIDATES = "No valid host was found. "
PROVISION = f"Failed to provision instance {INST}: Deploy step deploy.deploy failed: image download error"


def _trace(*causes: str) -> str:
    """A fault `details` as nova.compute.utils._get_fault_details writes it (chained tracebacks)."""
    parts = ["Traceback (most recent call last):\n  File \"nova/virt/ironic/driver.py\", line 364\n"
             f"openstack.exceptions.ConflictException: {c}\n\nDuring handling of the above exception, "
             "another exception occurred:\n\n" for c in causes]
    return "".join(parts) + f"nova.exception.BuildAbortException: {ABORT_PREP}\n"


def _fault(message, details=""):
    return {"code": 500, "message": message, "details": details, "created": "2026-12-01T06:00:00Z"}


def test_node_locked_race_is_found_in_the_chained_details_and_rebuilt():
    details = _trace(f"409: Client Error for url: http://127.0.0.1:6385/v1/nodes/{NODE}, {LOCKED}",
                     f"nova.exception.InstanceDeployFailure: {RESERVE}")
    out = nf.classify(_fault(ABORT_PREP, details), "ERROR")
    assert (out.kind, out.action) == (nf.NODE_LOCKED, nf.REBUILD)
    assert out.message == ABORT_PREP
    assert "race" in out.advice


def test_node_associated_race_from_ironic_conflict_text():
    details = _trace(f"409: Client Error for url: http://127.0.0.1:6385/v1/nodes/{NODE}, {ASSOCIATED}",
                     f"nova.exception.InstanceDeployFailure: {RESERVE}")
    out = nf.classify(_fault(ABORT_PREP, details), "ERROR")
    assert (out.kind, out.action) == (nf.NODE_ASSOCIATED, nf.REBUILD)


def test_failed_to_reserve_node_alone_is_node_associated():
    out = nf.classify(_fault(ABORT_PREP, _trace(f"nova.exception.InstanceDeployFailure: {RESERVE}")), "ERROR")
    assert out.kind == nf.NODE_ASSOCIATED


def test_ironic_instance_associated_text_is_node_associated():
    text = f"Instance {INST} is already associated with a node, it cannot be associated with this other node {NODE}"
    assert nf.classify(_fault(ABORT_PREP, _trace(text)), "ERROR").kind == nf.NODE_ASSOCIATED


def test_failure_prepping_block_device_without_details_is_unknown_and_fails():
    # A non-admin view (or a real block device failure): nothing says it was a race.
    out = nf.classify(_fault(ABORT_PREP), "ERROR")
    assert (out.kind, out.action) == (nf.UNKNOWN, nf.FAIL)


def test_compute_resources_unavailable_with_retries_disabled():
    # [scheduler] max_attempts = 1: the RescheduledException reason is the fault message.
    out = nf.classify(_fault(f"Insufficient compute resources: {CHOSEN}."), "ERROR")
    assert (out.kind, out.action) == (nf.COMPUTE_RESOURCES_UNAVAILABLE, nf.REBUILD)


def test_other_insufficient_compute_resources_texts():
    text = "Insufficient compute resources: Needed 1 units of resource class CUSTOM_X, but 0 are available.."
    assert nf.classify(_fault(text), "ERROR").kind == nf.COMPUTE_RESOURCES_UNAVAILABLE


@pytest.mark.parametrize("message", [EXHAUSTED, MAX_ATTEMPTS])
def test_exhausted_retries_is_the_race_and_is_rebuilt(message):
    out = nf.classify(_fault(message, "Traceback ...MaxRetriesExceeded"), "ERROR")
    assert (out.kind, out.action) == (nf.NO_VALID_HOST_RACE, nf.REBUILD)
    assert out.message == message


def test_exhausted_retries_after_a_deploy_failure_is_a_deploy_failure():
    msg = ("Exceeded maximum number of retries. Exceeded max scheduling attempts 3 for instance "
           f"{INST}. Last exception: {PROVISION}")
    out = nf.classify(_fault(msg), "ERROR")
    assert (out.kind, out.action) == (nf.DEPLOY_FAILED, nf.FAIL)


@pytest.mark.parametrize("message", [NVH_NOT_ENOUGH, NVH_NO_CANDIDATES])
def test_plain_no_valid_host_rechecks_capacity(message):
    out = nf.classify(_fault(message), "ERROR")
    assert (out.kind, out.action) == (nf.NO_VALID_HOST, nf.RECHECK_CAPACITY)


def test_deploy_failure_surfaced_by_the_driver_fails():
    out = nf.classify(_fault(PROVISION), "ERROR")
    assert (out.kind, out.action) == (nf.DEPLOY_FAILED, nf.FAIL)
    assert "last_error" in out.advice


def test_build_status_means_our_timeout_and_names_the_task_state():
    out = nf.classify(None, "BUILD", "spawning")
    assert (out.kind, out.action) == (nf.BUILD_TIMEOUT, nf.FAIL)
    assert "spawning" in out.message
    assert nf.classify({"message": NVH_NOT_ENOUGH}, "build").kind == nf.BUILD_TIMEOUT


@pytest.mark.parametrize("fault", [None, {}, "junk", {"message": None}, {"message": 42, "details": ["x"]}])
def test_junk_faults_are_unknown_and_fail(fault):
    out = nf.classify(fault, "ERROR")
    assert (out.kind, out.action) == (nf.UNKNOWN, nf.FAIL)
    assert out.message


def test_build_fault_is_frozen():
    out = nf.classify(None, "ERROR")
    with pytest.raises(AttributeError):
        out.kind = "x"  # type: ignore[misc]


def test_make_builds_our_own_kinds_and_tolerates_unknown_ones():
    assert nf.make(nf.SERVER_GONE, "gone").action == nf.FAIL
    assert nf.make(nf.NODE_LOCKED, "m").action == nf.REBUILD
    odd = nf.make("something_new", "m")
    assert (odd.action, odd.advice) == (nf.FAIL, nf.make(nf.UNKNOWN, "m").advice)


def test_quota_exceeded_at_build_time_is_its_own_kind_and_not_rebuilt():
    """Seen on the real local stack (Keystone, default quota 10): the conductor rechecks the quota
    at build time and the server goes ERROR with this fault."""
    message = "Quota exceeded for instances: Requested 1, but already used 10 of 10 instances"
    fault = nf.classify({"code": 500, "message": message}, "ERROR")
    assert fault.kind == "quota_exceeded" and fault.action == "fail" and "quota set" in fault.advice
