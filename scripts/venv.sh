# Sourced by the set-up scripts (needs $python): one way to build a tool's own virtualenv from its requirements.

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
