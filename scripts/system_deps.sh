#!/usr/bin/env bash
# make system-deps: makes sure CMake can find the C++ libraries tsnative builds against (nlohmann-json, OpenSSL's
# libcrypto, libpng, libjpeg, CLI11, GoogleTest), without root where possible.
#
#   TSNATIVE_SYSTEM_DEPS=auto  (default) probe with CMake's find_package (cmake/probe_system_deps); install with
#                              apt-get only what it cannot find, as root or with sudo; otherwise stop and say how
#   TSNATIVE_SYSTEM_DEPS=skip  never probe nor install (the build's own find_package errors say what is missing)
#   CMAKE_PREFIX_PATH=/prefix  libraries installed elsewhere (conda, Homebrew, a source build): searched by the
#                              probe and the build alike, e.g. make test CMAKE_PREFIX_PATH=$HOME/.local
#
# A successful probe is remembered in build/system-deps.found (with the CMAKE_PREFIX_PATH it used), so later
# make runs do not configure it again; make clean forgets it.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${TSNATIVE_SYSTEM_DEPS:-auto}
case "$mode" in
  skip) exit 0 ;;
  auto) ;;
  *) echo "make: TSNATIVE_SYSTEM_DEPS: expected auto or skip, got '$mode'" >&2; exit 2 ;;
esac

stamp=build/system-deps.found
key="CMAKE_PREFIX_PATH=${CMAKE_PREFIX_PATH:-}"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] && [ "$stamp" -nt cmake/probe_system_deps/CMakeLists.txt ]; then
  exit 0
fi

cmake_bin=$(command -v .venv/bin/cmake || command -v cmake || true)
if [ -z "$cmake_bin" ]; then
  echo "make: cmake not found (make setup installs it into .venv)" >&2
  exit 1
fi

# Prints the missing.txt lines of a probe configured in a temporary folder, removed whatever the outcome.
probe() {
  local dir status=0
  dir=$(mktemp -d "${TMPDIR:-/tmp}/tsnative-probe.XXXXXX")
  if "$cmake_bin" -S cmake/probe_system_deps -B "$dir" >"$dir/log" 2>&1; then
    cat "$dir/missing.txt"
  else
    echo "make: the CMake probe of the C++ libraries failed (it needs a C and C++ compiler): $(grep -m1 "Error" "$dir/log" || tail -1 "$dir/log")" >&2
    status=1
  fi
  rm -rf "$dir"
  return $status
}

missing=$(probe)
if [ -z "$missing" ]; then
  mkdir -p build && printf '%s' "$key" >"$stamp"
  exit 0
fi
packages=$(printf '%s\n' "$missing" | awk '{print $2}' | tr '\n' ' ')
packages=${packages% }
libraries=$(printf '%s\n' "$missing" | awk '{print $1}' | tr '\n' ' ')
libraries=${libraries% }

how="install them with your package manager (Debian/Ubuntu: $packages) or build them into a prefix and pass \
CMAKE_PREFIX_PATH=/that/prefix (e.g. make test CMAKE_PREFIX_PATH=\$HOME/.local); TSNATIVE_SYSTEM_DEPS=skip skips \
this check"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "make: CMake cannot find $libraries: $how" >&2
  exit 1
fi
if [ "$(id -u)" = 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "make: CMake cannot find $libraries and there is no root or sudo for apt-get: $how" >&2
  exit 1
fi
echo "CMake cannot find $libraries: installing Debian packages $packages with apt-get"
"${sudo[@]}" apt-get update -qq
# shellcheck disable=SC2086  # one word per package
"${sudo[@]}" apt-get install -y -qq $packages >/dev/null
missing=$(probe)
if [ -n "$missing" ]; then
  echo "make: CMake still cannot find $(printf '%s\n' "$missing" | awk '{print $1}' | tr '\n' ' ')after apt-get" >&2
  exit 1
fi
mkdir -p build && printf '%s' "$key" >"$stamp"
