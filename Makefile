# The course's commands. Every target sets up .venv from constraints.txt first.
#   make test   — unit tests and every notebook through nbval (in parallel), the book and the browser check
#   make book   — execute the lessons and build the HTML site (book/_build/html); SOLUTIONS=no for a class site
#   make format — ruff format the package and every notebook's code cells
#   make lab    — JupyterLab with the course's environment; .md notebooks open as notebooks
#   make mutants — the planted-bug suite: every catalogued bug must fail its unit tests and its lesson
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SITE := book/_build/html
export PYTHONHASHSEED := 0

.PHONY: setup test book lab exercises pair format system browser constraints clean mutants

# pip installs uv (pinned in constraints.txt), uv installs the rest: the same versions from the same places
# pip is set up to take them from (tools/uv_install.py), in a third of the time.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt uv
	$(BIN)/python tools/uv_install.py $(VENV) -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# Debian packages the tests use, installed only where we are root (elsewhere the tests that need them say
# why they skip; under CI=true they fail). chromium: the browser check of the site. bubblewrap: the
# grader's sandbox. Add a package to this list to install it too.
APT_PACKAGES := chromium bubblewrap
system:
	@missing=$$(for package in $(APT_PACKAGES); do dpkg -s $$package >/dev/null 2>&1 || echo $$package; done); \
	if [ -z "$$missing" ]; then echo "installed: $(APT_PACKAGES)"; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null && echo "installed now: $$missing"; \
	else echo "missing and not root: $$missing (the tests that need them will skip; install them with apt-get)"; fi
browser: system

# An offline copy of MathJax 3, pinned by book/package-lock.json.
ASSETS := book/_extra/_static
$(ASSETS)/.copied: book/package.json book/package-lock.json
	cd book && npm ci --no-audit --no-fund --loglevel=error
	rm -rf book/_extra && mkdir -p $(ASSETS)/mathjax
	cp -r book/node_modules/mathjax/es5/. $(ASSETS)/mathjax/
	touch $@

# SOLUTIONS=no builds a class site without the solution pages (every solutions/ line of the toc dropped).
SOLUTIONS ?= yes
TOC := $(if $(filter no,$(SOLUTIONS)),book/_build/toc-class.yml,book/_toc.yml)
book: $(STAMP) $(ASSETS)/.copied
	rm -rf book/_build/.doctrees book/_build/html
	mkdir -p book/_build && grep -v 'solutions/' book/_toc.yml > book/_build/toc-class.yml
	$(BIN)/jupyter-book build . --config book/_config.yml --toc $(TOC) --path-output book -W -n --keep-going
	@echo "The site is at $(SITE)/index.html"

# Every notebook is executed once: nbval runs the lessons and solutions (in parallel with the unit tests,
# JOBS workers, one notebook per worker at a time), mmgp_lesson.executed hands their outputs to the
# book's cache, the book is built from it without executing anything, and the browser opens it.
# --dist loadfile keeps each file on one worker: nbval's cells of a notebook share one kernel and run in
# order (worksteal would split a notebook's cells across workers). One torch thread per worker: JOBS
# workers already keep the cores busy.
JOBS ?= $(shell nproc)
NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=300
# The environment, the Debian packages and MathJax are set up side by side (make -j3 setup): mostly downloads.
setup: $(STAMP) system $(ASSETS)/.copied
test:
	$(MAKE) --no-print-directory -j3 setup
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS) --dist loadfile -p mmgp_lesson.executed $(NBVAL) \
	    tests notebooks solutions --ignore=tests/test_site.py
	$(MAKE) book
	$(BIN)/python -m pytest -n $(JOBS) tests/test_site.py

# Formats the code cells of every lesson and solution with ruff ([tool.ruff] in pyproject.toml: 88
# columns), through jupytext, then regenerates the exercises and the .ipynb twins. tests/test_format.py
# fails when a notebook is left unformatted.
format: $(STAMP)
	$(BIN)/jupytext --quiet --pipe-fmt py:percent --pipe "$(BIN)/ruff format -" notebooks/*.md solutions/*.md
	$(BIN)/mmgp-lesson exercises

# The planted-bug suite (not part of `make test`): each bug of mutants/catalogue.py in a copy of the package,
# against its unit tests and its lesson; prints the table, writes benchmarks/results/mutants.json.
mutants: $(STAMP)
	$(BIN)/python -m mutants.run

# lab/overrides.json makes JupyterLab open the .md lessons as notebooks (through jupytext).
lab: $(STAMP)
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp lab/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	$(BIN)/jupyter lab $(LAB_ARGS)

exercises: $(STAMP)
	$(BIN)/mmgp-lesson exercises

pair: $(STAMP)
	$(BIN)/mmgp-lesson pair

constraints: $(STAMP)
	(echo "# Exact versions every 'make' target installs (pip install -c constraints.txt)."; echo "# Regenerate with: make constraints"; \
	 $(BIN)/python -m pip freeze --exclude-editable | sed 's/+cpu$$//') > constraints.txt

clean:
	rm -rf book/_build
