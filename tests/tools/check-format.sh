#!/usr/bin/env bash
# Fails, listing the differences, when a C++ file of the project is not as clang-format (Debian's,
# with the repository's .clang-format) writes it. Fix with: clang-format -i <file>.
set -euo pipefail
cd "$(dirname "$0")/../.."
mapfile -t files < <(find src agent tests -name '*.cpp' -o -name '*.h' | sort)
clang-format --dry-run --Werror "${files[@]}"
echo "clang-format: ${#files[@]} files clean"
