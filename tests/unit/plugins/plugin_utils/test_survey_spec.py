# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""AWX surveys from the roles' argument specs: the questions are the role's options, and the answers
AWX sends for them (defaults, choice strings, multiselect lists) pass the role's own validation."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.ironwave.baremetal.plugins.plugin_utils.survey_spec import (
    SurveyError, survey_from_argument_spec)

ROOT = Path(__file__).resolve().parents[4]
ROLES = sorted(p.parent.parent.name for p in ROOT.glob("roles/*/meta/argument_specs.yml"))


def spec_of(role: str) -> dict:
    return yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())


def answers(survey: dict) -> dict:
    """What AWX puts into extra vars when every question keeps its default."""
    out = {}
    for q in survey["spec"]:
        if "default" not in q:
            continue
        out[q["variable"]] = q["default"].split("\n") if q["type"] == "multiselect" else q["default"]
    return out


def test_deploy_role_questions_match_its_options():
    result = survey_from_argument_spec(spec_of("deploy"), "deploy")
    survey, skipped = result["survey_spec"], result["skipped"]
    by_var = {q["variable"]: q for q in survey["spec"]}
    assert survey["name"] == "deploy (main)" and survey["description"].startswith("Reserve a node")
    assert by_var["deploy_limit"] == {
        "variable": "deploy_limit", "question_name": "deploy_limit", "type": "integer", "default": 6,
        "required": False, "question_description": by_var["deploy_limit"]["question_description"]}
    assert "Nodes this role's deploys may keep busy" in by_var["deploy_limit"]["question_description"]
    assert (by_var["deploy_limit_scope"]["type"], by_var["deploy_limit_scope"]["choices"],
            by_var["deploy_limit_scope"]["default"]) == ("multiplechoice", ["run", "cloud"], "run")
    assert (by_var["deploy_limit_per_conductor_group"]["choices"],
            by_var["deploy_limit_per_conductor_group"]["default"]) == (["true", "false"], "false")
    assert (by_var["deploy_phases"]["type"], by_var["deploy_phases"]["default"]) == ("multiselect", "reserve\ndeploy")
    assert by_var["deploy_poll_interval"]["type"] == "float"
    assert "deploy_cloud" in skipped and "extra vars" in skipped["deploy_cloud"]
    assert skipped["deploy_steps"].startswith("type list of dict")
    assert skipped["deploy_global_limit"] == "deprecated"
    options = spec_of("deploy")["argument_specs"]["main"]["options"]
    assert set(by_var) | set(skipped) == set(options), "every option is a question or skipped with a reason"


@pytest.mark.parametrize("role", ROLES)
def test_default_answers_pass_the_roles_validation(role):
    """The values AWX sends for untouched questions are valid for the role (as strings for choices)."""
    options = spec_of(role)["argument_specs"]["main"]["options"]
    survey = survey_from_argument_spec(spec_of(role), role)["survey_spec"]
    for q in survey["spec"]:
        assert q["variable"] in options
        assert set(q) >= {"variable", "question_name", "question_description", "required", "type"}
        if q["type"] in ("multiplechoice", "multiselect") and "default" in q:
            assert set(q["default"].split("\n")) <= set(q["choices"]), q
    given = answers(survey)
    # Required options without a default get an answer from the operator; use their own choices/type.
    for q in survey["spec"]:
        if q["required"] and q["variable"] not in given:
            given[q["variable"]] = (q.get("choices") or ["x"])[0] if q["type"] != "integer" else 1
    result = ArgumentSpecValidator(options).validate(given)
    assert not result.error_messages, result.error_messages


def test_no_log_options_become_password_questions_without_default():
    spec = {"argument_specs": {"main": {"short_description": "s", "options": {
        "bmc_password": {"type": "str", "no_log": True, "default": "hunter2-pw"},
        "token_list": {"type": "list", "no_log": True}}}}}
    result = survey_from_argument_spec(spec, "r")
    (question,) = result["survey_spec"]["spec"]
    assert question["type"] == "password" and "default" not in question
    assert "hunter2-pw" not in repr(result)
    assert "credential" in result["skipped"]["token_list"]


def test_only_and_exclude():
    result = survey_from_argument_spec(spec_of("deploy"), "deploy", only=["deploy_limit_scope", "deploy_limit"],
                                       exclude=["deploy_limit"])
    assert [q["variable"] for q in result["survey_spec"]["spec"]] == ["deploy_limit_scope"]


def test_bad_input_names_the_field_and_the_fix():
    with pytest.raises(SurveyError, match=r"only: \['deploy_limt'\] are not options of deploy.main; choose from"):
        survey_from_argument_spec(spec_of("deploy"), "deploy", only=["deploy_limt"])
    with pytest.raises(SurveyError, match="no 'argument_specs' mapping"):
        survey_from_argument_spec({"main": {}}, "deploy")
    with pytest.raises(SurveyError, match="no entry point 'other'"):
        survey_from_argument_spec(spec_of("deploy"), "deploy", entry_point="other")
