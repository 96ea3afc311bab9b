# make run   — install, build the demo database if missing, serve the dashboard on 127.0.0.1:8501
# make test  — install the test stack (and, as root, Chromium and PostgreSQL), run pytest
# make demo  — rebuild the demo database
# make clean — remove the virtual environment and the demo database
# make lint  — ruff's checks and its formatter's (pyproject.toml); CI runs it before the tests
# make format — format the code as `make lint` wants it (ruff format)
# make lock  — re-pin requirements.lock and requirements-dev.lock (every package, with hashes) from requirements*.txt
# make bench — measure every page at small and large scale on SQLite and PostgreSQL: bench/results.json, bench/report.md
#              (quicker: make bench BENCH_SCALES=small BENCH_DATABASES=sqlite BENCH_BROWSER=0 BENCH_REPEAT=1;
#              BENCH_MERGE=1 keeps the results of the scale × database pairs not re-run)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ADDRESS ?= 127.0.0.1
PORT ?= 8501
PYTEST_ARGS ?=
# The suite runs in worker processes, each given whole test files (a module's servers and databases are shared by its
# tests), the longest files first (tests/conftest.py LONGEST_FIRST). One more worker than this machine's two cores:
# browser tests spend much of their time waiting on a page.
# TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 3
# NumPy's and SciPy's OpenBLAS start a thread per core whose busy-waiting, for the small arrays this code uses, doubled
# the CPU of a forecast with no gain in time (calibration: 6.8 s of CPU against 3.4 s single-threaded, same 3.4 s
# wall) and took the cores from the other tests' and users' work. One thread, for the app, the tests and the bench.
export OPENBLAS_NUM_THREADS ?= 1
BENCH_SCALES ?= small,large
BENCH_DATABASES ?= sqlite,postgresql
BENCH_REPEAT ?= 3
BENCH_BROWSER ?= 1
BENCH_MERGE ?= 0
CHROMIUM ?= /usr/bin/chromium
# The demo always goes to its own file, even when DASHBOARD_DATABASE_URL points elsewhere,
# so `make run` never writes demo data into a real database.
DEMO_URL := sqlite:///$(CURDIR)/data/demo.db
PIP := $(PY) -m pip --disable-pip-version-check --no-input
APT_GET := DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: run test lint format lock demo clean bench system-packages

run: $(VENV)/.runtime-installed
	$(PY) -m dashboard.demo --url $(DEMO_URL) --if-missing
	$(VENV)/bin/streamlit run app.py --server.address $(ADDRESS) --server.port $(PORT)

test: $(VENV)/.dev-installed system-packages
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev-installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# requirements*.txt are what people edit (the direct dependencies, pinned); the locks pin everything they pull in, with
# hashes, and are what gets installed. pip-tools runs in a venv of its own, so it never lands in the app's.
LOCK_VENV := .venv-lock
lock:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip --disable-pip-version-check -q install pip-tools==7.7.0
	for name in requirements requirements-dev; do \
	  $(LOCK_VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-header \
	    --annotation-style=line --no-emit-index-url --no-emit-find-links -o $$name.lock $$name.txt || exit 1; \
	done

demo: $(VENV)/.runtime-installed
	$(PY) -m dashboard.demo --url $(DEMO_URL) --replace

# The databases are built once and kept in bench/data/ (rebuilt when the demo generator or the schema changes).
bench: $(VENV)/.dev-installed system-packages
	$(PY) -m bench.run --scales $(BENCH_SCALES) --databases $(BENCH_DATABASES) --repeat $(BENCH_REPEAT) \
	  $(if $(filter 0,$(BENCH_BROWSER)),--no-browser) $(if $(filter 1,$(BENCH_MERGE)),--merge)
	$(PY) -m bench.report bench/results.json > bench/report.md

clean:
	rm -rf $(VENV) data/demo.db data/demo.db-journal data/demo.db-wal data/demo.db-shm

# Debian's python3 needs python3-venv for `-m venv`; install it once if that is what fails.
$(PY):
	$(PYTHON) -m venv $(VENV) || { \
	  [ "$$(id -u)" = 0 ] && rm -rf $(VENV) && $(APT_GET) update && $(APT_GET) install -y python3-venv \
	  && $(PYTHON) -m venv $(VENV); }

# The stamps make re-runs skip pip until a lock changes. --require-hashes: every package is the one that was locked.
$(VENV)/.runtime-installed: requirements.lock | $(PY)
	$(PIP) install --require-hashes -r requirements.lock
	touch $@

$(VENV)/.dev-installed: requirements.lock requirements-dev.lock | $(PY)
	$(PIP) install --require-hashes -r requirements-dev.lock
	touch $@ $(VENV)/.runtime-installed

# Browser tests drive the system Chromium (Playwright cannot download its own here); the
# PostgreSQL tests start a throwaway server from the Debian binaries. As root, install what is
# missing; otherwise say so (those tests skip, or fail under CI=true).
system-packages:
	@missing=""; \
	[ -x $(CHROMIUM) ] || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "Installing$$missing"; \
	  $(APT_GET) update && $(APT_GET) install -y $$missing; \
	else \
	  echo "make test: missing$$missing and not root: install with 'sudo apt-get install -y$$missing';" \
	       "the tests that need it are skipped (and fail under CI=true)." >&2; \
	fi
