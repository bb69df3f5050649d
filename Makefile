# Two commands on a fresh machine (Python >= 3.10, Node/npm, make):
#   make serve   build the site and serve it at http://127.0.0.1:8000 with live reload
#   make test    install what the tests need and run the whole suite
# and one to take the site away:
#   make offline the whole site as build/nnref-site.zip, to open from disk (search included)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export NO_MKDOCS_2_WARNING := 1

.PHONY: serve test build offline browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.docs: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[docs]"
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test,parity]"
	touch $@ $(VENV)/.docs

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

serve: $(VENV)/.docs node_modules/.installed
	$(BIN)/mkdocs serve -a 127.0.0.1:8000

build: $(VENV)/.docs node_modules/.installed
	$(BIN)/mkdocs build --strict

# Material's offline plugin (NNREF_OFFLINE, see mkdocs.yml); hooks/offline.py zips the folder
offline: $(VENV)/.docs node_modules/.installed
	NNREF_OFFLINE=true $(BIN)/mkdocs build --strict -d build/nnref-site

# Debian's Chromium for the reader check (Playwright cannot download browsers here)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends chromium fonts-wqy-microhei; }

# one pytest-xdist worker per core; the site is built once, in the background, and shared by them
test: $(VENV)/.test node_modules/.installed browser
	$(BIN)/python -m pytest -n auto

clean:
	rm -rf $(VENV) node_modules site build
