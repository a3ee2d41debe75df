"""Builds liblivefoley and its C test programs with the system compiler, for the test suite.

What it is: the same sources CMake builds (engine_bindings/CMakeLists.txt), compiled
directly with gcc/cc so the suite needs no CMake: the protocol core (protocol/native/*.c)
plus engine_bindings/c/src/*.c, in three variants: `plain`, `asan` (AddressSanitizer +
UndefinedBehaviorSanitizer) and `tsan` (ThreadSanitizer). Every file is compiled with
`-std=c11 -Wall -Wextra -Werror`.

What it is not: an installer. Outputs go to a directory the caller owns (pytest's tmp).
"""

from __future__ import annotations

import concurrent.futures
import os
import pathlib
import shutil
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[2]
PROTOCOL = REPO / "protocol"
LIB_SRC = REPO / "engine_bindings" / "c" / "src"
LIB_INCLUDE = REPO / "engine_bindings" / "c" / "include"
UNITY_PLUGIN_SRC = REPO / "engine_bindings" / "unity" / "Plugins" / "Source~"
TEST_SRC = pathlib.Path(__file__).resolve().parent / "c"

CC = os.environ.get("CC", "gcc")
WARN = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-O1", "-fPIC"]
SANITIZE = {
    "plain": [],
    "asan": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
             "-fno-sanitize-recover=undefined"],
    "tsan": ["-fsanitize=thread"],
}
# The protocol's convenience lf_session_create/lf_session_open share names with the public
# API of liblivefoley; they are renamed in every translation unit that includes protocol.h.
RENAMES = ["-Dlf_session_create=lfp_session_create", "-Dlf_session_open=lfp_session_open"]
LIBS = ["-lpthread", "-lm", "-ldl", "-lrt"]


def compiler_available() -> bool:
    return shutil.which(CC) is not None


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"compile failed ({proc.returncode}): {' '.join(cmd)}\n"
                           f"{proc.stdout}{proc.stderr}")


class Build:
    """One variant's objects and linked programs under `root/variant`."""

    def __init__(self, root: pathlib.Path, variant: str):
        if variant not in SANITIZE:
            raise ValueError(f"variant: expected one of {sorted(SANITIZE)}, found {variant!r}")
        self.variant = variant
        self.dir = pathlib.Path(root) / variant
        self.dir.mkdir(parents=True, exist_ok=True)
        self.flags = WARN + SANITIZE[variant]
        self.lib_objects = self._compile_library()

    def _obj(self, src: pathlib.Path, tag: str, extra: list[str]) -> tuple[list[str], str]:
        out = self.dir / f"{tag}_{src.stem}.o"
        inc = [f"-I{LIB_INCLUDE}", f"-I{PROTOCOL / 'include'}", f"-I{LIB_SRC}",
               f"-I{TEST_SRC}", f"-I{UNITY_PLUGIN_SRC}"]
        return [CC, *self.flags, *inc, *extra, "-c", str(src), "-o", str(out)], str(out)

    def _compile_many(self, jobs: list[tuple[list[str], str]]) -> list[str]:
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(_run, [cmd for cmd, _ in jobs]))
        return [out for _, out in jobs]

    def _compile_library(self) -> list[str]:
        proto = sorted((PROTOCOL / "native").glob("*.c"))
        jobs = [self._obj(s, "p", RENAMES + ["-fvisibility=hidden"]) for s in proto]
        jobs.append(self._obj(LIB_SRC / "bridge.c", "g", RENAMES + ["-fvisibility=hidden"]))
        for s in sorted(LIB_SRC.glob("*.c")):
            if s.name != "bridge.c":
                jobs.append(self._obj(s, "l", ["-fvisibility=hidden", "-DLF_BUILDING_LIBRARY"]))
        return self._compile_many(jobs)

    def shared_library(self) -> pathlib.Path:
        """liblivefoley.so (exports only the LF_API functions)."""
        out = self.dir / "liblivefoley.so"
        if not out.exists():
            _run([CC, *self.flags, "-shared", "-o", str(out), *self.lib_objects, *LIBS])
        return out

    def program(self, name: str, sources: list[pathlib.Path], defines: dict[str, str] | None = None,
                protocol_side: bool = True) -> pathlib.Path:
        """Link `sources` (plus the test peer) against the library objects."""
        out = self.dir / name
        extra = [f'-D{k}="{v}"' for k, v in (defines or {}).items()]
        jobs = [self._obj(s, name, extra) for s in sources]
        if protocol_side:
            jobs.append(self._obj(TEST_SRC / "peer.c", name, RENAMES))
        objs = self._compile_many(jobs)
        _run([CC, *self.flags, "-o", str(out), *objs, *self.lib_objects, *LIBS])
        return out

    def fake_cuda(self) -> pathlib.Path:
        """A test double of libcuda.so.1 (host memory stands in for device memory)."""
        out = self.dir / "libfakecuda.so"
        if not out.exists():
            _run([CC, *WARN, "-shared", "-o", str(out), str(TEST_SRC / "fake_cuda.c")])
        return out

    def fake_sidecar(self) -> pathlib.Path:
        """The stand-in sidecar executable (protocol core only)."""
        out = self.dir / "fake_sidecar"
        if not out.exists():
            job = self._obj(TEST_SRC / "fake_sidecar.c", "fake", RENAMES)
            objs = self._compile_many([job])
            _run([CC, *self.flags, "-o", str(out), *objs, *self.lib_objects, *LIBS])
        return out


MINGW_CC = "x86_64-w64-mingw32-gcc"


def build_windows_dll(out_dir: pathlib.Path) -> dict[str, pathlib.Path]:
    """Cross-compile livefoley.dll and AudioPluginLiveFoley.dll with MinGW-w64 (same
    sources, same -Werror flags), so the _WIN32 code paths (CreateProcessW, LoadLibraryA,
    named file mappings) are compiled even though CI cannot run them."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    flags = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", f"-I{LIB_INCLUDE}",
             f"-I{PROTOCOL / 'include'}", f"-I{LIB_SRC}"]
    jobs = []
    for src in sorted((PROTOCOL / "native").glob("*.c")) + [LIB_SRC / "bridge.c"]:
        out = out_dir / f"p_{src.stem}.o"
        jobs.append(([MINGW_CC, *flags, *RENAMES, "-c", str(src), "-o", str(out)], str(out)))
    for src in sorted(LIB_SRC.glob("*.c")):
        if src.name != "bridge.c":
            out = out_dir / f"l_{src.stem}.o"
            jobs.append(([MINGW_CC, *flags, "-DLF_BUILDING_LIBRARY", "-c", str(src), "-o",
                          str(out)], str(out)))
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(_run, [cmd for cmd, _ in jobs]))
    dll, implib = out_dir / "livefoley.dll", out_dir / "livefoley.lib"
    _run([MINGW_CC, "-shared", "-o", str(dll), *[o for _, o in jobs],
          f"-Wl,--out-implib,{implib}"])
    plugin = out_dir / "AudioPluginLiveFoley.dll"
    _run([MINGW_CC, *flags, f"-I{UNITY_PLUGIN_SRC}", "-shared", "-o", str(plugin),
          str(UNITY_PLUGIN_SRC / "AudioPluginLiveFoley.c"), str(implib)])
    return {"livefoley": dll, "plugin": plugin}
