#!/usr/bin/env bash
# Installs what the project needs on a Debian machine with Python 3.11:
#   - Prometheus (Debian package, without Recommends) when `prometheus`/`promtool` are missing;
#   - with --test, Chromium (Debian package) when missing: the dashboard's browser tests drive it;
#   - a virtual environment in .venv with this package (and its test extras with --test).
# Idempotent: a second run only checks. Uses sudo for apt when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[ "${1:-}" = "--test" ] && extras="[test]"

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"

apt_install() {
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
    echo "==> installing prometheus (apt-get install --no-install-recommends prometheus)"
    apt_install prometheus
fi

if [ -n "$extras" ] && ! command -v chromium >/dev/null 2>&1; then
    echo "==> installing chromium (apt-get install --no-install-recommends chromium: the dashboard's browser tests)"
    apt_install chromium
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $($python --version 2>&1)"
    if ! $python -m venv .venv >/dev/null 2>&1; then
        rm -rf .venv
        apt_install python3-venv
        $python -m venv .venv
    fi
fi
stamp=".venv/.installed$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "==> installing rollouts$extras into .venv"
    if ! { .venv/bin/python -m pip install -q --upgrade pip &&
           .venv/bin/python -m pip install -q -e ".$extras"; } >.venv/install.log 2>&1; then
        cat .venv/install.log >&2
        exit 1
    fi
    touch "$stamp"
fi
