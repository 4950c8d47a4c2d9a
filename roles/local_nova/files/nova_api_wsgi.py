# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""nova-api under gunicorn: nova's WSGI app parses sys.argv with oslo.config, so gunicorn's own
arguments are hidden from it while it loads (the config dir comes from OS_NOVA_CONFIG_DIR)."""
from __future__ import annotations

import sys

_ARGV = sys.argv
sys.argv = sys.argv[:1]
from nova.wsgi.osapi_compute import application  # noqa: E402  pylint: disable=wrong-import-position

sys.argv = _ARGV
__all__ = ["application"]
