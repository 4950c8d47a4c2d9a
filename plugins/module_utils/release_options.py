# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Release table: names, sections, types, bounds and reloadability of the options we tune.

Pure data + lookups (stdlib only). This table is the fallback when the service's own option
registry (oslo.config namespaces of the installed ironic/nova) cannot be read on the controller;
it covers only the options the collection tunes. Every row names its source.

Sources (checked in this repository's environment unless marked otherwise):
- ironic 39.0.0 ``ironic/conf/conductor.py`` (2026.2 series): max_concurrent_deploy (default 250,
  min 1, mutable), max_concurrent_clean (50, min 1, mutable), max_concurrent_per_conductor_group
  (False, mutable), workers_pool_size (300, min 3, not mutable), sync_power_state_workers
  (8, min 1, not mutable).
- ironic ``ironic/conductor/manager.py`` ``_concurrent_action_limit``: the deploy/clean limits are
  compared with a count of nodes in the database, i.e. cluster-wide (or per conductor group).
- ironic release note "Adds a concurrency limiter ..." introduced max_concurrent_deploy/clean
  (Xena, 2021.2 — release from memory of the release notes; the live registry is authoritative).
- ironic release note on the worker-pool fix: workers_pool_size default moved from 100 to 300
  (placed at 2024.2 from memory; only the default differs, never validity).
- oslo.messaging 18.3.1 ``server.py``: ``[DEFAULT] executor_thread_pool_size`` (default 64) with
  deprecated_name ``rpc_thread_pool_size``; the rename happened in the Liberty cycle
  (oslo.messaging 1.x → 2.x), so Kilo and older only know ``rpc_thread_pool_size``.
- nova 34.0.0 ``nova/conf/compute.py``: ``[DEFAULT] max_concurrent_builds`` (default 10, min 0,
  not mutable); ``0`` ("unlimited") is deprecated since 33.0.0 (2026.1 Gazpacho).
- max_concurrent_per_conductor_group: present in ironic 39.0.0; the first release carrying it is
  not pinned here, so the table starts it at 2026.2 (use the live registry for 2026.1).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

# Ordered release series: (series name, year.N). Anything not here is an error, never a guess.
SERIES: tuple[tuple[str, str], ...] = (
    ("juno", "2014.2"), ("kilo", "2015.1"), ("liberty", "2015.2"), ("mitaka", "2016.1"),
    ("newton", "2016.2"), ("ocata", "2017.1"), ("pike", "2017.2"), ("queens", "2018.1"),
    ("rocky", "2018.2"), ("stein", "2019.1"), ("train", "2019.2"), ("ussuri", "2020.1"),
    ("victoria", "2020.2"), ("wallaby", "2021.1"), ("xena", "2021.2"), ("yoga", "2022.1"),
    ("zed", "2022.2"), ("antelope", "2023.1"), ("bobcat", "2023.2"), ("caracal", "2024.1"),
    ("dalmatian", "2024.2"), ("epoxy", "2025.1"), ("flamingo", "2025.2"), ("gazpacho", "2026.1"),
    ("hibiscus", "2026.2"),
)
_INDEX = {name: i for i, (name, _ignored) in enumerate(SERIES)}
_BY_YEAR = {year: name for name, year in SERIES}


class ReleaseError(ValueError):
    """The release is not in the table."""


def normalize_release(release: str) -> str:
    """'2023.1', 'Antelope', '2023.1-antelope' → 'antelope'; unknown → ReleaseError."""
    text = str(release or "").strip().lower()
    for part in text.replace("/", "-").replace(" ", "-").split("-"):
        if part in _INDEX:
            return part
        if part in _BY_YEAR:
            return _BY_YEAR[part]
    known = ", ".join(f"{name} ({year})" for name, year in SERIES)
    raise ReleaseError(
        f"release {release!r} is not in the collection's release table; use one of: {known}"
    )


def release_index(release: str) -> int:
    return _INDEX[normalize_release(release)]


def release_year(release: str) -> str:
    return SERIES[release_index(release)][1]


@dataclass(frozen=True)
class OptionSpec:
    """One option of one service, valid for releases since ≤ r < until."""

    service: str
    section: str
    name: str
    type: str  # integer | boolean | string | float
    default: object
    minimum: Optional[int] = None
    maximum: Optional[int] = None
    mutable: bool = False
    since: str = "juno"
    until: Optional[str] = None  # first release WITHOUT this name (exclusive)
    deprecated_names: tuple[tuple[str, str], ...] = ()
    default_history: tuple[tuple[str, object], ...] = ()  # (since release, default)
    source: str = ""
    note: str = ""
    key: str = field(default="")  # stable logical key shared by renamed options

    def valid_in(self, release: str) -> bool:
        idx = release_index(release)
        if idx < _INDEX[self.since]:
            return False
        return self.until is None or idx < _INDEX[self.until]

    def default_in(self, release: str) -> object:
        idx = release_index(release)
        value = self.default
        for since, default in self.default_history:
            if idx >= _INDEX[since]:
                value = default
        return value


_OM = "oslo.messaging server.py (executor pool); renamed in Liberty"
_IR = "ironic/conf/conductor.py (ironic 39.0.0)"

TABLE: tuple[OptionSpec, ...] = (
    OptionSpec("ironic", "conductor", "max_concurrent_deploy", "integer", 250, minimum=1,
               mutable=True, since="xena", source=_IR, key="max_concurrent_deploy",
               note="counts deploying + wait call-back nodes in the DB (cluster-wide)"),
    OptionSpec("ironic", "conductor", "max_concurrent_clean", "integer", 50, minimum=1,
               mutable=True, since="xena", source=_IR, key="max_concurrent_clean",
               note="counts deleting + cleaning + clean wait nodes in the DB (cluster-wide)"),
    OptionSpec("ironic", "conductor", "max_concurrent_per_conductor_group", "boolean", False,
               mutable=True, since="hibiscus", source=_IR, key="max_concurrent_per_conductor_group",
               note="apply the two limits per conductor group instead of cluster-wide"),
    OptionSpec("ironic", "conductor", "workers_pool_size", "integer", 100, minimum=3,
               mutable=False, default_history=(("dalmatian", 300),), source=_IR,
               key="workers_pool_size", note="per conductor; restart needed"),
    OptionSpec("ironic", "conductor", "sync_power_state_workers", "integer", 8, minimum=1,
               mutable=False, since="newton", source=_IR, key="sync_power_state_workers",
               note="per conductor; threads taken from workers_pool_size"),
    OptionSpec("ironic", "DEFAULT", "executor_thread_pool_size", "integer", 64,
               mutable=False, since="liberty", deprecated_names=(("DEFAULT", "rpc_thread_pool_size"),),
               source=_OM, key="executor_thread_pool_size"),
    OptionSpec("ironic", "DEFAULT", "rpc_thread_pool_size", "integer", 64,
               mutable=False, until="liberty", source=_OM, key="executor_thread_pool_size"),
    OptionSpec("nova", "DEFAULT", "max_concurrent_builds", "integer", 10, minimum=0,
               mutable=False, source="nova/conf/compute.py (nova 34.0.0)", key="max_concurrent_builds",
               note="per nova-compute service; 0 (unlimited) deprecated since 2026.1"),
    OptionSpec("nova", "DEFAULT", "max_concurrent_snapshots", "integer", 5, minimum=0,
               mutable=False, source="nova/conf/compute.py (nova 34.0.0)", key="max_concurrent_snapshots",
               note="per nova-compute service; in native-threading mode (2026.1+) builds and snapshots "
                    "share one executor of max(max_concurrent_builds, max_concurrent_snapshots)"),
    OptionSpec("nova", "DEFAULT", "executor_thread_pool_size", "integer", 64,
               mutable=False, since="liberty", deprecated_names=(("DEFAULT", "rpc_thread_pool_size"),),
               source=_OM, key="executor_thread_pool_size"),
    OptionSpec("nova", "DEFAULT", "rpc_thread_pool_size", "integer", 64,
               mutable=False, until="liberty", source=_OM, key="executor_thread_pool_size"),
)

SERVICES = ("ironic", "nova")


def options_for(service: str, release: str) -> list[OptionSpec]:
    """All table rows of `service` valid in `release` (ReleaseError for an unknown release)."""
    normalize_release(release)
    return [o for o in TABLE if o.service == service and o.valid_in(release)]


def lookup(service: str, release: str, key: str) -> Optional[OptionSpec]:
    """The option carrying logical `key` in `release`, or None when the release lacks it."""
    for spec in options_for(service, release):
        if spec.key == key:
            return spec
    return None
