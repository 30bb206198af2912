# Two entry points for a fresh machine with Python 3.11 (see README).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test docs install clean builtin

$(BIN)/python:
	$(PY) -m venv $(VENV)

# uv installs what pip would (the same versions), in 40 s instead of pip's 50-106 s on 2 cores
# (docs/notes/test-time.md). It compiles their bytecode, as pip does: where PYTHONDONTWRITEBYTECODE is set, every
# process would otherwise compile torch and monai again (13 s an import; the train CLI test took 49 s instead of 16).
# torch is pinned in constraints.txt and installed in the same call as everything that depends on it, and uv is
# shown the wheel folders pip finds (PIP_FIND_LINKS, else pip's configured find-links), so it takes the machine's
# local CPU build of PyTorch where there is one instead of a multi-GB CUDA one.
UV := $(BIN)/uv
FIND_LINKS := $(or $(PIP_FIND_LINKS),$(shell $(PY) -m pip config get global.find-links 2>/dev/null))
UV_INSTALL := $(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt $(addprefix --find-links ,$(FIND_LINKS))

$(UV): $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check 'uv>=0.5'

$(STAMP): $(UV) pyproject.toml constraints.txt
	$(UV_INSTALL) -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The main job as a user meets it: one 1-mm phantom head predicted by the built-in model (runs/demo/index.html),
# then the quick cross-field benchmark (train at 1.5 T, test every field; runs/demo/benchmark/report.html).
demo: $(STAMP)
	$(BIN)/cranial-sct demo --out runs/demo

# Reproduce the built-in model's weights from the phantom (configs/builtin.yaml, then configs/builtin_refine.yaml;
# hours on a CPU, each phase resumable).
builtin: $(STAMP)
	test -f runs/builtin-cohort/manifest.csv || $(BIN)/cranial-sct simulate --out runs/builtin-cohort --subjects 48 \
		--fields 0.064,1.5,3,7 --contrasts t1w,t2w,flair --spacing 2 --seed 1
	$(BIN)/cranial-sct train --config configs/builtin.yaml $$(test -f runs/builtin/checkpoints/last.pt && echo --resume)
	$(BIN)/cranial-sct train --config configs/builtin_refine.yaml $$(test -f runs/builtin-refine/checkpoints/last.pt && echo --resume)
	$(BIN)/cranial-sct export --checkpoint runs/builtin-refine/checkpoints/last.pt --out src/cranial_sct/weights/builtin.pt \
		--recipe "make builtin (configs/builtin.yaml, then configs/builtin_refine.yaml)"

# One test process per core (pytest-xdist), a test file per process so module fixtures are built once.
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile

# The documentation site (MkDocs Material + mkdocstrings) into site/; a broken link or missing page fails it.
DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): $(STAMP)
	$(UV_INSTALL) -e '.[docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) runs site
