#!/usr/bin/env bash
# The project's virtualenv, as `make run` and `make test` build it: one progress line per step, pip's own noise
# (this machine's pip.conf names absent local package folders: `WARNING: Location ... is ignored`) filtered out
# as the other set-up scripts do, pip's errors kept, its exit status kept.
#   scripts/setup-venv.sh VENV REQUIREMENTS
set -euo pipefail

venv=$1 requirements=$2
python=${PYTHON:-python3.11}
started=$SECONDS

if [[ ! -x "$venv/bin/python" ]]; then
    if ! command -v "$python" >/dev/null; then
        echo "bqdump set-up: $python not found. bqdump needs Python 3.11: install it, or name it with" \
             "make run PYTHON=/path/to/python3.11" >&2
        exit 1
    fi
    if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        echo "bqdump set-up: $python is Python $("$python" -c 'import platform; print(platform.python_version())'),"\
             "bqdump needs 3.11: make run PYTHON=/path/to/python3.11" >&2
        exit 1
    fi
    echo "bqdump set-up: creating the virtualenv $venv ($python)"
    "$python" -m venv "$venv"
fi

echo "bqdump set-up: installing $requirements into $venv (the first time takes a few minutes)"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --quiet -r "$requirements" 2>&1 \
    | { grep -v "^WARNING: Location .* is ignored: " || true; }  # "neither a file nor a directory", "non-existing path"
echo "bqdump set-up: $venv has $requirements ($((SECONDS - started)) s)"
