# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Every install (make setup, CI, the bundle, scripts/wheel_check.sh) takes its versions
# from LOCK; `make lock` regenerates it from pyproject.toml with uv.
LOCK := requirements.lock
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-$(shell $(PYTHON) -c "import hashlib,sys;print(hashlib.sha256(open('pyproject.toml','rb').read()+open('$(LOCK)','rb').read()).hexdigest()[:12])")

.PHONY: setup run test lint typecheck mypy-baseline coverage format bench sysdeps clean lock
.PHONY: wheel-check

setup: $(STAMP)

# The locked versions first, then tvdesk itself without resolving anything again.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-* $(VENV)/.bundle-*
	touch $(STAMP)

# requirements.lock from pyproject.toml: every extra, for every OS (markers), Python 3.11.
# uv is a build tool here, kept out of the app's venv.
UV := build/lock-tools/bin/uv
LOCK_ARGS := pyproject.toml --extra test --extra dev --extra bundle --extra bench --python-version 3.11 --quiet

$(UV):
	$(PYTHON) -m venv build/lock-tools
	build/lock-tools/bin/python -m pip install --quiet uv==$(UV_VERSION)

lock: $(UV)
	$(UV) pip compile $(LOCK_ARGS) --universal --custom-compile-command "make lock" -o $(LOCK)

# The floors are true: the suite at the lowest versions pyproject.toml allows (its own
# venv, build/lowest-venv; not part of `make test`, it runs the whole suite once more).
.PHONY: test-lowest
test-lowest: $(UV) sysdeps
	$(UV) pip compile $(LOCK_ARGS) --resolution lowest-direct -o build/lowest.lock
	$(PYTHON) -m venv build/lowest-venv
	build/lowest-venv/bin/python -m pip install --quiet -r build/lowest.lock
	build/lowest-venv/bin/python -m pip install --quiet --no-deps -e .
	QT_QPA_PLATFORM=offscreen build/lowest-venv/bin/python -m pytest -n auto

# The built wheel installed in a fresh venv under /tmp (locked versions), then its --self-test.
wheel-check:
	sh scripts/wheel_check.sh

# The Windows build of Python under Wine runs the core and door tests, a headless engine,
# and builds the PyInstaller bundle and self-tests it (scripts/wine_check.sh; installs
# wine with apt-get; .ci/run runs it after make test).
.PHONY: wine-check
wine-check: setup
	sh scripts/wine_check.sh

# Issue 18's "fresh Debian 12 with only make and Python": a new Debian 12 root (debootstrap)
# entered with chroot, where make setup, make run (no keyring; a screenshot to
# docs/screenshots/fresh-debian.png), the wheel check, docs/server.md's systemd recipe
# and make test must pass (scripts/fresh_debian_check.sh; root; 11 min here, 5.5 of them
# without make test: FRESH_DEBIAN_TESTS=0; too slow for .ci/run).
.PHONY: fresh-debian-check
fresh-debian-check:
	sh scripts/fresh_debian_check.sh

# docs/server.md's files: the image built and run (with Docker), else the image's install
# run in a venv, the Dockerfile linted (hadolint) and the systemd unit verified.
.PHONY: server-check
server-check:
	sh scripts/docker_check.sh

# System libraries Qt needs on a bare Linux box (offscreen GUI tests); no-op elsewhere.
sysdeps:
	@sh scripts/sysdeps.sh

run: setup sysdeps
	$(BIN)/tvdesk

# Lint, types, then the suite spread over every core (pytest-xdist, one process per core:
# tests take ephemeral ports and tmp dirs, so they share nothing). Coverage is not in it: it
# made the engine-starting tests ~45% slower here; `make coverage` measures it instead.
test: setup sysdeps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/mypy_baseline.py
	@if [ -x $(BIN)/actionlint ]; then $(BIN)/actionlint .github/workflows/ci.yml; \
	else echo "actionlint: no wheel for this OS; ci.yml is checked on Linux and Windows"; fi
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -n auto

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/mypy_baseline.py

# mypy ([tool.mypy] in pyproject.toml): tvdesk/core and tvdesk/store strict and clean; the
# rest at mypy's defaults, where the errors that predate the check are listed in
# mypy-baseline.txt (file, code, message: no line numbers) and only an error not listed
# there fails. `make mypy-baseline` rewrites the list (it refuses core/ and store/ errors).
# PySide6's Qt-property keywords (QLabel(objectName=...)), missing from its stubs, don't count.
typecheck: setup
	$(BIN)/python scripts/mypy_baseline.py

mypy-baseline: setup
	$(BIN)/python scripts/mypy_baseline.py --update

# The whole suite under coverage.py, the engine and fake-exchange processes it starts
# measured too ([tool.coverage.run] patch = subprocess): a table of the files not fully
# covered and the TOTAL line. Data in build/coverage/.
coverage: setup sysdeps
	rm -rf build/coverage
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m coverage run -m pytest -n auto -q
	$(BIN)/python -m coverage combine --quiet
	$(BIN)/python -m coverage report

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python tests/perf/bench_webhook.py

# Every panel of the window rendered offscreen to docs/screenshots/*.png (the README shows them).
.PHONY: screenshots
screenshots: setup sysdeps
	QT_QPA_PLATFORM=offscreen $(BIN)/python scripts/screenshots.py

# The desktop app as one folder, dist/tvdesk/ (PyInstaller, packaging/tvdesk.spec; build on
# each OS for that OS), then the bundle's own self-test. See packaging/README.md.
.PHONY: bundle bundle-report startup

bundle: setup sysdeps
	@sh packaging/builddeps.sh
	$(BIN)/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build packaging/tvdesk.spec
	dist/tvdesk/tvdesk --self-test

# What is inside dist/tvdesk by size, and what it needs from the system (for packaging/README.md).
bundle-report:
	$(BIN)/python packaging/report.py dist/tvdesk

# Start-up to window shown and engine ready: python -m tvdesk, then the bundle (5 runs each).
startup: setup
	$(BIN)/python packaging/startup.py
	$(BIN)/python packaging/startup.py dist/tvdesk/tvdesk

clean:
	rm -rf $(VENV) build dist *.egg-info
