# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import ini_config as ini

SAMPLE = """# ironic.conf managed by hand
[DEFAULT]
host = cond-1
; odd comment style
rpc_thread_pool_size=64
enabled_hardware_types = ipmi,
    redfish

[conductor]
# The maximum number of concurrent nodes in deployment (integer value)
#max_concurrent_deploy = 250

automated_clean = true
some_unknown_line_without_separator

[database]
connection = mysql+pymysql://ironic:secret@db/ironic
"""


def test_round_trip_untouched():
    assert ini.IniDocument(SAMPLE).render() == SAMPLE
    text, changes = ini.apply_options(SAMPLE, {"conductor": {"automated_clean": "true"}})
    assert text == SAMPLE and changes == []


def test_set_existing_keeps_everything_else_and_spacing():
    text, changes = ini.apply_options(SAMPLE, {"DEFAULT": {"rpc_thread_pool_size": "4"}})
    assert changes == [ini.Change("DEFAULT", "rpc_thread_pool_size", "64", "4")]
    assert "rpc_thread_pool_size=4\n" in text
    assert text.replace("rpc_thread_pool_size=4", "rpc_thread_pool_size=64") == SAMPLE


def test_new_option_goes_after_its_commented_sample_line():
    text, changes = ini.apply_options(SAMPLE, {"conductor": {"max_concurrent_deploy": "12"}})
    assert changes[0].before is None
    assert "#max_concurrent_deploy = 250\nmax_concurrent_deploy = 12\n\nautomated_clean" in text
    # everything else byte for byte
    assert text.replace("max_concurrent_deploy = 12\n", "", 1) == SAMPLE
    again, changes = ini.apply_options(text, {"conductor": {"max_concurrent_deploy": "12"}})
    assert again == text and changes == []


def test_new_option_without_sample_goes_after_last_option():
    text, _ignored = ini.apply_options(SAMPLE, {"database": {"max_retries": "5"}})
    assert text.endswith("connection = mysql+pymysql://ironic:secret@db/ironic\nmax_retries = 5\n")


def test_new_section_appended_with_blank_line():
    text, _ignored = ini.apply_options("[DEFAULT]\nhost = a", {"fake": {"deploy_delay": "2"}})
    assert text == "[DEFAULT]\nhost = a\n\n[fake]\ndeploy_delay = 2\n"


def test_continuation_lines_replaced_and_read():
    doc = ini.IniDocument(SAMPLE)
    assert doc.get("DEFAULT", "enabled_hardware_types") == "ipmi,\nredfish"
    text, _ignored = ini.apply_options(SAMPLE, {"DEFAULT": {"enabled_hardware_types": "fake-hardware"}})
    assert "enabled_hardware_types = fake-hardware\n; odd" not in text
    assert "    redfish" not in text and "enabled_hardware_types = fake-hardware\n\n[conductor]" in text


def test_last_occurrence_wins_across_repeated_sections():
    text = "[conductor]\nmax_concurrent_deploy = 1\n[api]\nport = 1\n[conductor]\nmax_concurrent_deploy = 5\n"
    doc = ini.IniDocument(text)
    assert doc.get("conductor", "max_concurrent_deploy") == "5"
    new, changes = ini.apply_options(text, {"conductor": {"max_concurrent_deploy": "9"}})
    assert changes[0].before == "5"
    assert new == text.replace("= 5", "= 9")


def test_alias_line_is_updated_instead_of_duplicated():
    text, changes = ini.apply_options(SAMPLE, {"DEFAULT": {"executor_thread_pool_size": "128"}},
                                      aliases={("DEFAULT", "executor_thread_pool_size"): ["rpc_thread_pool_size"]})
    assert changes == [ini.Change("DEFAULT", "rpc_thread_pool_size", "64", "128")]
    assert "executor_thread_pool_size" not in text and "rpc_thread_pool_size=128" in text


def test_custom_equality_avoids_spurious_change():
    text = "[conductor]\nautomated_clean = True\n"
    new, changes = ini.apply_options(text, {"conductor": {"automated_clean": "true"}},
                                     equal=lambda s, k, a, b: a.lower() == b.lower())
    assert new == text and not changes


def test_crlf_and_empty_file():
    text, _ignored = ini.apply_options("[DEFAULT]\r\nhost = a\r\n", {"DEFAULT": {"debug": "true"}})
    assert text == "[DEFAULT]\r\nhost = a\r\ndebug = true\r\n"
    text, _ignored = ini.apply_options("", {"DEFAULT": {"debug": "true"}})
    assert text == "[DEFAULT]\ndebug = true\n"


def test_line_break_in_value_is_refused():
    with pytest.raises(ValueError, match="line break"):
        ini.apply_options(SAMPLE, {"DEFAULT": {"host": "a\nb"}})
