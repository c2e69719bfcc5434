"""Generate Python gRPC stubs from proto/ into src/parovoz/protos/, imports rewritten.

Stubs generated for `platform.*` packages would import a top-level `platform` package, which
shadows Python's standard `platform` module; here they live under `parovoz.protos.platform`.

    python scripts/gen_protos.py           # (re)generate
    python scripts/gen_protos.py --check   # exit 1 when the checked-in stubs are stale
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT / "src" / "parovoz" / "protos"
_IMPORT = re.compile(r"^(from|import) platform\.", re.MULTILINE)


def generate(out: Path) -> None:
    import grpc_tools
    from grpc_tools import protoc

    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    include = str(Path(grpc_tools.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-I{PROTO_DIR}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for path in out.rglob("*.py*"):
        text = path.read_text()
        path.write_text(_IMPORT.sub(r"\1 parovoz.protos.platform.", text))
    for directory in [out, *[d for d in out.rglob("*") if d.is_dir()]]:
        init = directory / "__init__.py"
        if not init.exists():
            init.write_text("")
    (out / "__init__.py").write_text('"""Generated gRPC stubs (scripts/gen_protos.py); do not edit."""\n')


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def main() -> int:
    check = "--check" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "protos"
        out.mkdir()
        generate(out)
        if check:
            if tree(out) != tree(OUT_DIR):
                print("generated gRPC stubs are stale: run python scripts/gen_protos.py", file=sys.stderr)
                return 1
            print("gRPC stubs are current")
            return 0
        shutil.rmtree(OUT_DIR, ignore_errors=True)
        shutil.copytree(out, OUT_DIR)
    print(f"generated stubs in {OUT_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
