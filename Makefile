# The two commands:  make demo  (set up, build, export ResNet-18, compare Python and native, a small study)
#                    make test  (set up, build, run pytest and the C++ tests)
# Setup is idempotent: .venv is created and filled only when missing or when requirements-dev.txt changed.

PYTHON    ?= python3
VENV      ?= .venv
PY        := $(VENV)/bin/python
BUILD_DIR := build/python
DEPS_DONE := $(VENV)/.deps-installed

CPP_SOURCES = $(wildcard cpp/*/*.cpp cpp/*/*.h cpp/src/*/*.cpp cpp/src/*/*.h cpp/src/*/*/*.cpp cpp/src/*/*/*.h \
                         cpp/tools/*/*.cpp cpp/tools/*/*.h cpp/include/tsnative/*.h)
PY_SOURCES  = python tests scripts benchmarks examples

.PHONY: demo test bench build setup system-deps sanitize fuzz lint format clean

demo: build
	$(PY) scripts/demo.py
	$(VENV)/bin/tsnative bench resnet18 --mode trace --batch 1,8 --budget 10 --out demo-out/bench

# The README's full study (several minutes), written to artifacts/study/resnet18/ (untracked); to replace the
# tracked results the README quotes: make bench OUT=benchmarks/results/resnet18
bench: build
	OUT="$(OUT)" bash benchmarks/study.sh

test: build lint
	$(PY) -m pytest
	$(VENV)/bin/ctest --test-dir $(BUILD_DIR) --output-on-failure

setup: $(DEPS_DONE) system-deps

$(DEPS_DONE): requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $@

# C++ libraries: nlohmann-json (core: export metadata, ts-infer --json), CLI11 (ts-infer's and ts-train's options),
# OpenSSL's libcrypto (SHA-256 pins), libpng and libjpeg-turbo (fine-tuning images), GoogleTest (C++ tests).
# scripts/system_deps.sh first asks CMake whether it finds them (find_package, as the build does) and uses apt-get
# (as root or with sudo) only for those it does not find. Without root: install them elsewhere and pass their
# prefix, e.g. make test CMAKE_PREFIX_PATH=$HOME/.local (the probe and the build both search it), or skip the
# check with TSNATIVE_SYSTEM_DEPS=skip.
TSNATIVE_SYSTEM_DEPS ?= auto
export TSNATIVE_SYSTEM_DEPS CMAKE_PREFIX_PATH
# Installs the Debian packages in $(1) that are missing (developer tools: clang for make sanitize).
define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || printf '%s ' $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages: $$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
endef
system-deps: $(DEPS_DONE)
	@bash scripts/system_deps.sh

# Hardening checks for developers (not part of make test): an ASan+UBSan build (clang) run over the C++ tests and
# the malformed-file corpus, and the loader's libFuzzer harness for $(SECONDS) seconds.
SECONDS ?= 60
sanitize: setup
	$(call apt_install,clang)
	bash scripts/sanitize.sh

fuzz: sanitize
	bash scripts/fuzz.sh $(SECONDS)

# Builds the C++ core, tsnative._C and the C++ tests in $(BUILD_DIR) (incremental) and installs the package
# into .venv. --no-build-isolation: build against the torch in .venv, not a second copy.
build: setup
	$(PY) -m pip install --disable-pip-version-check -q --no-build-isolation --no-deps \
	  -Ccmake.define.TSNATIVE_BUILD_TESTS=ON .

# lint = style (ruff, clang-format, the include layering of scripts/check_layers.py: needs only the tools) +
# stubcheck. stubcheck fails when the committed python/tsnative/_C.pyi differs from the stubs of the module built
# from these sources, so it depends on build, not on setup: against a stale install it would pass or fail for the
# wrong reason. style comes first, so a style error shows before a long build; make test (build lint) builds once;
# make style is the quick check.
.PHONY: style stubcheck stubs tidy
lint: style stubcheck

style: setup
	$(VENV)/bin/ruff check $(PY_SOURCES)
	$(VENV)/bin/ruff format --check $(PY_SOURCES)
	$(VENV)/bin/mypy
	$(VENV)/bin/clang-format --dry-run -Werror $(CPP_SOURCES)
	$(PY) scripts/check_layers.py

stubcheck: build
	$(PY) scripts/stubs.py --check

# Regenerates python/tsnative/_C.pyi (pybind11-stubgen, then ruff) from the freshly built module: run it after
# changing the bindings, and commit the file.
stubs: build
	$(PY) scripts/stubs.py

# clang-tidy with .clang-tidy over the core's .cpp files (cpp/src). Not part of lint: each file parses the torch
# headers, minutes in all. It needs one compile command per file, so it reads build/dev (the dev preset of
# CMakePresets.json, unity build off), configured here when missing (configure only, seconds; nothing is built):
# build/python is a unity build, whose compile_commands.json lists only the unity translation units.
# One file: make tidy TIDY_FILES=cpp/src/format/npy.cpp. clang-tidy: .venv's if there, else the one on PATH.
CLANG_TIDY ?= $(if $(wildcard $(VENV)/bin/clang-tidy),$(VENV)/bin/clang-tidy,clang-tidy)
TIDY_DB    ?= build/dev
TIDY_FILES ?= $$($(PY) -c 'import json; db = json.load(open("$(TIDY_DB)/compile_commands.json")); \
                print(" ".join(sorted(e["file"] for e in db if "/cpp/src/" in e["file"])))')
tidy: setup
	@test -f $(TIDY_DB)/compile_commands.json || \
	  $(VENV)/bin/cmake --preset dev -B $(TIDY_DB) -DPython_EXECUTABLE=$(abspath $(PY)) >/dev/null
	$(CLANG_TIDY) -p $(TIDY_DB) --quiet $(TIDY_FILES)

format: setup
	$(VENV)/bin/ruff check --fix $(PY_SOURCES)
	$(VENV)/bin/ruff format $(PY_SOURCES)
	$(VENV)/bin/clang-format -i $(CPP_SOURCES)

clean:
	rm -rf build demo-out
