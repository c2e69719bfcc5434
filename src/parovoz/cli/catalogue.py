"""`parovoz events catalogue`: the AsyncAPI document generated from the event registry."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson


def render() -> bytes:
    from parovoz.chassis.events.registry import catalogue

    return orjson.dumps(catalogue(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def catalogue_command(out: Path, *, check: bool) -> int:
    text = render()
    if check:
        if not out.exists() or out.read_bytes() != text:
            print(f"{out} is stale: run `parovoz events catalogue`", file=sys.stderr)
            return 1
        print(f"{out} is current")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(text)
    print(f"wrote {out}")
    return 0
