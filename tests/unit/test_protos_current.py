"""The checked-in gRPC stubs match proto/ and do not shadow the standard `platform` module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_stubs_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "current" in result.stdout


def test_standard_platform_module_survives_the_stubs() -> None:
    # a fresh interpreter: in this one, `platform` may already be cached from before the import
    code = (
        "import parovoz.protos.platform.auth.v1.auth_pb2_grpc\n"
        "import parovoz.protos.platform.account.v1.account_pb2\n"
        "import platform\n"
        "print(platform.system())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == __import__("platform").system()
