"""C <-> Python agreement on the segment layout, field by field, and on every enum value.

A C program generated from Python's tables prints offsetof/sizeof of each field as the C
compiler lays it out; the test compares them with layout.py. A second check parses the
header's struct bodies so that a field added in C but not in Python fails too.
"""

import re
import subprocess

import pytest

from livefoley.protocol import layout, params
from livefoley.protocol.native import lib

from .cbuild import INCLUDE, build

HEADER_TEXT = (INCLUDE / "livefoley" / "protocol.h").read_text()


def _dump_program(tmp_path):
    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include "livefoley/protocol.h"',
             "int main(void) {"]
    for struct_name, fields in layout.STRUCT_FIELDS.items():
        lines.append(f'printf("{struct_name} sizeof %zu\\n", sizeof({struct_name}));')
        for f in fields:
            lines.append(
                f'printf("{struct_name} {f.name} %zu %zu\\n", offsetof({struct_name}, {f.name}),'
                f" sizeof((({struct_name} *)0)->{f.name}));"
            )
    lines += ["return 0;", "}"]
    src = tmp_path / "layout_dump.c"
    src.write_text("\n".join(lines))
    return src


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("layout")
    exe = build(tmp, "layout_dump", sources=[], main_source=_dump_program(tmp))
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if parts[1] == "sizeof":
            table[(parts[0], "sizeof")] = int(parts[2])
        else:
            table[(parts[0], parts[1])] = (int(parts[2]), int(parts[3]))
    return table


@pytest.mark.parametrize("struct_name", sorted(layout.STRUCT_FIELDS))
def test_python_layout_matches_c_field_by_field(c_layout, struct_name):
    assert c_layout[(struct_name, "sizeof")] == layout.STRUCT_SIZES[struct_name]
    for f in layout.STRUCT_FIELDS[struct_name]:
        assert c_layout[(struct_name, f.name)] == (f.offset, f.size), (
            f"{struct_name}.{f.name}: C says (offset, size) = {c_layout[(struct_name, f.name)]}, "
            f"Python says {(f.offset, f.size)}"
        )


def _c_struct_field_names(typedef_name: str) -> list[str]:
    body = re.search(r"typedef struct \w+ \{([^{}]*)\} " + typedef_name + ";", HEADER_TEXT, re.S)
    assert body, f"{typedef_name} not found in protocol.h"
    text = re.sub(r"/\*.*?\*/", "", body.group(1), flags=re.S)
    return re.findall(r"(\w+)(?:\[[^\]]*\])?;", text)


@pytest.mark.parametrize("struct_name", sorted(layout.STRUCT_FIELDS))
def test_python_tables_name_every_c_field_in_order(struct_name):
    assert _c_struct_field_names(struct_name) == [f.name for f in layout.STRUCT_FIELDS[struct_name]]


def test_counters_live_on_separate_cache_lines():
    offsets = {f.name: f.offset for f in layout.HEADER_FIELDS}
    line = {name: off // layout.CACHE_LINE_BYTES for name, off in offsets.items()}
    writers = [("audio_write_count",), ("audio_read_count",), ("mailbox",), ("latest_back",),
               ("latest_front",), ("host_heartbeat_ns",), ("sidecar_heartbeat_ns",)]
    lines = [line[w[0]] for w in writers]
    assert len(set(lines)) == len(lines), f"shared cache lines: {dict(zip(writers, lines))}"


def test_constants_agree():
    assert lib.LF_MAGIC == layout.MAGIC
    assert lib.LF_ABI_VERSION == layout.ABI_VERSION
    assert lib.LF_HEADER_BYTES == layout.HEADER_BYTES
    assert lib.LF_ENDPOINT_BYTES == layout.ENDPOINT_BYTES
    assert lib.LF_PAGE_BYTES == layout.PAGE_BYTES


@pytest.mark.parametrize("enum_cls, prefix, names", [
    (params.FrameMode, "LF_FRAME_MODE_", {"LATEST": "LATEST", "FIFO": "FIFO"}),
    (params.PixelFormat, "LF_PIXEL_", {"RGBA8": "RGBA8", "BGRA8": "BGRA8", "RGB8": "RGB8"}),
    (params.FrameLocation, "LF_LOCATION_", {"HOST": "HOST", "GPU": "GPU"}),
    (params.GpuSlotKind, "LF_GPU_", {"NONE": "NONE", "CUDA_IPC": "CUDA_IPC",
                                     "D3D12_NT_HANDLE": "D3D12_NT_HANDLE",
                                     "D3D11_NT_HANDLE": "D3D11_NT_HANDLE"}),
    (params.SessionState, "LF_STATE_", {m.name: m.name for m in params.SessionState}),
    (params.PeerState, "LF_PEER_", {m.name: m.name for m in params.PeerState}),
    (params.Role, "LF_ROLE_", {"HOST": "HOST", "SIDECAR": "SIDECAR"}),
])
def test_enum_values_agree_with_header(enum_cls, prefix, names):
    for py_name, c_suffix in names.items():
        match = re.search(rf"\b{prefix}{c_suffix}\s*=\s*(\d+)", HEADER_TEXT)
        assert match, f"{prefix}{c_suffix} missing from protocol.h"
        assert enum_cls[py_name].value == int(match.group(1)), f"{enum_cls.__name__}.{py_name}"
    assert len(enum_cls) == len(names)
