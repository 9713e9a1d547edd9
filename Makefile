# Two commands for a newcomer: `make run` and `make test`. Everything else is a step they need.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENDOR := web/static/vendor
DSFR := node_modules/@gouvfr/dsfr/dist
CATALOGUE_PO := web/translations/fr/LC_MESSAGES/messages.po
CATALOGUE_MO := $(CATALOGUE_PO:.po=.mo)
HOST ?= 127.0.0.1
PORT ?= 5000
# The demo's stand-in for FranceConnect: an OpenID provider on this machine (oidc-provider-mock).
FC_PORT ?= $(shell echo $$(( $(PORT) + 400 )))
FC_DEMO_USERS := '{"sub":"fc-camille-martin","given_name":"Camille","family_name":"MARTIN","birthdate":"1987-03-14","email":"famille.martin@bellerive.example"}' \
  '{"sub":"fc-nadia-lopez","given_name":"Nadia","family_name":"LOPEZ","birthdate":"1990-11-02","email":"nadia.lopez@bellerive.example"}'
export FLASK_APP := web:create_app

.PHONY: help run test two-nodes lint typecheck install install-dev assets system-deps bench clean

help:
	@echo "make run   - install, migrate, seed the demo and start the portal on http://$(HOST):$(PORT) (or make run PORT=5001)"
	@echo "make test  - install the test tools and run the whole suite"
	@echo "make bench - run the benchmarks under bench/"
	@echo "make two-nodes - two web nodes and two workers, one of each killed half-way (about 2 min)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	echo "Installation des dépendances Python dans $(VENV) (quelques minutes la première fois)"
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/.installed-demo: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[demo]'
	touch $@

node_modules/.installed: package.json package-lock.json
	echo "Installation des bibliothèques du navigateur (npm ci)"
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

$(VENDOR)/.copied: node_modules/.installed
	rm -rf $(VENDOR)
	mkdir -p $(VENDOR)/dsfr $(VENDOR)/htmx $(VENDOR)/bpmn-js $(VENDOR)/dmn-js $(VENDOR)/form-js
	cp -r $(DSFR)/dsfr.min.css $(DSFR)/dsfr.module.min.js $(DSFR)/dsfr.nomodule.min.js \
	      $(DSFR)/fonts $(DSFR)/icons $(DSFR)/favicon $(DSFR)/utility $(DSFR)/artwork $(VENDOR)/dsfr/
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx/
	cp node_modules/bpmn-js/dist/bpmn-modeler.production.min.js \
	   node_modules/bpmn-js/dist/bpmn-navigated-viewer.production.min.js $(VENDOR)/bpmn-js/
	cp -r node_modules/bpmn-js/dist/assets $(VENDOR)/bpmn-js/
	cp node_modules/dmn-js/dist/dmn-modeler.production.min.js $(VENDOR)/dmn-js/
	cp -r node_modules/dmn-js/dist/assets $(VENDOR)/dmn-js/
	cp node_modules/@bpmn-io/form-js/dist/form-editor.umd.js $(VENDOR)/form-js/
	cp node_modules/@bpmn-io/form-js/dist/assets/form-js.css \
	   node_modules/@bpmn-io/form-js/dist/assets/form-js-editor.css \
	   node_modules/@bpmn-io/form-js/dist/assets/properties-panel.css \
	   node_modules/@bpmn-io/form-js/dist/assets/draggle.css $(VENDOR)/form-js/
	touch $@

$(CATALOGUE_MO): $(CATALOGUE_PO) $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -d web/translations -D messages --statistics 2>&1 | tail -1

install: $(VENV)/.installed $(VENDOR)/.copied $(CATALOGUE_MO)
install-dev: install $(VENV)/.installed-dev
assets: $(VENDOR)/.copied

