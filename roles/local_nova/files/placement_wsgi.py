# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Placement under gunicorn: its WSGI app parses sys.argv, so gunicorn's own arguments are hidden
from it while it loads (the config dir comes from OS_PLACEMENT_CONFIG_DIR)."""
from __future__ import annotations

import sys

_ARGV = sys.argv
sys.argv = sys.argv[:1]
from placement.wsgi.api import application  # noqa: E402  pylint: disable=wrong-import-position

sys.argv = _ARGV
__all__ = ["application"]
