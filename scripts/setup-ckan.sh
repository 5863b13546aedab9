#!/usr/bin/env bash
# Install real CKAN 2.12 (PyPI) into .venv-ckan for the conformance suite in tests/ckan/.
# PostgreSQL: Debian's server binaries (/usr/lib/postgresql/*/bin) when present; otherwise the
# `pgserver` wheel from PyPI is added to .venv-ckan (no root needed; tests/ckan/servers.py finds
# either). Idempotent: a venv whose stamp matches requirements-ckan.txt is left alone.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
VENV=.venv-ckan
REQ=requirements-ckan.txt
PG_WHEEL=pgserver==0.1.4  # ships PostgreSQL server binaries in pgserver/pginstall/bin

pip_install() {  # venv, pip args... (drops the noise of pip.conf's absent local find-links)
    local venv=$1; shift
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --quiet "$@" 2>&1 \
        | { grep -v "^WARNING: Location .* is ignored: " || true; }
}

have_debian_postgres() { compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }

stamp="$VENV/.requirements.sha256"
want=$( (cat "$REQ"; have_debian_postgres || echo "$PG_WHEEL") | sha256sum | cut -d' ' -f1)
if [[ -x "$VENV/bin/ckan" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "setup-ckan: $VENV up to date"
    exit 0
fi
echo "setup-ckan: installing CKAN 2.12 into $VENV (a few minutes, once)"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
pip_install "$VENV" -r "$REQ"
if ! have_debian_postgres; then
    echo "setup-ckan: no Debian PostgreSQL; adding the $PG_WHEEL wheel"
    pip_install "$VENV" "$PG_WHEEL"
fi
"$VENV/bin/python" -c "import ckan, ckanext.datastore, psycopg2"
echo "$want" > "$stamp"
