"""Build glue: maps the top-level part folders to `livefoley.<part>` and builds protocol's C core.

The parts live at the repository's top level (`protocol/`, `models/`, ...) but install as
`livefoley.protocol`, `livefoley.models`, ... so nothing generic lands at the top of
site-packages. `livefoley` itself is an implicit namespace package.
"""

import os

from setuptools import setup

PARTS = ("protocol", "sidecar", "models", "engine_bindings")


def find_packages_mapped():
    packages, package_dir = [], {}
    for part in PARTS:
        for root, dirs, files in os.walk(part):
            dirs[:] = [d for d in dirs if not d.startswith((".", "_")) or d == "__pycache__"]
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            if "__init__.py" in files:
                name = "livefoley." + root.replace(os.sep, ".")
                packages.append(name)
                package_dir[name] = root
    return packages, package_dir


packages, package_dir = find_packages_mapped()

cffi_modules = []
if os.path.exists(os.path.join("protocol", "native", "build.py")):
    cffi_modules.append("protocol/native/build.py:ffibuilder")

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={"": ["*.h", "*.c", "*.json", "*.md", "*.safetensors", "*.cs", "*.txt"]},
    include_package_data=True,
    cffi_modules=cffi_modules,
    zip_safe=False,
)
