#!/usr/bin/env bash
# The test command: installs what is missing, then lint, types, architecture contracts and the test suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -k sandbox).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --test
export PATH="$PWD/.venv/bin:$PATH"
echo "==> ruff";          ruff check rollouts analysis tests bench
echo "==> ruff format";   ruff format --check rollouts analysis tests bench
echo "==> mypy --strict"; mypy
echo "==> import contracts"; lint-imports
echo "==> pytest";        python -m pytest -n 2 --dist loadgroup "$@"
