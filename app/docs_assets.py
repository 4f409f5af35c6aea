"""/docs and /redoc without internet: Swagger UI's and ReDoc's script, style and favicon are
served by the service itself, from the `fastapi-offline` package's copies (FastAPI's own pages
load them from a CDN, so without internet /docs is blank)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/docs-assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
# The pages may load nothing from elsewhere: ReDoc's bundle, for one, always shows a logo
# image from its vendor's CDN; with this policy the browser does not even ask for it.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def _offline(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = PAGE_POLICY
    return page


def install_offline_docs(app: FastAPI) -> None:
    """Replace FastAPI's CDN-backed /docs and /redoc with pages whose every URL is ours."""
    docs_url, redoc_url = app.docs_url or "/docs", app.redoc_url or "/redoc"
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"
    openapi_url = app.openapi_url or "/openapi.json"
    replaced = {docs_url, redoc_url, oauth2_redirect_url}
    app.router.routes[:] = [
        route for route in app.router.routes if getattr(route, "path", None) not in replaced
    ]
    app.docs_url = app.redoc_url = None
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    def page(
        request: Request,
        render: Callable[..., HTMLResponse],
        name: str,
        paths: dict[str, str],
        **options: Any,
    ) -> HTMLResponse:
        """Swagger UI's or ReDoc's page: the spec's URL and `paths` under the root path."""
        root = request.scope.get("root_path", "")
        urls = {key: root + path for key, path in {"openapi_url": openapi_url, **paths}.items()}
        return _offline(render(title=f"{app.title} - {name}", **urls, **options))

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        paths = {
            "oauth2_redirect_url": oauth2_redirect_url,
            "swagger_js_url": f"{ASSETS_PATH}/swagger-ui-bundle.js",
            "swagger_css_url": f"{ASSETS_PATH}/swagger-ui.css",
            "swagger_favicon_url": f"{ASSETS_PATH}/favicon.png",
        }
        # No validator badge: Swagger UI would ask an online validator about the spec.
        parameters = {**(app.swagger_ui_parameters or {}), "validatorUrl": None}
        return page(
            request, get_swagger_ui_html, "Swagger UI", paths, swagger_ui_parameters=parameters
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(redoc_url, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        paths = {
            "redoc_js_url": f"{ASSETS_PATH}/redoc.standalone.js",
            "redoc_favicon_url": f"{ASSETS_PATH}/favicon.png",
        }
        return page(request, get_redoc_html, "ReDoc", paths, with_google_fonts=False)
