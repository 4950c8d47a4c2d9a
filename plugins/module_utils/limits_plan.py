# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Compute nova/ironic concurrency limits that match the wave size (pure maths, stdlib only).

The idea: the waves are the throttle. Server-side limits sit *just above* what the waves send, so
they never trip under normal operation but still stop a runaway or a second client, and the
thread pools are big enough that nothing queues inside a service. Every value carries a reason.

Facts the formulas rest on (ironic/conductor/manager.py ``_concurrent_action_limit``):
``max_concurrent_deploy`` / ``max_concurrent_clean`` are compared with a COUNT OF NODES IN THE
DATABASE (deploying + wait call-back; deleting + cleaning + clean wait) — cluster-wide, or per
conductor group when ``max_concurrent_per_conductor_group`` is on — and every conductor checks its
own copy of the option, so all conductors need the same value. The pools (workers, RPC executor,
power sync) are per process, so they scale with the share of nodes one conductor owns.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from ansible_collections.ironwave.baremetal.plugins.module_utils import release_options as ro

# Default wave when none is given: 20 concurrent deploys per conductor (tripleo's metalsmith
# concurrency and metal3's PROVISIONING_LIMIT both use 20 as a safe per-deployment figure).
DEFAULT_DEPLOYS_PER_CONDUCTOR = 20
# Nodes are spread over conductors / compute services by a hash ring, not evenly: assume the
# busiest one gets up to 1.5× its fair share of a wave.
HASH_RING_SKEW = 1.5
# Threads ironic keeps for itself (heartbeat + periodic tasks) and the reserved API share
# (``[conductor] reserved_workers_pool_percentage`` default 5).
CONDUCTOR_OWN_THREADS = 2
RESERVED_POOL_FRACTION = 0.05


class PlanError(ValueError):
    """Bad planner input (the message names the field and the fix)."""


@dataclass(frozen=True)
class PlanInput:
    fleet_size: int
    release: str
    wave_size: Optional[int] = None
    conductors: int = 1
    conductor_groups: Optional[dict[str, int]] = None  # group name → nodes in that group
    compute_services: int = 0  # nova-compute services for Ironic (0 = standalone Ironic)
    deploy_duration: Optional[float] = None  # measured seconds per node deploy
    bmc_call_seconds: float = 2.0  # one power-state query to a BMC
    sync_power_state_interval: int = 60  # ironic [conductor] sync_power_state_interval
    headroom_ratio: float = 0.1
    min_headroom: int = 2


@dataclass
class Recommendation:
    service: str
    section: str
    option: str
    value: Any
    default: Any
    mutable: bool
    reason: str
    scope: str  # where the value applies: "every conductor", "every nova-compute", ...
    formula: str = ""


