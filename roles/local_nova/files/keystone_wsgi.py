# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Keystone under gunicorn: its WSGI app parses sys.argv, so gunicorn's own arguments are hidden
from it while it loads (keystone.conf is found through OS_KEYSTONE_CONFIG_DIR)."""
from __future__ import annotations

import sys

_ARGV = sys.argv
sys.argv = sys.argv[:1]
from keystone.wsgi.api import application  # noqa: E402  pylint: disable=wrong-import-position

sys.argv = _ARGV
__all__ = ["application"]
