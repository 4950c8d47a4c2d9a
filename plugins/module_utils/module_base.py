# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The base class of every module of the collection: argument spec, secrets masked from the
moment parameters are read, and the one place where errors become a failed task.

A module subclasses it (cloud modules subclass openstack_cloud.IronwaveModule, which adds the
cloud options, the connection and the Ironic client), sets `argument_spec` / `module_kwargs` and
implements `run()`, which returns the result or raises errors.IronwaveError."""
from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors


class ModuleBase:
    argument_spec: dict = {}
    module_kwargs: dict = {}
    supports_check_mode = True
    # Swapped by plugins/plugin_utils/in_worker.py when the module runs inside the Ansible worker.
    ansible_module_class: type = AnsibleModule

    @classmethod
    def full_argument_spec(cls) -> dict:
        return dict(cls.argument_spec)

    @classmethod
    def secrets_in(cls, params: dict) -> set[str]:
        """Secret values inside raw parameters that a per-option no_log does not cover."""
        return set()

    def __init__(self) -> None:
        secrets = type(self).secrets_in

        class _Masking(self.ansible_module_class):  # type: ignore[name-defined,misc]
            """Register the secrets as soon as params are read, before validation can fail and
            print them: AnsibleModule sets no_log_values before _load_params and only adds to it."""

            def _load_params(self):
                super()._load_params()
                self.no_log_values.update(secrets(self.params if isinstance(self.params, dict) else {}))

        self.ansible = _Masking(argument_spec=self.full_argument_spec(),
                                supports_check_mode=self.supports_check_mode, **self.module_kwargs)
        self.params = self.ansible.params

    def run(self) -> dict | None:  # pragma: no cover - abstract
        """Do the work; return the result (the base class exits with it) or raise IronwaveError."""
        raise NotImplementedError

    def result_extra(self) -> dict:
        """Keys every result of this module carries (success and failure), e.g. timings."""
        return {}

    def common_result(self) -> dict:
        return self.result_extra()

    def unexpected(self, exc: Exception) -> None:
        """Turn a known foreign exception into a failure (cloud modules: SDK errors); else return."""

    def __call__(self) -> None:
        """The only place that turns errors into a failed task."""
        try:
            result = self.run()
        except errors.IronwaveError as exc:
            self.ansible.fail_json(**{**self.common_result(), **exc.as_result()})
        except Exception as exc:  # noqa: BLE001 - known kinds become a failure, the rest a traceback
            self.unexpected(exc)
            raise
        if result is not None:
            self.ansible.exit_json(**{**self.common_result(), **result})
