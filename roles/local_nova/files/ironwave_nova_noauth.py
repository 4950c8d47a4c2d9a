# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Test-only paste filter in place of keystonemiddleware's authtoken for nova-api (nova 34 has no
noauth2). X-Auth-Token "user:project" selects that user/project; any other token (keystoneauth's
auth_type=none sends "notused") means admin:admin. It trusts every caller: local use only."""
from __future__ import annotations

import webob.dec
from nova.api import wsgi


class NoAuth(wsgi.Middleware):
    @webob.dec.wsgify(RequestClass=wsgi.Request)
    def __call__(self, req):
        token = req.headers.get("X-Auth-Token") or ""
        if ":" not in token:
            token = "admin:admin"
        user_id, _sep, project_id = token.partition(":")
        project_id = project_id or user_id
        if "X-Roles" not in req.headers:
            req.headers["X-Roles"] = "admin,member,reader" if user_id == "admin" else "member,reader"
        req.headers["X-User-Id"] = user_id
        req.headers["X-Project-Id"] = project_id
        req.headers["X-Auth-Token"] = token
        return self.application
