# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The execution environment (execution-environment.yml) without a container engine.

`ansible-builder create` writes the build context of the repository's definition (with the
collection tarball of `ansible-galaxy collection build`). Its build steps are then replayed in a
clean venv (`python -m venv`, nothing from .venv): the base stage's ansible-core/ansible-runner,
the galaxy stage's `ansible-galaxy ... install -r requirements.yml` run in `_build` (installing the
collection from the tarball in the context), the builder stage's introspect.py over the installed
collection, pip of the requirements it writes, bindep on the bindep file it writes, and the final
stage's check_ansible. Proved:
- the definition's ansible-core/ansible-runner pins are requirements/dev.txt's, its python
  interpreter is what bindep.txt names for RPM platforms, and its galaxy requirement is the
  tarball of galaxy.yml's version;
- the context holds that tarball, the collection's Python requirements (openstacksdk, jmespath)
  and bindep.txt, and its galaxy requirements install the collection;
- introspection finds the collection's own requirements through meta/execution-environment.yml;
  they install from wheels only (bindep.txt lists no compiler), and bindep parses the merged file;
- that Ansible, with ANSIBLE_COLLECTIONS_PATH only at the installed copy, renders every plugin
  (`ansible-doc`) and every role (`ansible-doc -t role`) without a warning or error.
The image build itself (`ansible-builder build`) needs podman or docker and is not run here.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ironwave_testlib.paths import BIN, REPO

# The .venv's ansible-builder (requirements/dev.txt); IRONWAVE_BUILDER names another one.
BUILDER = Path(os.environ.get("IRONWAVE_BUILDER", BIN / "ansible-builder"))
COLLECTION = "ironwave.baremetal"
VERSION = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
TARBALL = f"ironwave-baremetal-{VERSION}.tar.gz"
DEFINITION = yaml.safe_load((REPO / "execution-environment.yml").read_text())
# plugins/<folder> -> ansible-doc type. Filter files may hold several plugins, each documented by
# a YAML file of its name, so filters are listed by those files.
PLUGIN_DIRS = {"modules": "module", "strategy": "strategy", "callback": "callback", "inventory": "inventory",
               "filter": "filter"}

pytestmark = pytest.mark.skipif(not BUILDER.is_file(), reason=f"no ansible-builder at {BUILDER} "
                                "(requirements/dev.txt installs it into .venv)")


def _plugins() -> list[tuple[str, str]]:
    found = []
    for folder, kind in PLUGIN_DIRS.items():
        pattern = "*.yml" if kind == "filter" else "*.py"
        for path in sorted((REPO / "plugins" / folder).glob(pattern)):
            if not path.name.startswith("_"):
                found.append((kind, f"{COLLECTION}.{path.stem}"))
    return found


def _roles() -> list[str]:
    return sorted(f"{COLLECTION}.{p.name}" for p in (REPO / "roles").iterdir() if (p / "meta").is_dir())


def _dev_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements" / "dev.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def _names(requirements: str) -> set[str]:
    """Distribution names of a pip requirements text (comments and blank lines skipped)."""
    found = set()
    for line in requirements.splitlines():
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#", 1)[0])
        if match:
            found.add(match.group(1).lower())
    return found


def _run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False, **kwargs)
    assert proc.returncode == 0, f"{cmd}: rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@dataclass
class Built:
    context: Path        # what `ansible-builder create` wrote
    venv: Path           # the clean venv the build steps were replayed in
    collections: Path    # where the galaxy stage installed the collection
    introspected: str    # introspect.py's report (YAML)
    src: Path            # the requirements.txt/bindep.txt introspect.py wrote
    env: dict            # for running the venv's Ansible against `collections` only


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    work = tmp_path_factory.mktemp("ee")
    # The definition's directory as additional_build_files expects it: the files it references,
    # and the tarball under .build/ee/ (build_ignore keeps .build and tarballs out of it).
    project = work / "project"
    (project / ".build" / "ee").mkdir(parents=True)
    for name in ("execution-environment.yml", DEFINITION["dependencies"]["python"],
                 DEFINITION["dependencies"]["system"]):
        shutil.copy(REPO / name, project / name)
    _run([BIN / "ansible-galaxy", "collection", "build", REPO, "--output-path", project / ".build" / "ee"],
         cwd=work)
    context = work / "context"
    _run([BUILDER, "create", "-f", project / "execution-environment.yml", "-c", context,
          "--output-filename", "Containerfile"], cwd=work)

    venv = work / "venv"
    _run([sys.executable, "-m", "venv", venv])
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "--only-binary", ":all:"]
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="(.*)"$', (context / "Containerfile").read_text(), re.M)
    assert refs, "no ansible-core/ansible-runner in the Containerfile"
    _run(pip + refs.group(1).split())                          # base stage
    _run(pip + ["bindep", "pyyaml", "packaging"])               # builder stage's own tools

    build = context / "_build"
    collections = work / "share" / "collections"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    (work / "empty.cfg").write_text("[defaults]\n")
    env.update(ANSIBLE_CONFIG=str(work / "empty.cfg"), ANSIBLE_HOME=str(work / "ansible-home"),
               ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_NOCOLOR="1", PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    galaxy = venv / "bin" / "ansible-galaxy"                    # galaxy stage, in /build = _build
    _run([galaxy, "role", "install", "-r", "requirements.yml", "--roles-path", work / "share" / "roles"],
         cwd=build, env=env)
    _run([galaxy, "collection", "install", "-r", "requirements.yml", "--collections-path", collections],
         cwd=build, env=dict(env, ANSIBLE_GALAXY_DISABLE_GPG_VERIFY="1"))

    src = work / "src"                                          # builder stage: introspect + assemble
    report = _run([venv / "bin" / "python", build / "scripts" / "introspect.py", "introspect", collections,
                   "--user-pip=requirements.txt", "--user-bindep=bindep.txt",
                   f"--write-bindep={src / 'bindep.txt'}", f"--write-pip={src / 'requirements.txt'}"],
                  cwd=build, env=env)
    _run(pip + ["-r", src / "requirements.txt"])
    _run([build / "scripts" / "check_ansible", venv / "bin" / "python"], env=env)   # final stage
    return Built(context, venv, collections, report.stdout, src, env)


def test_definition_pins_and_names_match_the_repository():
    pins = _dev_pins()
    deps = DEFINITION["dependencies"]
    assert DEFINITION["version"] == 3
    assert deps["ansible_core"]["package_pip"] == f"ansible-core=={pins['ansible-core']}"
    assert deps["ansible_runner"]["package_pip"] == f"ansible-runner=={pins['ansible-runner']}"
    assert deps["galaxy"]["collections"] == [{"name": f"collections/{TARBALL}", "type": "file"}]
    meta = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text())
    assert meta["dependencies"] == {"python": deps["python"], "system": deps["system"]}


