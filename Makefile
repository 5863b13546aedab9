# bqdump: `make run` serves real data on http://127.0.0.1:$(PORT); `make test` runs every test.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8080
export PORT

.PHONY: run test lint venv tools demo bench rehearse package deploy clean clean-data

# Set-up prints one line per step (scripts/setup-venv.sh); `make run` installs only what it needs, `make test`
# the rest. A venv that already has the test packages has everything `make run` needs.
$(VENV)/.installed-run: requirements.txt requirements-run.txt
	@if [ $(VENV)/.installed -nt requirements.txt ] && [ $(VENV)/.installed -nt requirements-run.txt ]; then :; \
	else PYTHON=$(PYTHON) bash scripts/setup-venv.sh $(VENV) requirements-run.txt; fi
	@touch $@

$(VENV)/.installed: requirements.txt requirements-run.txt requirements-dev.txt
	@PYTHON=$(PYTHON) bash scripts/setup-venv.sh $(VENV) requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed-run
	@echo "bqdump: loading the demo tables (once: later runs keep them)"
	@$(PY) main.py demo

run: demo
	@echo "bqdump: starting the server on port $(PORT)"
	@$(PY) main.py serve

# The scanners, emulators, the real CKAN of tests/ckan, the linter and the type checker live in virtualenvs of their
# own (their pins clash with ours); headless Chromium (a download client of tests/test_follow_clients.py) comes from
# Debian's apt, as root only.
tools: venv
	PYTHON=$(PYTHON) bash scripts/setup-terraform-tools.sh
	PYTHON=$(PYTHON) bash scripts/setup-emulators.sh
	PYTHON=$(PYTHON) bash scripts/setup-ckan.sh
	PYTHON=$(PYTHON) bash scripts/setup-lint-tools.sh
	bash scripts/setup-browser.sh

# ruff and mypy, configured in pyproject.toml; mypy reads the project's packages from $(VENV).
lint: tools
	.venv-lint/bin/ruff check .
	.venv-lint/bin/mypy --python-executable $(PY)

test: lint
	$(PY) -m pytest -q

bench: tools  # the Google cache-hit and concurrency benchmarks run on the emulators
	$(PY) benchmarks/run_all.py --readme

# Deploy rehearsal (DEPLOY.md): plan terraform/examples/basic with TFVARS (default: its example variables) and
# run the planned functions end to end on the emulators. Run it before `terraform apply`.
rehearse: tools
	BQDUMP_TFVARS=$(if $(TFVARS),$(abspath $(TFVARS)),) $(PY) -m pytest -q tests/contract/test_deploy_rehearsal.py

# The functions' source zip (build/bqdump-source.zip, reproducible); terraform/examples/basic uploads it by content hash.
package:
	$(PYTHON) scripts/package.py

# Package and apply terraform/examples/basic (terraform on PATH, terraform.tfvars filled in, TF_VAR_dump_token_key
# set: DEPLOY.md). Extra arguments: make deploy APPLY_ARGS=-auto-approve
deploy: package
	@test -n "$$TF_VAR_dump_token_key" || { echo 'export TF_VAR_dump_token_key="$$(openssl rand -base64 48)" first (DEPLOY.md)' >&2; exit 2; }
	cd terraform/examples/basic && terraform init -input=false && terraform apply $(APPLY_ARGS)

# The local backend's data (DUMP_LOCAL_DIR): tables, exports, the demo files, the generated key; only what bqdump
# writes there is deleted, never the folder's other contents.
DATA := $(or $(DUMP_LOCAL_DIR),.bqdump)

clean-data:
	rm -rf "$(DATA)/tables" "$(DATA)/bucket" "$(DATA)/scratch" "$(DATA)/demo" "$(DATA)/token-secret.key"
	-rmdir "$(DATA)" 2>/dev/null || true

clean: clean-data
	rm -rf $(VENV) .venv-ckan .bqdump/ckan-cache .bqdump/ckan-conformance.json .pytest_cache build
