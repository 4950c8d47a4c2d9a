# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Release hygiene (issue 12): the changelog is antsibull-changelog's (changelogs/ lints, CHANGELOG.rst
is its output, no hand-written CHANGELOG.md), and every module documents the check_mode, diff_mode
and action_group attributes the way its code and meta/runtime.yml say."""
from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.ironwave.baremetal.plugins.doc_fragments import attributes as attributes_fragment
from ansible_collections.ironwave.baremetal.plugins.module_utils.module_base import ModuleBase

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = "ironwave.baremetal"
MODULES = sorted(p.stem for p in (ROOT / "plugins/modules").glob("*.py") if p.stem != "__init__")
SUPPORT = {"full", "partial", "none", "N/A"}
# Where antsibull-changelog lives: the .venv's bin dir (requirements/dev.txt), or IRONWAVE_TOOLS_BIN.
TOOLS_BIN = Path(os.environ.get("IRONWAVE_TOOLS_BIN") or ROOT / ".venv/bin")


def antsibull_changelog() -> str:
    exe = TOOLS_BIN / "antsibull-changelog"
    if not exe.exists():
        pytest.skip(f"antsibull-changelog not installed in {TOOLS_BIN} (requirements/dev.txt pins it; "
                    "or set IRONWAVE_TOOLS_BIN to a bin directory that has it)")
    return str(exe)


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def documentation(name: str) -> dict:
    """The module's own DOCUMENTATION, read without importing it, with the attributes of the
    `ironwave.baremetal.attributes.<preset>` fragments it extends (the descriptions of the plain
    `attributes` fragment are left to ansible-doc)."""
    tree = ast.parse((ROOT / "plugins/modules" / f"{name}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            doc = yaml.safe_load(node.value.value)
            for fragment in doc.get("extends_documentation_fragment") or []:
                if fragment.startswith(f"{COLLECTION}.attributes."):
                    preset = yaml.safe_load(getattr(attributes_fragment.ModuleDocFragment,
                                                    fragment.rsplit(".", 1)[1].upper()))
                    doc["attributes"] = {**preset["attributes"], **(doc.get("attributes") or {})}
            return doc
    raise AssertionError(f"{name}: no DOCUMENTATION")


def declares_check_mode(name: str) -> bool:
    """What the module gives AnsibleModule as supports_check_mode: its ModuleBase subclass's class
    attribute, else a literal supports_check_mode= keyword in its source, else AnsibleModule's False."""
    module = importlib.import_module(f"ansible_collections.ironwave.baremetal.plugins.modules.{name}")
    classes = [c for c in vars(module).values()
               if inspect.isclass(c) and issubclass(c, ModuleBase) and c.__module__ == module.__name__]
    if classes:
        return all(bool(c.supports_check_mode) for c in classes)
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.keyword) and node.arg == "supports_check_mode":
            return bool(ast.literal_eval(node.value))
    return False


def groups_of(name: str) -> list[str]:
    groups = yaml.safe_load((ROOT / "meta/runtime.yml").read_text()).get("action_groups") or {}
    return sorted(f"{COLLECTION}.{group}" for group, members in groups.items()
                  if name in members or f"{COLLECTION}.{name}" in members)


# --- changelog --------------------------------------------------------------------------------------

def test_no_hand_written_changelog():
    assert not (ROOT / "CHANGELOG.md").exists(), "CHANGELOG.md is replaced by changelogs/changelog.yaml"
    assert (ROOT / "changelogs/config.yaml").is_file() and (ROOT / "changelogs/fragments").is_dir()