def test_context_holds_collection_tarball_and_requirements(built):
    build = built.context / "_build"
    assert (build / "collections" / TARBALL).is_file()
    assert {"openstacksdk", "jmespath"} <= _names((build / "requirements.txt").read_text())
    assert (build / "bindep.txt").read_text() == (REPO / "bindep.txt").read_text()
    containerfile = (built.context / "Containerfile").read_text()
    assert f'ARG EE_BASE_IMAGE="{DEFINITION["images"]["base_image"]["name"]}"' in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" \
        in containerfile


def test_introspection_reads_the_collections_own_requirements(built):
    report = yaml.safe_load(built.introspected)
    mark = f"# from collection {COLLECTION}"
    ours = {kind: [line.split("#", 1)[0].strip() for line in report[kind] if line.endswith(mark)]
            for kind in ("python", "system")}
    assert {"openstacksdk", "jmespath"} <= _names("\n".join(ours["python"]))
    assert ours["system"] == [line for line in (REPO / "bindep.txt").read_text().splitlines()
                              if line and not line.startswith("#")]
    assert {"openstacksdk", "jmespath"} <= _names((built.src / "requirements.txt").read_text())


def test_bindep_names_only_the_interpreter(built):
    python = built.venv / "bin" / "python"
    listed = _run([built.venv / "bin" / "bindep", "-l", "newline", "-f", built.src / "bindep.txt"])
    # As assemble runs it: parses, and names the interpreter package of this host's platform.
    assert set(listed.stdout.split()) in ({"python3.11"}, {"python3"})
    per_platform = _run([python, "-c", (
        "import sys\nfrom bindep.depends import Depends\n"
        "deps = Depends(open(sys.argv[1]).read())\n"
        "for profiles in (['default', 'platform:rpm', 'platform:redhat'], ['default', 'platform:dpkg']):\n"
        "    print(' '.join(sorted({rule[0] for rule in deps.active_rules(profiles)})))\n"), built.src / "bindep.txt"])
    rpm, dpkg = per_platform.stdout.splitlines()
    assert rpm == DEFINITION["dependencies"]["python_interpreter"]["package_system"]
    assert dpkg == "python3"


def _doc(built: Built, args: list[str], name: str) -> str:
    proc = _run([built.venv / "bin" / "ansible-doc", *args, name], cwd=built.venv.parent, env=built.env)
    out = proc.stdout + proc.stderr
    assert not re.search(r"\[(WARNING|ERROR|DEPRECATION WARNING)\]|ERROR!", out), out
    # Python warnings are allowed only when they are not about the collection: with the newest
    # cryptography, ansible-core's own ssh-agent module warns about DSA on every command.
    about_us = [line for line in proc.stderr.splitlines()
                if re.search(r"warning|error", line, re.I) and ("ironwave" in line or name in line)]
    assert not about_us, proc.stderr
    assert name in proc.stdout
    # Rendered from the installed copy, not from the repository.
    assert str(built.collections / "ansible_collections" / "ironwave" / "baremetal") in proc.stdout
    return proc.stdout


@pytest.mark.parametrize("kind,fqcn", _plugins())
def test_every_plugin_renders_from_the_ee_collection(built, kind, fqcn):
    _doc(built, ["-t", kind], fqcn)


@pytest.mark.parametrize("role", _roles())
def test_every_role_renders_from_the_ee_collection(built, role):
    out = _doc(built, ["-t", "role"], role)
    specs = yaml.safe_load((REPO / "roles" / role.rsplit(".", 1)[1] / "meta" / "argument_specs.yml").read_text())
    for entry_point in specs["argument_specs"]:
        assert re.search(rf"^ENTRY POINT: \W*{entry_point}\W", out, re.M), entry_point
