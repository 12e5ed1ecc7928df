#!/usr/bin/env bash
# The house style (.clang-format) over every tracked C++ file: `scripts/format.sh` rewrites them,
# `scripts/format.sh --check` only reports the files that differ (exit 1), as `make test` does.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.h' 2>/dev/null || find src tests bench demo fuzz -name '*.cpp' -o -name '*.h')
if [ "${1:-}" = "--check" ]; then
  clang-format --dry-run --Werror "${files[@]}"
else
  clang-format -i "${files[@]}"
fi
