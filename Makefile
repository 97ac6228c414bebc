# Two entry points for a fresh machine (nothing but Python 3.10+ needed):
#   make demo   -> create .venv, install adiw, run `adiw demo`
#   make test   -> create .venv, install adiw[test,distributed,data], run the test suite
#
# TORCH picks the torch that is installed *before* adiw. The default is a
# known CPU build so that setup never pulls several GB of CUDA wheels; a GPU
# user runs e.g. `make test TORCH=torch` (or installs adiw with plain pip).
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN     = $(VENV)/bin

.PHONY: demo test bench docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q --upgrade pip
	# Keep an already-installed torch; otherwise install $(TORCH) first.
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[test,distributed,data]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/adiw demo $(ARGS)

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q $(ARGS)

bench: $(VENV)/.installed
	$(BIN)/adiw bench $(ARGS)

docs: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e ".[docs]"
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) site build *.egg-info
