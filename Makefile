# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Each creates .venv when it is missing and installs what it needs into it.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
APPEALS := $(VENV)/bin/appeals
FIXTURES_835 := $(wildcard fixtures/835/*.835)
FIXTURES_QUEUE := $(wildcard fixtures/queue/*.csv fixtures/queue/*.json)

.PHONY: demo test browser screenshots bench stress lint clean eval

$(VENV)/.created:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml
	$(PY) -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

# The demo counts 2026-09-20 as today (--as-of), so its letters and deadlines are the same
# whatever day it is run; set DEMO_AS_OF= to use the machine's date. Its practice (the
# letterhead, signature and payer appeal addresses) is fixtures/practice.toml.
DEMO_AS_OF ?= 2026-09-20

demo: $(VENV)/.installed
	$(APPEALS) run $(FIXTURES_835) $(FIXTURES_QUEUE) --ehr fhir-dir:fixtures/fhir \
		--out appeals-out --db appeals.db --config fixtures/practice.toml \
		$(if $(DEMO_AS_OF),--as-of $(DEMO_AS_OF))

# The browser tests (tests/web/browser) drive Debian's Chromium through the playwright
# package (a dev dependency; never `playwright install`, whose browser downloads are out of
# reach). `make test` installs chromium when it is missing and this is root with apt-get;
# elsewhere those tests skip, saying so in one line. `make browser` insists (.ci/run).
# tests/test_ehr_fhir_rest.py and benchmarks/fhir_rest.py run Medplum's FHIR router under Node
# (tests/fhir_server): its packages, pinned by package-lock.json, are installed here, never by
# the tests (which skip, saying so, without them).
FHIR_SERVER := tests/fhir_server
FHIR_SERVER_PACKAGES := $(FHIR_SERVER)/node_modules/.package-lock.json

$(FHIR_SERVER_PACKAGES): $(FHIR_SERVER)/package.json $(FHIR_SERVER)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix $(FHIR_SERVER); \
	else echo "npm is not installed: tests/test_ehr_fhir_rest.py will skip"; fi

test: $(VENV)/.installed-dev $(FHIR_SERVER_PACKAGES)
	@sh tools/install_chromium.sh --if-possible
	$(PY) -m pytest

browser: $(VENV)/.installed-dev
	sh tools/install_chromium.sh
	$(PY) -c 'import playwright.sync_api'

# docs/screenshots/*.png (linked from docs/web.md), taken in Chromium over the demo's run.
screenshots: browser
	$(PY) -m tools.web_screenshots

bench: $(VENV)/.installed-dev $(FHIR_SERVER_PACKAGES)
	$(PY) benchmarks/ingest_835.py
	$(PY) benchmarks/ingest_scale.py
	$(PY) benchmarks/workflow_e2e.py
	$(PY) benchmarks/llm_drafting.py
	$(PY) benchmarks/note_reader.py
	$(PY) benchmarks/trust_probes.py
	$(PY) benchmarks/cli_startup.py
	$(PY) benchmarks/web.py
	$(PY) benchmarks/fhir_rest.py
	$(PY) benchmarks/analytics_report.py

# Heavy runs, not part of `make test`: the 835 fuzz tests with 10x their examples (about
# 40,000 generated files, new ones each run) and 20 kill -9s of `make demo`'s run.
STRESS_FUZZ_SCALE ?= 10
STRESS_KILLS ?= 20

stress: $(VENV)/.installed-dev
	APPEALS_FUZZ_SCALE=$(STRESS_FUZZ_SCALE) $(PY) -m pytest -q -p no:cacheprovider tests/test_x12_fuzz.py
	$(PY) stress/kill_run.py --kills $(STRESS_KILLS)

eval: $(VENV)/.installed-dev
	$(APPEALS) eval --report docs/evals.md
	$(APPEALS) eval --suite real-notes --split dev --report docs/evals-real-notes-dev.md \
		$(if $(CORPUS),--corpus $(CORPUS))

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check agent tests benchmarks evals tools stress
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis dist build \
		$(FHIR_SERVER)/node_modules
