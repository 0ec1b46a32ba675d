# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell $(PYTHON) -c "import hashlib,sys;print(hashlib.sha256(open('pyproject.toml','rb').read()).hexdigest()[:12])")

.PHONY: setup run test lint format bench sysdeps clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# System libraries Qt needs on a bare Linux box (offscreen GUI tests); no-op elsewhere.
sysdeps:
	@sh scripts/sysdeps.sh

run: setup sysdeps
	$(BIN)/tvdesk

test: setup sysdeps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python tests/perf/bench_webhook.py

# Every panel of the window rendered offscreen to docs/screenshots/*.png (the README shows them).
.PHONY: screenshots
screenshots: setup sysdeps
	QT_QPA_PLATFORM=offscreen $(BIN)/python scripts/screenshots.py

# The desktop app as one folder, dist/tvdesk/ (PyInstaller, packaging/tvdesk.spec; build on
# each OS for that OS), then the bundle's own self-test. See packaging/README.md.
.PHONY: bundle bundle-report startup
BUNDLE_STAMP := $(subst .installed-,.bundle-,$(STAMP))

bundle: $(BUNDLE_STAMP) sysdeps
	@sh packaging/builddeps.sh
	$(BIN)/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build packaging/tvdesk.spec
	dist/tvdesk/tvdesk --self-test

$(BUNDLE_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bundle]'
	rm -f $(VENV)/.bundle-*
	touch $(BUNDLE_STAMP)

# What is inside dist/tvdesk by size, and what it needs from the system (for packaging/README.md).
bundle-report:
	$(BIN)/python packaging/report.py dist/tvdesk

# Start-up to window shown and engine ready: python -m tvdesk, then the bundle (5 runs each).
startup: setup
	$(BIN)/python packaging/startup.py
	$(BIN)/python packaging/startup.py dist/tvdesk/tvdesk

clean:
	rm -rf $(VENV) build dist *.egg-info
