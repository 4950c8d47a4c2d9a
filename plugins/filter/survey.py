# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Filter `ironwave.baremetal.survey_spec`: an AWX job template survey from a role's argument spec.
The decisions live in plugins/plugin_utils/survey_spec.py; this file only adapts them to Ansible."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.ironwave.baremetal.plugins.plugin_utils.survey_spec import (
    SurveyError, survey_from_argument_spec)


def survey_spec(argument_spec, role, entry_point="main", only=None, exclude=None):
    try:
        return survey_from_argument_spec(argument_spec, str(role), str(entry_point), only, exclude or ())
    except SurveyError as exc:
        raise AnsibleFilterError(f"survey_spec: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"survey_spec": survey_spec}
