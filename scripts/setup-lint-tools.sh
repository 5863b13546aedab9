#!/usr/bin/env bash
# The linter and type checker with pins of their own, in .venv-lint (requirements-lint.txt). Idempotent.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"

# shellcheck source=scripts/venv.sh
source "$root/scripts/venv.sh"

venv_from_requirements "$root/.venv-lint" "$root/requirements-lint.txt" \
  "$root/.venv-lint/bin/ruff" --version
