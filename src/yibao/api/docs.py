"""The interactive documentation, served offline, and what the OpenAPI declares beyond
the routes.

- ``/docs``: Swagger UI and ``/redoc``: ReDoc, their scripts and stylesheets served by
  this application from the ``fastapi-offline`` package (``/docs/assets/…``): a machine
  without internet shows them (FastAPI's own pages load them from a CDN).
- ``/docs/try-it.js`` (api/static/try-it.js) starts Swagger UI with a request interceptor
  that signs a /channel/v1 request with the secret typed in Authorize (WebCrypto
  HMAC-SHA256; docs/channel-api.md, "Trying it in /docs").
- The OpenAPI gets the security schemes (the operators' bearer token on every /admin/v1
  route, the channel's signature headers: api/channel_docs.py), the channel tag with its
  worked example, and the Problem schema (api/problems.py) as the body of every error
  answer of the REST routes.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from yibao.api import channel_docs, mpc, paynotify, problems, service_paths
from yibao.api.admin import PREFIX as ADMIN_PREFIX

ASSETS = "/docs/assets"  # swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js
SIGNER = "/docs/try-it.js"
OPERATOR_SCHEME = "OperatorToken"
SECURITY_SCHEMES: dict[str, Any] = {
    OPERATOR_SCHEME: {
        "type": "http", "scheme": "bearer",
        "description": "An operator's token (`yibao operators add`, docs/security.md); the "
        "demo's: `demo-` + the operator's name (demo-clerk, demo-reviewer, demo-approver, "
        "demo-finance, demo-auditor, demo-admin). Without it: 401 E-ADM-002."},
    **channel_docs.SECURITY_SCHEMES,
}
# the routes whose errors follow a standard of their own, not problem details
OWN_FORMATS = (service_paths.PREFIX, mpc.PREFIX, *paynotify.PATHS.values())
PROBLEM_CONTENT = {problems.MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
FASTAPI_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")


def assets() -> Path:
    """Swagger UI's and ReDoc's files as the fastapi-offline package ships them."""
    return Path(fastapi_offline.__file__).parent / "static"


def signer() -> bytes:
    return resources.files("yibao.api").joinpath("static/try-it.js").read_bytes()


def swagger_page(root: str, title: str) -> str:
    """Swagger UI's page: every script and stylesheet from this application."""
    base = html.escape(root)
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} - Swagger UI</title>\n"
        f'<link rel="stylesheet" href="{base}{ASSETS}/swagger-ui.css">\n'
        f'<link rel="icon" href="{base}{ASSETS}/favicon.png"></head>\n'
        f'<body><div id="swagger-ui"></div>\n'
        f'<script src="{base}{ASSETS}/swagger-ui-bundle.js"></script>\n'
        f'<script src="{base}{SIGNER}" data-openapi="{base}/openapi.json"></script>\n'
        "</body></html>\n")


def install(app: FastAPI) -> None:
    """/docs, /redoc and their assets; the OpenAPI's additions (``described``)."""
    app.mount(ASSETS, StaticFiles(directory=assets()), name="docs-assets")
    script = signer()

    @app.get("/docs", include_in_schema=False)
    def swagger(request: Request) -> HTMLResponse:
        return HTMLResponse(swagger_page(request.scope.get("root_path", ""), app.title))

    @app.get(SIGNER, include_in_schema=False)
    def try_it() -> Response:
        return Response(script, media_type="text/javascript; charset=utf-8")

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(openapi_url=f"{root}/openapi.json", title=f"{app.title} - ReDoc",
                              redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
                              with_google_fonts=False)

    app.openapi = described(app.openapi)  # type: ignore[method-assign]


def described(generate: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """FastAPI's OpenAPI (built once) with the security schemes, the channel tag and the
    problem details of every REST error answer."""
    built: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not built:
            built.update(_with_additions(generate()))
        return built

    return openapi


def _with_additions(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    schemas = components.setdefault("schemas", {})
    for name in FASTAPI_ERROR_SCHEMAS:
        schemas.pop(name, None)
    schemas["Problem"] = problems.SCHEMA
    tag = channel_docs.TAG
    schema["tags"] = [*(t for t in schema.get("tags", []) if t["name"] != tag["name"]), tag]
    for path, operations in schema.get("paths", {}).items():
        if path.startswith(OWN_FORMATS):
            continue
        for operation in operations.values():
            _problems_of(operation)
            if path.startswith(ADMIN_PREFIX + "/"):
                operation["security"] = [{OPERATOR_SCHEME: []}]
    return schema


def _problems_of(operation: dict[str, Any]) -> None:
    """Every error answer of a REST operation is a problem (RFC 9457)."""
    for status, response in operation.get("responses", {}).items():
        if str(status)[0] in "45":
            response["content"] = PROBLEM_CONTENT
