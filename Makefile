# The course's commands. Every target sets up .venv from constraints.txt first.
#   make test   — unit tests, every notebook through nbval, exercises, the book and the browser check
#   make book   — execute the lessons and build the HTML site (book/_build/html)
#   make lab    — JupyterLab with the course's environment; .md notebooks open as notebooks
#   make mutants — the planted-bug suite: every catalogued bug must fail its unit tests and its lesson
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SITE := book/_build/html
export PYTHONHASHSEED := 0

.PHONY: test book lab exercises pair browser constraints clean mutants

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# Debian's Chromium for the browser test; installed only where we are root (elsewhere the test says why it skips).
browser:
	@if [ -x /usr/bin/chromium ]; then echo "chromium: $$(/usr/bin/chromium --version)"; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && echo "chromium installed"; \
	else echo "chromium missing and not root: the browser test will skip (install Debian's chromium to run it)"; fi

# Offline copies of MathJax 3, require.js and the ipywidgets HTML manager, pinned by book/package-lock.json.
ASSETS := book/_extra/_static
$(ASSETS)/.copied: book/package.json book/package-lock.json book/require-config.js
	cd book && npm ci --no-audit --no-fund --loglevel=error
	rm -rf book/_extra && mkdir -p $(ASSETS)/mathjax $(ASSETS)/widgets
	cp -r book/node_modules/mathjax/es5/. $(ASSETS)/mathjax/
	cp book/node_modules/requirejs/require.js book/require-config.js $(ASSETS)/widgets/
	cp book/node_modules/@jupyter-widgets/html-manager/dist/*.{js,woff,woff2,ttf,eot,svg} $(ASSETS)/widgets/
	touch $@

book: $(STAMP) $(ASSETS)/.copied
	rm -rf book/_build/.doctrees
	$(BIN)/jupyter-book build . --config book/_config.yml --toc book/_toc.yml --path-output book -W -n --keep-going
	@echo "The site is at $(SITE)/index.html"

# The book is built first: its browser check (tests/test_site.py) runs with the rest of the suite.
test: $(STAMP) browser book
	$(BIN)/python -m pytest tests --nbval-lax --nbval-current-env --nbval-cell-timeout=300 notebooks solutions

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
