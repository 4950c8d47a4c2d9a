# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The built tarball holds the collection only, and galaxy-importer (what Galaxy and Automation Hub
run on an upload) imports it without an error or a warning of ours.

galaxy-importer runs `ansible-doc` and `ansible-lint` (production profile, offline) from PATH; the
ansible-test container run is off. IRONWAVE_GALAXY_IMPORTER_PYTHON points at another Python with
galaxy-importer (development only; the default is the checkout's .venv)."""
from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from ironwave_testlib.paths import BIN, PYTHON, REPO

IMPORTER_PYTHON = Path(os.environ.get("IRONWAVE_GALAXY_IMPORTER_PYTHON", str(PYTHON)))
ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "tasks").is_dir())
# Warnings galaxy-importer logs about files of the collection that are known and accepted.
# tests/sanity/ignore-*.txt: ansible-test sanity ignores, each one justified in the file.
ACCEPTED_WARNINGS = ("WARNING: Ignore files skip ansible-test sanity tests, found ignore-",)
IMPORTER_CONFIG = """[galaxy-importer]
run_ansible_test = False
ansible_test_local_image = False
local_image_docker = False
run_ansible_doc = True
run_ansible_lint = True
offline_ansible_lint = True
check_changelog = True
ansible_local_tmp = {tmp}
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path, dict]:
    """`ansible-galaxy collection build` of the checkout into a temp dir, outside any ansible.cfg."""
    work = tmp_path_factory.mktemp("galaxy-import")
    (work / "none.cfg").write_text("[defaults]\n")
    env = dict(os.environ, ANSIBLE_CONFIG=str(work / "none.cfg"), ANSIBLE_NOCOLOR="1")
    build = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(work)],
                           cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=120)
    assert build.returncode == 0, build.stdout + build.stderr
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    tarball = work / f"ironwave-baremetal-{version}.tar.gz"
    assert tarball.is_file(), build.stdout
    return work, tarball, env


@pytest.fixture(scope="module")
def members(built) -> list[str]:
    _work, tarball, _env = built
    with tarfile.open(tarball) as tar:
        return [m.name.removeprefix("./") for m in tar.getmembers()]


def test_tarball_leaves_out_checkout_tooling_and_dotfiles(members):
    unwanted = [name for name in members
                if name in ("Makefile", "ansible.cfg", "requirements")
                or name.startswith(("requirements/", "tests/benchmarks/", "tests/unit/benchmarks/",
                                    "collections/", "reports/"))
                or any(part.startswith(".") for part in name.split("/"))]
    assert unwanted == []
    # The collection's own Python requirements stay (execution environments read them).
    assert "requirements.txt" in members


def test_tarball_holds_license_readmes_and_runtime(built, members):
    _work, tarball, _env = built
    wanted = ["LICENSE", "README.md", "meta/runtime.yml", "playbooks/deploy.yml",
              *(f"roles/{role}/README.md" for role in ROLES)]
    assert [name for name in wanted if name not in members] == []
    with tarfile.open(tarball) as tar:
        license_text = tar.extractfile("LICENSE").read().decode()
    assert license_text == (REPO / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text


@pytest.fixture(scope="module")
def imported(built) -> tuple[subprocess.CompletedProcess, dict]:
    """galaxy-importer on the tarball, with its ansible-doc and ansible-lint from the same venv."""
    work, tarball, env = built
    if not IMPORTER_PYTHON.is_file():
        pytest.fail(f"{IMPORTER_PYTHON} missing: galaxy-importer comes with requirements/dev.txt (make venv)")
    config = work / "galaxy-importer.cfg"
    config.write_text(IMPORTER_CONFIG.format(tmp=work / "ansible-tmp"))
    env = dict(env, GALAXY_IMPORTER_CONFIG=str(config),
               PATH=f"{IMPORTER_PYTHON.parent}{os.pathsep}{env.get('PATH', '')}")
    proc = subprocess.run([str(IMPORTER_PYTHON), "-m", "galaxy_importer.main", tarball.name], cwd=work, env=env,
                          capture_output=True, text=True, check=False, timeout=600)
    result_file = work / "importer_result.json"  # written to the current directory
    result = json.loads(result_file.read_text()) if result_file.is_file() else {}
    return proc, result


def test_galaxy_importer_passes_without_errors_or_warnings(imported):
    proc, result = imported
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Importer processing completed successfully" in proc.stdout, output
    assert "Linting collection via ansible-lint" in proc.stdout, output
    problems = [line for line in output.splitlines()
                if line.startswith(("ERROR", "WARNING", "CRITICAL", "Traceback"))
                and not line.startswith(ACCEPTED_WARNINGS)]
    assert problems == [], output
    assert result["metadata"]["name"] == "baremetal" and result["metadata"]["license"] == ["Apache-2.0"]


def test_galaxy_importer_shows_every_role_readme_and_plugin_doc(imported):
    _proc, result = imported
    docs = result["docs_blob"]
    assert "Requirements" in docs["collection_readme"]["html"]
    readmes = {c["content_name"]: c["readme_html"] for c in docs["contents"] if c["content_type"] == "role"}
    assert sorted(readmes) == ROLES
    assert [role for role, html in readmes.items() if f"ironwave.baremetal.{role}" not in (html or "")] == []
    documented = {"module", "strategy", "callback", "inventory"}
    undocumented = [f"{c['content_type']} {c['content_name']}" for c in docs["contents"]
                    if c["content_type"] in documented and not c["doc_strings"]]
    assert undocumented == []
