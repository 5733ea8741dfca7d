# `make run`: install, migrate a SQLite file under ./data/, load the demo, serve on :8000.
# `make test`: install (Python packages and, when missing, Chromium) and run every test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install browser lint typecheck pytest clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/rectify db upgrade
	$(VENV)/bin/rectify demo
	@echo "打开 http://$(HOST):$(PORT)/ 用上面的演示账号登录"
	$(VENV)/bin/rectify serve --host $(HOST) --port $(PORT)

# Chromium for the browser tests, from Debian's packages (Playwright's own download does
# not work here), and a Chinese font so screenshots show characters.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
	fi

lint: install
	$(VENV)/bin/ruff check app tests bench migrations

typecheck: install
	$(VENV)/bin/mypy app

pytest: install browser
	$(VENV)/bin/pytest -q

test: lint typecheck pytest

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
