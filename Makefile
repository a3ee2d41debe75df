# LiveFoley: two commands on a fresh machine.
#   make demo   the main job (ViZDoom plays, the sidecar gives it sound live)
#   make test   the suite (pytest's closing line is the last line)
# Both create .venv and install what they need. Override torch with e.g.
#   make demo TORCH='torch==2.13.0 --index-url https://download.pytorch.org/whl/cu124'

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.livefoley-installed
# Debian packages: libopenal1 (ViZDoom's own audio; without it the audio is silently zero),
# mono-mcs + mono-runtime (the Unity binding's C# tests), cmake (liblivefoley's build).
APT_PACKAGES ?= libopenal1 mono-mcs mono-runtime cmake
# Test-only: cross compilers that build the Windows (named file mappings, CreateProcessW) and
# AArch64 (weak memory order) code paths of the protocol and liblivefoley.
APT_TEST_PACKAGES ?= gcc-mingw-w64-x86-64 gcc-aarch64-linux-gnu

.PHONY: demo test sysdeps test-sysdeps venv bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py $(wildcard protocol/native/*.c protocol/native/*.py protocol/include/livefoley/*.h)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip>=23" setuptools wheel "cffi>=1.16"
	$(PIP) install -q $(TORCH)
	$(PIP) install -q --no-build-isolation -e ".[media,game,text,cuda,test]"
	$(PIP) install -q --no-deps aisfx
	@touch $(STAMP)

sysdeps:
	@bash tools/install_sysdeps.sh $(APT_PACKAGES)

test-sysdeps:
	@bash tools/install_sysdeps.sh $(APT_PACKAGES) $(APT_TEST_PACKAGES)

demo: sysdeps venv
	$(VENV)/bin/livefoley demo

test: test-sysdeps venv
	$(PY) -m pytest

bench: venv
	$(PY) -m pytest benchmarks --benchmark-enable -q

clean:
	rm -rf $(VENV) build *.egg-info out .pytest_cache