def test_changelog_lints():
    result = run([antsibull_changelog(), "lint"], ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", f"lint findings: {result.stdout}"


def test_changelog_rst_is_generated_output(tmp_path):
    """CHANGELOG.rst is exactly what `antsibull-changelog generate` writes from changelogs/."""
    shutil.copytree(ROOT / "changelogs", tmp_path / "changelogs")
    shutil.copy(ROOT / "galaxy.yml", tmp_path / "galaxy.yml")
    result = run([antsibull_changelog(), "generate"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    generated = (tmp_path / "CHANGELOG.rst").read_text()
    assert "v0.1.0\n======" in generated
    assert (ROOT / "CHANGELOG.rst").read_text() == generated, \
        "CHANGELOG.rst is stale: run `antsibull-changelog generate` and commit it"


def test_release_0_1_0_is_galaxy_version():
    changes = yaml.safe_load((ROOT / "changelogs/changelog.yaml").read_text())
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert "0.1.0" in changes["releases"]
    assert galaxy["version"] in changes["releases"] or any(
        (ROOT / "changelogs/fragments").glob("*.yml")), "the galaxy version is released or has fragments"


def _version_added() -> dict[tuple[str, str], str]:
    """(kind, name) -> version_added of every plugin, read from its documentation without importing it."""
    found: dict[tuple[str, str], str] = {}
    for kind in ("modules", "callback", "strategy", "inventory"):
        for path in sorted((ROOT / "plugins" / kind).glob("*.py")):
            if path.stem.startswith("_"):
                continue
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
                    found[(kind, path.stem)] = str(yaml.safe_load(node.value.value).get("version_added"))
    for path in sorted((ROOT / "plugins/filter").glob("*.yml")):
        found[("filter", path.stem)] = str(yaml.safe_load(path.read_text())["DOCUMENTATION"].get("version_added"))
    return found


def test_version_added_is_the_release_that_brought_the_plugin():
    """A plugin listed in a release of changelogs/changelog.yaml says that release; any other plugin
    is new in the coming one, galaxy.yml's version (which has not been released yet)."""
    changes = yaml.safe_load((ROOT / "changelogs/changelog.yaml").read_text())
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    assert galaxy not in changes["releases"] or not any((ROOT / "changelogs/fragments").glob("*.yml")), \
        "galaxy.yml names a released version while fragments wait: bump it to the coming release"
    released: dict[tuple[str, str], str] = {}
    for version, release in changes["releases"].items():
        for entry in release.get("modules") or []:
            released[("modules", entry["name"])] = version
        for kind, entries in (release.get("plugins") or {}).items():
            for entry in entries:
                released[(kind, entry["name"])] = version
    found = _version_added()
    assert ("modules", "node_deploy") in found and ("inventory", "ironic") in found
    for key, version in sorted(found.items()):
        assert version == released.get(key, galaxy), f"{key[0]}/{key[1]}: version_added {version}, " \
            f"expected {released.get(key, galaxy)}"


# --- module attributes ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MODULES)
def test_module_documents_attributes(name):
    doc = documentation(name)
    assert f"{COLLECTION}.attributes" in (doc.get("extends_documentation_fragment") or [])
    attributes = doc.get("attributes") or {}
    for attribute in ("check_mode", "diff_mode", "action_group"):
        assert attribute in attributes, f"{name}: attributes.{attribute} missing"
        assert attributes[attribute].get("support") in SUPPORT, f"{name}: {attribute}.support"
    for attribute in ("check_mode", "diff_mode"):
        if attributes[attribute]["support"] in ("partial", "N/A"):
            assert attributes[attribute].get("details"), f"{name}: {attribute} needs details"


@pytest.mark.parametrize("name", MODULES)
def test_check_mode_attribute_matches_code(name):
    support = documentation(name)["attributes"]["check_mode"]["support"]
    if declares_check_mode(name):
        assert support in ("full", "partial"), f"{name} supports check mode, its docs say {support!r}"
    else:
        assert support == "none", f"{name} declares no check mode support, its docs say {support!r}"


@pytest.mark.parametrize("name", MODULES)
def test_action_group_attribute_matches_runtime(name):
    group = documentation(name)["attributes"]["action_group"]
    expected = groups_of(name)
    assert sorted(group.get("membership") or []) == expected
    assert group["support"] == ("full" if expected else "none")


def test_ansible_doc_renders_attributes(tmp_path):
    """ansible-doc merges the fragment's descriptions with each module's support values."""
    link = tmp_path / "ansible_collections" / "ironwave" / "baremetal"
    link.parent.mkdir(parents=True)
    link.symlink_to(ROOT)
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")   # not the repo's ansible.cfg
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(tmp_path), "ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg"),
           "ANSIBLE_NOCOLOR": "1"}
    ansible_doc = str(Path(sys.executable).parent / "ansible-doc")
    result = subprocess.run([ansible_doc, "--json", "-t", "module", *(f"{COLLECTION}.{m}" for m in MODULES)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    docs = json.loads(result.stdout)
    assert sorted(docs) == [f"{COLLECTION}.{m}" for m in MODULES]
    for fqcn, entry in docs.items():
        attributes = entry["doc"]["attributes"]
        own = documentation(fqcn.rsplit(".", 1)[1])["attributes"]
        for attribute in ("check_mode", "diff_mode", "action_group"):
            assert attributes[attribute]["description"], f"{fqcn}: {attribute} lost the fragment's description"
            assert attributes[attribute]["support"] == own[attribute]["support"]
