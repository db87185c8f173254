#!/usr/bin/env bash
# The main job: installs what is missing (Prometheus from apt, the package into .venv), then runs the demo
# on the embedded sandbox. Arguments go to `rollouts demo` (e.g. scripts/demo.sh --scenario canary).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/rollouts demo "$@"
