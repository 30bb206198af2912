# Two entry points for a fresh machine with Python 3.11 (see README).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# torch is pinned in constraints.txt and installed in the same pip call as everything that depends on it,
# so pip takes the local CPU build instead of a multi-GB CUDA one.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The whole story on the built-in data: simulate a multi-field phantom cohort, train the cascade and the
# baselines at 1.5 T, predict every field, evaluate, and write the HTML report (quick preset, CPU).
demo: $(STAMP)
	$(BIN)/cranial-sct benchmark --preset quick --out runs/demo

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) runs
