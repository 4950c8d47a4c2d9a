# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  cloud:
    description:
      - Name of a cloud in C(clouds.yaml), or a dict with a whole cloud configuration.
      - When omitted, C(OS_CLOUD) is used; when that is unset and the C(clouds.yaml) found via
        C(OS_CLIENT_CONFIG_FILE) holds exactly one cloud (as AWX writes it), that cloud is used.
      - The local Ironic started by the P(ironwave.baremetal.local_ironic#role) role is C(ironwave-local).
    type: raw
  auth:
    description:
      - Authentication parameters (C(auth_url), C(username), C(password), C(project_name), ...).
    type: dict
  auth_type:
    description:
      - Name of the keystoneauth plugin, for example C(password), C(v3applicationcredential) or C(none).
    type: str
  region_name:
    description: Region of the cloud.
    type: str
  interface:
    description: Endpoint interface to use.
    type: str
    default: public
    choices: [admin, internal, public]
    aliases: [endpoint_type]
  validate_certs:
    description: Whether to verify TLS certificates (defaults to the cloud's configuration).
    type: bool
    aliases: [verify]
  ca_cert:
    description: Path to a CA bundle to verify TLS with.
    type: str
    aliases: [cacert]
  client_cert:
    description: Path to a client certificate for TLS.
    type: str
    aliases: [cert]
  client_key:
    description: Path to the client certificate's key.
    type: str
    aliases: [key]
  api_timeout:
    description: Timeout in seconds for each API request.
    type: int
  baremetal_api_version:
    description:
      - Bare metal API microversion to request, for example C(1.95). Default is negotiated.
    type: str
  baremetal_endpoint_override:
    description:
      - Bare metal API endpoint to use instead of the service catalog (standalone Ironic).
    type: str
  run_guard:
    description:
      - Filled by the collection's action plugins (do not set it yourself) - which C(ansible-playbook)
        process runs this task (PID and start time) and the file where its wave strategy publishes
        a lowered busy limit or a halt. A task whose run is gone (killed) or halted stops before it
        sends a mutating request.
    type: dict
  outage_budget:
    description:
      - Seconds the bare metal API may stay unreachable in a row (connection refused or dropped,
        HTTP 502/503/504 from a proxy - an API restart, a load-balancer failover) before the task
        fails with an error naming the endpoint. Requests are retried with bounded, jittered
        backoff (at most 5 s apart) meanwhile; a read that meets a dropped keep-alive connection
        is simply sent again.
      - A request that may have taken effect before its connection dropped is sent again only when
        repeating it is safe (reads, PUT/PATCH of a given state); otherwise the module re-reads
        what the first attempt may have done (for example an allocation by its name).
    type: int
    default: 180
requirements:
  - python >= 3.9
  - openstacksdk >= 1.0.0
notes:
  - openstacksdk's blanket retries of HTTP 409/503 are switched off; the collection retries
    C(NodeLocked) with jittered backoff, never retries C(NodeAssociated), treats
    C(ConcurrentActionLimit)/C(NoFreeConductorWorker) as backpressure and rides out connection
    errors up to O(outage_budget).
"""
