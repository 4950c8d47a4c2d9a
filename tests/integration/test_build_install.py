# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""`ansible-galaxy collection build` + `install` into a clean path: every plugin resolves by FQCN."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
PLUGIN_DIRS = {"modules": "module", "strategy": "strategy", "callback": "callback", "inventory": "inventory",
               "filter": "filter", "lookup": "lookup"}


def _plugins() -> list[tuple[str, str]]:
    """Every plugin by FQCN. A filter/test file may hold several plugins; each is documented by a
    YAML file named after it, so those kinds are listed by their YAML documentation."""
    found = []
    for folder, kind in PLUGIN_DIRS.items():
        pattern = "*.yml" if kind in ("filter", "test") else "*.py"
        for path in sorted((REPO / "plugins" / folder).glob(pattern)):
            if not path.name.startswith("_"):
                found.append((kind, f"ironwave.baremetal.{path.stem}"))
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("galaxy")
    env = dict(os.environ, ANSIBLE_CONFIG=str(work / "none.cfg"), ANSIBLE_COLLECTIONS_PATH=str(work / "collections"),
               ANSIBLE_NOCOLOR="1")
    (work / "none.cfg").write_text("[defaults]\n")
    build = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", str(REPO), "--output-path", str(work)],
                           env=env, capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    tarball = work / f"ironwave-baremetal-{version}.tar.gz"
    assert tarball.exists()
    inst = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", str(tarball), "-p",
                           str(work / "collections")], env=env, capture_output=True, text=True, check=False)
    assert inst.returncode == 0, inst.stdout + inst.stderr
    root = work / "collections" / "ansible_collections" / "ironwave" / "baremetal"
    return env, root, work


def test_tarball_holds_no_local_state(installed):
    _env, root, _work = installed
    for unwanted in (".venv", ".state", ".build", "collections", ".ci"):
        assert not (root / unwanted).exists(), unwanted
    assert (root / "meta" / "runtime.yml").exists() and (root / "roles" / "enroll").exists()


@pytest.mark.parametrize("kind,fqcn", _plugins())
def test_every_plugin_documents_by_fqcn(installed, kind, fqcn):
    env, _root, _work = installed
    proc = subprocess.run([str(BIN / "ansible-doc"), "-t", kind, "--json", fqcn], env=env, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[fqcn]["doc"]["short_description"]


def test_action_group_lists_every_cloud_module(installed):
    _env, root, _work = installed
    group = yaml.safe_load((root / "meta" / "runtime.yml").read_text())["action_groups"]["ironwave"]
    cloud_modules = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py")
                           if "ironwave.baremetal.cloud" in p.read_text())
    assert sorted(group) == cloud_modules


def test_installed_module_and_role_run_by_fqcn(installed):
    """A bad fleet through the installed role fails with the validation error, before any connection."""
    env, _root, work = installed
    play = work / "play.yml"
    play.write_text(yaml.safe_dump([{
        "name": "installed role", "hosts": "localhost", "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "module_defaults": {"group/ironwave.baremetal.ironwave": {"cloud": "no-such-cloud"}},
        "roles": [{"role": "ironwave.baremetal.enroll",
                   "vars": {"enroll_nodes": [{"name": "a", "driver": "fake-hardware", "colour": "red"}]}}],
    }]))
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(play)], env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2, proc.stdout
    assert "unknown field(s) colour" in proc.stdout
    assert "nothing was changed" in proc.stdout
