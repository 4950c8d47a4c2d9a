# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The one test helper package of ironwave.baremetal, used by every integration test and the
benchmarks (tests/conftest.py and tests/benchmarks/*.py put tests/lib on sys.path):

- paths: where the repository, its venv and the built collection tree are.
- playbook: run ansible-playbook from the repo's venv (extra vars as JSON) and read its recap.
- local_ironic: a real local Ironic started/stopped through playbooks/local_ironic.yml.
- ironic_log: what Ironic's own log says - requests (method, path, status, time), state changes,
  mutating requests since a mark, peak busy nodes replayed from state changes.
- module_runner: run one module file as a process with ANSIBLE_MODULE_ARGS (as Ansible ships it).
"""
