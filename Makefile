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

demo: $(STAMP)
	$(BIN)/cranial-sct simulate --subjects 2 --fields 0.064,1.5,3,7 --contrasts t1w,t2w,flair \
		--spacing 1.5 --seed 0 --out runs/demo/cohort --preview --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) runs
