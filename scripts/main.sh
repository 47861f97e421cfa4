#!/usr/bin/env bash
# The main job: install what is missing, build, and run the flagship example.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cmake --build build -j"$(nproc)" --target char_lm
./build/examples/char_lm "$@"
