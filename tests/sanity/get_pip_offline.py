"""Offline stand-in for pip's get-pip.py bootstrap that ansible-test downloads.

ansible-test runs this as `python get_pip.py <options> pip==X ...` inside an empty venv with a filtered
environment. ensurepip provides a pip from the Python installation; the outer environment's pip
settings (index, certificate bundle), saved by tests/sanity.sh next to this file, become the venv's
site pip.conf so that pip, and every later install into this venv, reaches the same package index.
"""
import ensurepip
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SAVED = os.path.join(HERE, "ironwave-pip.conf")
if os.path.exists(SAVED):
    shutil.copy(SAVED, os.path.join(sys.prefix, "pip.conf"))

ensurepip.bootstrap(upgrade=True)
# get-pip.py's own flags, which pip install does not know.
ARGS = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
# ensurepip sets PIP_CONFIG_FILE=/dev/null in our environment; the venv's pip.conf must count.
ENV = {k: v for k, v in os.environ.items() if k not in ("PIP_CONFIG_FILE", "ENSUREPIP_OPTIONS")}
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--quiet"] + ARGS, env=ENV))
