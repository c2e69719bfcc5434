"""Swagger UI at `/api/v1/docs`, its assets from the `swagger_ui_bundle` package (works offline).

Assets are read once and kept with a gzip copy, so the 1 MB bundle is compressed once, not per
request. Only files that exist in the bundle's folder are served (no path traversal possible).
"""

from __future__ import annotations

import gzip
import mimetypes
from pathlib import Path

import swagger_ui_bundle

from parovoz.gateway.compression import LEVEL

DOCS_PATH = "/api/v1/docs"
ASSETS_PREFIX = "/api/v1/docs/assets/"
OPENAPI_PATH = "/api/v1/openapi.json"
RawHeaders = list[tuple[bytes, bytes]]

_ASSET_NAMES = (
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "favicon-32x32.png",
    "favicon-16x16.png",
    "index.css",
)

# Served as an asset (not inline) so the page works under a CSP without 'unsafe-inline' scripts.
_INIT_JS = f"""window.onload = function () {{
  window.ui = SwaggerUIBundle({{
    url: "{OPENAPI_PATH}",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout"
  }});
}};
""".encode()

PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <title>Parovoz API</title>
  <link rel="stylesheet" type="text/css" href="{ASSETS_PREFIX}swagger-ui.css">
  <link rel="stylesheet" type="text/css" href="{ASSETS_PREFIX}index.css">
  <link rel="icon" type="image/png" href="{ASSETS_PREFIX}favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{ASSETS_PREFIX}swagger-ui-bundle.js" charset="UTF-8"></script>
  <script src="{ASSETS_PREFIX}swagger-ui-standalone-preset.js" charset="UTF-8"></script>
  <script src="{ASSETS_PREFIX}init.js" charset="UTF-8"></script>
</body>
</html>
""".encode()

PAGE_HEADERS: RawHeaders = [
    (b"content-type", b"text/html; charset=utf-8"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        b"script-src 'self'; frame-ancestors 'none'",
    ),
    (b"cache-control", b"no-cache"),
]


class SwaggerAssets:
    """The UI's static files in memory: name -> (content type, identity bytes, gzip bytes)."""

    def __init__(self, folder: Path | None = None) -> None:
        root = Path(folder or swagger_ui_bundle.swagger_ui_path)
        self._files: dict[str, tuple[bytes, bytes, bytes]] = {}
        for name in _ASSET_NAMES:
            self._add(name, (root / name).read_bytes())
        self._add("init.js", _INIT_JS)

    def _add(self, name: str, data: bytes) -> None:
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        self._files[name] = (content_type.encode("latin-1"), data, gzip.compress(data, LEVEL, mtime=0))

    def get(self, name: str, *, gzip_ok: bool) -> tuple[RawHeaders, bytes] | None:
        """(headers, body) of asset `name`, or None when there is no such asset."""
        found = self._files.get(name)
        if found is None:
            return None
        content_type, identity, compressed = found
        headers: RawHeaders = [
            (b"content-type", content_type),
            (b"cache-control", b"public, max-age=86400"),
            (b"vary", b"Accept-Encoding"),
        ]
        if gzip_ok and not content_type.startswith(b"image/"):
            headers.append((b"content-encoding", b"gzip"))
            return headers, compressed
        return headers, identity
