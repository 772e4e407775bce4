#!/usr/bin/env bash
# Run HERE (a machine with PyPI) before a GPU session: puts under .gpu/ (git-ignored through
# .git/info/exclude) what benchmarks/gpu/run.sh needs on a GPU machine that can fetch nothing:
#   - llama-cpp-python's source, stripped of what a CUDA build does not use (vocabulary test
#     files, docs, git history: the full sdist is 77 MB, over the 64 MiB a device call carries);
#   - wheels of the Python packages stickrole needs that the device image lacks (Python 3.12);
#   - the token plan of the leaderboard protocol (needs ../shared's data, which does not travel).
# Then call the device tool with carry [".gpu"] and: bash benchmarks/gpu/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
PY=${PY:-.venv/bin/python}
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu/whl .gpu/src
tmp=$(mktemp -d)
python3 -m pip download -q --no-deps --no-binary=:all: "llama-cpp-python==$VERSION" -d "$tmp"
tar xzf "$tmp/llama_cpp_python-$VERSION.tar.gz" -C "$tmp"
src="$tmp/llama_cpp_python-$VERSION"
rm -rf "$src/.git" "$src/vendor/llama.cpp/models" "$src/vendor/llama.cpp/docs" \
       "$src/vendor/llama.cpp/media" "$src/vendor/llama.cpp/benches" "$src/docs"
tar czf ".gpu/src/llama_cpp_python-$VERSION.tar.gz" -C "$tmp" "llama_cpp_python-$VERSION"
rm -rf "$tmp"
# what stickrole's generation imports and the image lacks (pydantic, its parts, diskcache for
# llama-cpp-python, gguf for the synthetic models), as wheels for CPython 3.12 on x86-64
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .gpu/whl pydantic==2.14.4 pydantic-core==2.50.5 annotated-types typing-inspection \
  diskcache gguf==0.19.0
PYTHONPATH=$PWD "$PY" benchmarks/protocol_estimate.py plan params/leaderboard.yaml \
  > .gpu/leaderboard-plan.json

# the embedded SmolLM2's tokenizer and chat template (no weights: 94 MB would not travel), the
# donor of the synthetic models run.sh writes there
PYTHONPATH=$PWD "$PY" benchmarks/synthetic_gguf.py .gpu/donor.gguf --tokenizer-only
du -sh .gpu .gpu/*
