"""The Windows code paths compile: liblivefoley and the Unity native audio plugin are
cross-compiled with MinGW-w64 under -Wall -Wextra -Werror, and the DLL exports exactly the
public API (dllexport through LF_API). Running them needs Windows; this proves they build."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.engine_bindings import abi, cbuild

OBJDUMP = "x86_64-w64-mingw32-objdump"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which(cbuild.MINGW_CC) is None or shutil.which(OBJDUMP) is None,
                    reason="MinGW-w64 cross compiler not installed (Debian: gcc-mingw-w64-x86-64)")
def test_windows_dlls_build_and_export_the_api(tmp_path):
    out = cbuild.build_windows_dll(tmp_path)
    dump = subprocess.run([OBJDUMP, "-p", str(out["livefoley"])], capture_output=True,
                          text=True, check=True).stdout
    table = dump[dump.index("[Ordinal/Name Pointer] Table"):]
    exported = {line.split()[-1] for line in table.splitlines()[1:] if line.strip().startswith("[")}
    declared = set(abi.parse_prototypes(abi.HEADER.read_text()))
    assert exported == declared, (f"expected exports {sorted(declared)}, found extra "
                                  f"{sorted(exported - declared)}, missing {sorted(declared - exported)}")
    plugin = subprocess.run([OBJDUMP, "-p", str(out["plugin"])], capture_output=True, text=True,
                            check=True).stdout
    for name in ("UnityGetAudioEffectDefinitions", "LiveFoleyAudioPlugin_Bind",
                 "LiveFoleyAudioPlugin_Unbind"):
        assert name in plugin, f"AudioPluginLiveFoley.dll does not export {name}"
