# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Where things are."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
BIN = REPO / ".venv" / "bin"
PYTHON = BIN / "python"
COLLECTIONS = REPO / ".build" / "collections"
MODULES = REPO / "plugins" / "modules"
PLAYBOOKS = REPO / "playbooks"
