"""The ABI manifest of liblivefoley: what engines compiled against livefoley.h rely on.

What it is: a parser for the public header (LF_API prototypes, public struct fields,
numeric LF_* constants), a probe that compiles a C program to measure sizeof/offsetof of
every public struct field, and the comparison against the checked-in manifest
engine_bindings/c/abi/livefoley_abi.json. A change without an LF_LIB_ABI_VERSION bump
is an error; a bump without a regenerated manifest is an error too.

Regenerate after a deliberate, version-bumped change:
    .venv/bin/python -m tests.engine_bindings.abi --write

What it is not: a full C parser. The header keeps to one declaration style (one field
per line, `LF_API` before every function) and this module refuses what it cannot read.
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
import tempfile

from tests.engine_bindings import cbuild

HEADER = cbuild.LIB_INCLUDE / "livefoley" / "livefoley.h"
MANIFEST = cbuild.REPO / "engine_bindings" / "c" / "abi" / "livefoley_abi.json"


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def parse_prototypes(text: str) -> dict[str, str]:
    """Function name -> whitespace-normalised prototype, for every LF_API declaration."""
    body = _strip_comments(text)
    protos = {}
    for m in re.finditer(r"\bLF_API\s+([^;{}#]*?\([^;{}]*?\))\s*;", body, flags=re.S):
        sig = " ".join(m.group(1).split())
        sig = re.sub(r"\s*([(),*])\s*", r"\1", sig).replace(",", ", ")
        name = re.search(r"(\w+)\(", sig)
        if not name:
            raise ValueError(f"cannot find a function name in {sig!r}")
        protos[name.group(1)] = sig
    if not protos:
        raise ValueError(f"{HEADER}: expected LF_API prototypes, found none")
    return protos


def parse_structs(text: str) -> dict[str, list[str]]:
    """Public typedef'd struct name -> its field names in order."""
    body = _strip_comments(text)
    structs = {}
    for m in re.finditer(r"typedef\s+struct\s+\w+\s*\{(.*?)\}\s*(\w+)\s*;", body, flags=re.S):
        fields = []
        for decl in m.group(1).split(";"):
            decl = decl.strip()
            if not decl:
                continue
            fm = re.search(r"(\w+)\s*(\[[^\]]*\])?\s*$", decl)
            if not fm or "," in decl:
                raise ValueError(f"{m.group(2)}: cannot read field declaration {decl!r}")
            fields.append(fm.group(1))
        structs[m.group(2)] = fields
    return structs


def parse_constants(text: str) -> dict[str, int]:
    """Numeric LF_* macros (codes, modes, formats, version)."""
    consts = {}
    for m in re.finditer(r"#define\s+(LF_\w+)\s+\(?\s*(-?\d+)u?\s*\)?", _strip_comments(text)):
        consts[m.group(1)] = int(m.group(2))
    return consts


def measure_layout(header: pathlib.Path, structs: dict[str, list[str]]) -> dict:
    """Compile a probe against `header` and return sizeof/offsetof/sizeof-field."""
    lines = ["#include <stddef.h>", "#include <stdio.h>", f'#include "{header}"',
             "#define F(s, f) printf(\"%s %s %zu %zu\\n\", #s, #f, offsetof(s, f), "
             "sizeof(((s *)0)->f))", "int main(void) {"]
    for name, fields in structs.items():
        lines.append(f'printf("%s @size %zu 0\\n", "{name}", sizeof({name}));')
        lines += [f"F({name}, {f});" for f in fields]
    lines += ["return 0;", "}"]
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp) / "probe.c"
        exe = pathlib.Path(tmp) / "probe"
        src.write_text("\n".join(lines) + "\n")
        subprocess.run([cbuild.CC, *cbuild.WARN, "-o", str(exe), str(src)], check=True,
                       capture_output=True, text=True)
        out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    layout: dict = {name: {"size": None, "fields": {}} for name in structs}
    for line in out.splitlines():
        s, f, off, size = line.split()
        if f == "@size":
            layout[s]["size"] = int(off)
        else:
            layout[s]["fields"][f] = [int(off), int(size)]
    return layout


def generate(header: pathlib.Path = HEADER) -> dict:
    text = header.read_text()
    consts = parse_constants(text)
    if "LF_LIB_ABI_VERSION" not in consts:
        raise ValueError(f"{header}: expected #define LF_LIB_ABI_VERSION, found none")
    return {
        "abi_version": consts.pop("LF_LIB_ABI_VERSION"),
        "platform": "LP64 (x86_64/aarch64 Linux and macOS); Windows LLP64 has the same "
                    "layout because no public struct holds a long or a pointer",
        "functions": parse_prototypes(text),
        "structs": measure_layout(header, parse_structs(text)),
        "constants": consts,
    }


def diff(old: dict, new: dict) -> list[str]:
    """Human-readable differences between two manifests (ignoring abi_version)."""
    out = []
    for key in ("functions", "structs", "constants"):
        a, b = old.get(key, {}), new.get(key, {})
        for name in sorted(set(a) | set(b)):
            if a.get(name) != b.get(name):
                out.append(f"{key}.{name}: expected {a.get(name)!r}, found {b.get(name)!r}")
    return out


def check(header: pathlib.Path = HEADER, manifest: pathlib.Path = MANIFEST) -> list[str]:
    """Problems with the header against the manifest; empty when consistent."""
    old = json.loads(manifest.read_text())
    new = generate(header)
    changes = diff(old, new)
    if changes and new["abi_version"] == old["abi_version"]:
        return [f"the public ABI changed but LF_LIB_ABI_VERSION is still "
                f"{new['abi_version']}: bump it and regenerate the manifest "
                f"(python -m tests.engine_bindings.abi --write)", *changes]
    if new["abi_version"] != old["abi_version"]:
        return [f"LF_LIB_ABI_VERSION: manifest expected {old['abi_version']}, header found "
                f"{new['abi_version']}: regenerate the manifest "
                f"(python -m tests.engine_bindings.abi --write)", *changes]
    return []


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        MANIFEST.parent.mkdir(parents=True, exist_ok=True)
        MANIFEST.write_text(json.dumps(generate(), indent=2, sort_keys=True) + "\n")
        print(f"wrote {MANIFEST}")
    else:
        problems = check()
        print("\n".join(problems) or "ABI manifest matches the header")
        sys.exit(1 if problems else 0)