# Debian packages the suite needs (`make run`: the first two only): libmagic for python-magic,
# libdmtx for 2D-Docs, Chromium for the browser tests, openssl for the test timestamping
# authority (`openssl ts -reply`), pg_dump and pg_restore for the backup test.
system-deps:
	missing=()
	# Read once, then searched: `ldconfig -p | grep -q` fails at random under pipefail (grep
	# leaves at the first match, ldconfig then dies of SIGPIPE) and asked for installed packages.
	libraries=$$(ldconfig -p)
	grep -q 'libmagic.so.1' <<<"$$libraries" || missing+=(libmagic1)
	grep -q 'libdmtx.so' <<<"$$libraries" || missing+=(libdmtx0b)  # 2D-Doc DataMatrix (pylibdmtx)
	if [[ "$(DEPS_FOR)" != run ]]; then  # the rest only the tests need
	  command -v openssl >/dev/null || missing+=(openssl)
	  command -v pg_dump >/dev/null || missing+=(postgresql-client)
	  command -v chromium >/dev/null || missing+=(chromium)
	  # ClamAV's daemon: the tests start their own, with signatures of their own (no freshclam).
	  command -v clamd >/dev/null || [[ -x /usr/sbin/clamd ]] || missing+=(clamav-daemon)
	fi
	if (( $${#missing[@]} )); then
	  if [[ $$(id -u) == 0 ]]; then
	    echo "Installing Debian packages: $${missing[*]}"
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$${missing[@]}" >/dev/null
	  else
	    echo "Missing Debian packages ($${missing[*]}): the tests that need them skip, or fail under CI=true (run as root to install them)."
	  fi
	fi

# `make run` prints what a newcomer reads, not the recipes: the logins, the portal's address.
.SILENT: run system-deps $(BIN)/python $(VENV)/.installed $(VENV)/.installed-dev \
  $(VENV)/.installed-demo node_modules/.installed $(VENDOR)/.copied $(CATALOGUE_MO)

# Links in e-mails and the payment's return come from BASE_URL; unset, the portal derives it
# from HOST and PORT (web/settings.py), so `make run PORT=5001` links to port 5001.
run: DEPS_FOR := run
run: export HOST := $(HOST)
run: export PORT := $(PORT)
run: export FRANCECONNECT_URL ?= http://$(HOST):$(FC_PORT)
run: export FRANCECONNECT_CLIENT_ID ?= portail-bellerive-demo
run: export FRANCECONNECT_CLIENT_SECRET ?= demo
run: export FRANCECONNECT_SCOPES ?= openid profile email
run: system-deps install $(VENV)/.installed-demo
	install -d -m 700 var  # keys and database: the portal narrows a wider mode too
	$(BIN)/flask db upgrade --quiet
	$(BIN)/flask seed-demo
	$(BIN)/flask worker >var/worker.log 2>&1 & worker=$$!
	$(BIN)/python -m oidc_provider_mock --host $(HOST) --port $(FC_PORT) \
	  $(foreach user,$(FC_DEMO_USERS),--user-claims $(user)) >var/fournisseur-identite.log 2>&1 & provider=$$!
	# Ctrl-C reaches every process of the terminal's group: the worker may be gone already,
	# and the recipe (errexit) must still end without an error for make to say nothing.
	trap 'kill $$worker $$provider 2>/dev/null || true; wait $$worker $$provider 2>/dev/null || true' EXIT
	trap 'exit 0' INT TERM
	echo "Tâches de fond (worker) : journal dans var/worker.log"
	echo "FranceConnect de démonstration : $$FRANCECONNECT_URL (fournisseur OpenID local)"
	echo "Ctrl-C pour arrêter."
	$(BIN)/gunicorn --bind $(HOST):$(PORT) --workers 2 --threads 4 --log-level warning \
	  --access-logfile - --logger-class web.access_log.MaskingLogger 'web:create_app()'

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# Two pytest workers: the suite runs in 600 s instead of 750 s on 2 cores (README, Testing).
PYTEST_WORKERS ?= 2

test: system-deps install-dev lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Two web nodes and two workers on PostgreSQL, the S3 server, SMTP and Redis, one of each
# killed half-way (tests/two_nodes/, README "Production topology and its limits"): about
# two minutes, so not part of `make test`.
two-nodes: system-deps install-dev
	$(BIN)/pytest -m two_nodes tests/two_nodes $(PYTEST_ARGS)

bench: install-dev
	for script in bench/*.py; do echo "== $$script"; $(BIN)/python "$$script"; done

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache .mypy_cache .ruff_cache
