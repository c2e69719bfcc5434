"""Local sandbox servers that play the external systems we cannot reach from here (OAuth and
captcha providers, later payment providers, OFD, SMS, push). Each speaks its provider's real
protocol on HTTP, so the production adapter is exercised unchanged: only its base URL differs.

`SANDBOXES` maps a sandbox's name to "module:factory"; the factory takes no arguments and returns
an ASGI app. `parovoz sandbox NAME --port N` serves one; tests start them on free ports.
"""

from __future__ import annotations

import importlib
from typing import Any

SANDBOXES: dict[str, str] = {}


def sandbox_app(name: str) -> Any:
    """The ASGI app of the sandbox called `name` (KeyError when there is none)."""
    module_name, _, factory = SANDBOXES[name].partition(":")
    return getattr(importlib.import_module(module_name), factory)()