@dataclass
class Plan:
    release: str
    release_year: str
    wave_size: int
    wave_reason: str
    headroom: int
    recommendations: list[Recommendation] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    estimate: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def service_options(self) -> dict[str, dict[str, dict[str, Any]]]:
        """{service: {section: {option: value}}} — the shape service_config takes."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for rec in self.recommendations:
            out.setdefault(rec.service, {}).setdefault(rec.section, {})[rec.option] = rec.value
        return out

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["service_options"] = self.service_options()
        return data


def _check(inp: PlanInput) -> None:
    def positive_int(name: str, value: Any, allow_zero: bool = False) -> None:
        low = 0 if allow_zero else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise PlanError(f"{name} must be an integer >= {low}, got {value!r}")

    positive_int("fleet_size", inp.fleet_size)
    positive_int("conductors", inp.conductors)
    positive_int("compute_services", inp.compute_services, allow_zero=True)
    positive_int("min_headroom", inp.min_headroom, allow_zero=True)
    positive_int("sync_power_state_interval", inp.sync_power_state_interval)
    if inp.wave_size is not None:
        positive_int("wave_size", inp.wave_size)
    if inp.deploy_duration is not None and not inp.deploy_duration > 0:
        raise PlanError(f"deploy_duration must be > 0 seconds, got {inp.deploy_duration!r}")
    if not inp.bmc_call_seconds > 0:
        raise PlanError(f"bmc_call_seconds must be > 0, got {inp.bmc_call_seconds!r}")
    if not 0 <= inp.headroom_ratio <= 1:
        raise PlanError(f"headroom_ratio must be between 0 and 1, got {inp.headroom_ratio!r}")
    if inp.conductor_groups:
        for group, nodes in inp.conductor_groups.items():
            positive_int(f"conductor_groups[{group!r}]", nodes, allow_zero=True)
        total = sum(inp.conductor_groups.values())
        if total != inp.fleet_size:
            raise PlanError(f"conductor_groups hold {total} nodes but fleet_size is {inp.fleet_size}; "
                            "give every node's group (including the default group '')")


def busiest_share(amount: int, members: int) -> int:
    """Upper estimate of `amount` work items landing on the busiest of `members` (hash ring)."""
    if members <= 1:
        return amount
    return min(amount, math.ceil(amount * HASH_RING_SKEW / members))


def _bounded(spec: ro.OptionSpec, value: int) -> int:
    if spec.minimum is not None:
        value = max(value, spec.minimum)
    if spec.maximum is not None:
        value = min(value, spec.maximum)
    return value


def compute_plan(inp: PlanInput) -> Plan:
    """The recommended limits for `inp` (PlanError / ReleaseError on bad input)."""
    release = ro.normalize_release(inp.release)
    _check(inp)
    n, c, k = inp.fleet_size, inp.conductors, inp.compute_services

    if inp.wave_size is None:
        wave = min(n, DEFAULT_DEPLOYS_PER_CONDUCTOR * c)
        wave_reason = (f"no wave_size given: min(fleet {n}, {DEFAULT_DEPLOYS_PER_CONDUCTOR} per conductor "
                       f"x {c} conductors) = {wave}")
    else:
        wave = min(inp.wave_size, n)
        wave_reason = (f"wave_size {inp.wave_size} as given" if wave == inp.wave_size
                       else f"wave_size {inp.wave_size} capped to the fleet size {n}")
    headroom = max(inp.min_headroom, math.ceil(wave * inp.headroom_ratio))
    wave_reason += (f"; run the waves with at most {wave} nodes in flight: every server-side limit "
                    f"below sits {headroom} above that, so it never trips under normal operation")
    plan = Plan(release=release, release_year=ro.release_year(release), wave_size=wave,
                wave_reason=wave_reason, headroom=headroom)

    def add(service: str, key: str, value: Any, reason: str, scope: str, formula: str = "") -> None:
        spec = ro.lookup(service, release, key)
        if spec is None:
            plan.skipped.append({"service": service, "option": key,
                                 "reason": f"{service} {release} has no option for {key}"})
            return
        if spec.type == "integer":
            bounded = _bounded(spec, int(value))
            if bounded != value:
                reason += f" (bounded to the option's range: {value} -> {bounded})"
            value = bounded
        plan.recommendations.append(Recommendation(
            service=service, section=spec.section, option=spec.name, value=value,
            default=spec.default_in(release), mutable=spec.mutable, reason=reason, scope=scope,
            formula=formula))

    # --- ironic: cluster-wide action limits -------------------------------------------------
    groups = dict(inp.conductor_groups or {})
    per_group = len(groups) > 1 and ro.lookup("ironic", release, "max_concurrent_per_conductor_group")
    if per_group:
        biggest = max(groups.values())
        in_flight = min(wave, biggest)
        add("ironic", "max_concurrent_per_conductor_group", True,
            f"{len(groups)} conductor groups: count the limits per group so a runaway in one group "
            "cannot block the others", "every conductor")
        where = (f"per conductor group: a wave can put at most min(wave {wave}, largest group "
                 f"{biggest}) = {in_flight} nodes into one group")
    else:
        in_flight = wave
        where = ("ironic counts nodes in these states in its database across ALL conductors "
                 "(not per conductor), and each conductor enforces its own copy")
        if len(groups) > 1:
            plan.warnings.append(f"{release} cannot count the limits per conductor group; "
                                 "the cluster-wide limit is used")
    deploy_limit = in_flight + headroom
    add("ironic", "max_concurrent_deploy", deploy_limit,
        f"{where}; deploying + wait call-back nodes never exceed {in_flight} while the waves run, "
        f"so {in_flight} + headroom {headroom} = {deploy_limit}: a runaway client or a second "
        "deployer gets HTTP 503 ConcurrentActionLimit instead of overloading DHCP/PXE/conductors",
        "every conductor (same value everywhere)", "min(W, largest group) + headroom")
    clean_limit = in_flight + headroom
    add("ironic", "max_concurrent_clean", clean_limit,
        f"{where}; a teardown or cleaning wave moves at most {in_flight} nodes through deleting/"
        f"cleaning/clean wait, so {in_flight} + headroom {headroom} = {clean_limit}",
        "every conductor (same value everywhere)", "min(W, largest group) + headroom")

    # --- ironic: per-conductor pools ------------------------------------------------------------
    per_cond_nodes = math.ceil(n / c)
    spw_spec = ro.lookup("ironic", release, "sync_power_state_workers")
    spw_default = int(spw_spec.default_in(release)) if spw_spec else 8
    spw_needed = math.ceil(per_cond_nodes * inp.bmc_call_seconds / inp.sync_power_state_interval)
    spw = max(spw_default, spw_needed)
    add("ironic", "sync_power_state_workers", spw,
        f"each conductor owns ~{per_cond_nodes} nodes ({n}/{c}); one power query takes "
        f"~{inp.bmc_call_seconds:g}s and every node is synced every {inp.sync_power_state_interval}s, "
        f"so ceil({per_cond_nodes} x {inp.bmc_call_seconds:g} / {inp.sync_power_state_interval}) = "
        f"{spw_needed} threads are busy; never below the default {spw_default}",
        "every conductor", "max(default, ceil(N/C x t_bmc / interval))")

    deploy_share = busiest_share(deploy_limit, c)
    clean_share = busiest_share(clean_limit, c)
    pool_need = math.ceil((deploy_share + clean_share + spw + CONDUCTOR_OWN_THREADS)
                          / (1 - RESERVED_POOL_FRACTION))
    wps_spec = ro.lookup("ironic", release, "workers_pool_size")
    wps_default = int(wps_spec.default_in(release)) if wps_spec else 100
    add("ironic", "workers_pool_size", max(wps_default, pool_need),
        f"busiest conductor may hold {deploy_share} deploys + {clean_share} cleans at once "
        f"(limit x {HASH_RING_SKEW} / {c} conductors) + {spw} power-sync + {CONDUCTOR_OWN_THREADS} own "
        f"threads, over the {int((1 - RESERVED_POOL_FRACTION) * 100)}% not reserved for the API = "
        f"{pool_need}; never below the default {wps_default} (a full pool answers 503 "
        "NoFreeConductorWorker)", "every conductor",
        "max(default, (share(deploy) + share(clean) + spw + 2) / 0.95)")

    rpc_need = deploy_share + clean_share
    rpc_spec = ro.lookup("ironic", release, "executor_thread_pool_size")
    rpc_default = int(rpc_spec.default_in(release)) if rpc_spec else 64
    add("ironic", "executor_thread_pool_size", max(rpc_default, rpc_need),
        f"RPC handlers return as soon as the work is handed to the worker pool, so one thread per "
        f"request in flight on the busiest conductor ({deploy_share} + {clean_share}) is enough; "
        f"the default {rpc_default} is kept as a floor. Shrinking it (the old 64 -> 4 workaround "
        "for NodeAssociated) only serialises that race; the waves' association checks prevent it",
        "every conductor", "max(default, share(deploy) + share(clean))")

    # --- nova-compute (ironic driver) ------------------------------------------------------------
    if k:
        build_share = busiest_share(wave, k)
        builds = build_share + 1
        reason = (f"a build holds its slot until Ironic reaches active; nodes are spread over {k} "
                  f"nova-compute services by a hash ring, so the busiest gets up to {build_share} of a "
                  f"wave of {wave}; + 1 so the waves never queue behind the build semaphore "
                  "(lowering it to 2 only slows the race down, it does not remove it)")
        if ro.release_index(release) >= ro.release_index("gazpacho"):
            reason += ("; in native-threading mode builds and snapshots share one executor sized "
                       "max(max_concurrent_builds, max_concurrent_snapshots)")
        add("nova", "max_concurrent_builds", builds, reason, "every nova-compute for Ironic",
            "share(W, K) + 1")
        if ro.release_index(release) >= ro.release_index("gazpacho"):
            # Measured on nova 34 (tests/nova/test_nova_limits.py): max_concurrent_builds 2 alone
            # still ran 5 builds at once - the default max_concurrent_snapshots sized the executor.
            add("nova", "max_concurrent_snapshots", builds,
                "builds and snapshots share one executor of max(max_concurrent_builds, "
                "max_concurrent_snapshots) in native-threading mode, so the build limit only holds "
                "when snapshots are limited alike (the ironic driver takes no snapshots)",
                "every nova-compute for Ironic", "= max_concurrent_builds")
    else:
        plan.skipped.append({"service": "nova", "option": "max_concurrent_builds",
                             "reason": "compute_services is 0: standalone Ironic, no nova-compute"})

    waves = math.ceil(n / wave)
    plan.estimate = {"waves": waves, "nodes_per_wave": wave}
    if inp.deploy_duration:
        plan.estimate["lockstep_seconds"] = round(waves * inp.deploy_duration, 1)
        plan.estimate["sliding_window_seconds"] = round(n * inp.deploy_duration / wave, 1)
    return plan
