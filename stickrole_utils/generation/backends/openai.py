"""The openai backend: chat completions from an OpenAI-compatible HTTP server (llama-server,
vLLM). It serves modes ``direct`` and ``cot`` only: such servers give no next-token letter
distribution, so ``logprob`` mode is declared unsupported (``modes``)."""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ...config import ModelEntry, SamplingConfig
from ...errors import BackendError, ConfigError
from .base import ContextOverflowError, Generation, Message, mode_problem, register_backend

__all__ = [
    "OpenAIBackend",
]

_log = logging.getLogger(__name__)


@register_backend("openai")
@dataclass
class OpenAIBackend:
    """Chat completions from an OpenAI-compatible server (llama-server, vLLM).

    Connection errors, timeouts, HTTP 429 and 5xx are retried ``entry.max_retries`` times with
    exponential backoff (``backoff_s * 2**attempt``); then :class:`BackendError`. A 400 reply that
    mentions the context length becomes :class:`ContextOverflowError`.
    """

    entry: ModelEntry
    backoff_s: float = 1.0
    system_role_supported: bool = field(default=True, init=False)
    modes: ClassVar[tuple[str, ...]] = ("direct", "cot")

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = (self.entry.base_url or "").rstrip("/") + path
        headers = {"Content-Type": "application/json"}
        if self.entry.api_key_env:
            key = os.environ.get(self.entry.api_key_env)
            if not key:
                raise ConfigError(f"model {self.entry.name}: environment variable "
                                  f"{self.entry.api_key_env} (api_key_env) is not set")
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode()
        last = ""
        attempts = self.entry.max_retries + 1
        for attempt in range(attempts):
            req = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.entry.timeout_s) as resp:
                    return json.loads(resp.read().decode())
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace")[:300]
                if exc.code == 400 and "context" in detail.lower():
                    raise ContextOverflowError(f"model {self.entry.name}: server says the prompt "
                                               f"is too long: {detail}") from None
                if exc.code != 429 and exc.code < 500:
                    raise BackendError(f"model {self.entry.name}: {url} answered HTTP {exc.code}:"
                                       f" {detail}") from None
                last = f"HTTP {exc.code}: {detail}"
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                last = str(getattr(exc, "reason", exc))
            except json.JSONDecodeError as exc:
                last = f"invalid JSON reply ({exc})"
            if attempt < attempts - 1:
                delay = self.backoff_s * 2**attempt
                _log.warning("%s: attempt %d/%d failed (%s); retrying in %.1fs", url, attempt + 1,
                             attempts, last, delay)
                time.sleep(delay)
        raise BackendError(f"model {self.entry.name}: cannot reach {url} after {attempts} "
                           f"attempt(s): {last}; is the server running?")

    def chat(self, messages: list[Message], sampling: SamplingConfig, seed: int) -> Generation:
        body: dict[str, Any] = {"model": self.entry.model, "messages": messages,
                                "temperature": sampling.temperature, "n": 1,
                                "seed": int(seed % (2**31))}
        if sampling.max_tokens is not None:
            body["max_tokens"] = sampling.max_tokens
        for ours, theirs in (("top_p", "top_p"), ("top_k", "top_k"), ("min_p", "min_p"),
                             ("repeat_penalty", "repetition_penalty")):
            if getattr(sampling, ours) is not None:
                body[theirs] = getattr(sampling, ours)
        reply = self._post("/chat/completions", body)
        try:
            text = reply["choices"][0]["message"].get("content") or ""
        except (KeyError, IndexError, TypeError):
            raise BackendError(f"model {self.entry.name}: unexpected reply from server: "
                               f"{str(reply)[:200]}") from None
        usage = reply.get("usage") or {}
        return Generation(text=text, prompt_tokens=int(usage.get("prompt_tokens", 0)),
                          completion_tokens=int(usage.get("completion_tokens", 0)))

    def option_logprobs(self, prompts: list[list[Message]], letters: list[list[str]],
                        answer_prefix: str, seeds: list[int]) -> list[np.ndarray]:
        raise BackendError(f"model {self.entry.name}: {mode_problem('openai', 'logprob')}")

    def info(self) -> dict[str, Any]:
        return {"backend": "openai", "base_url": self.entry.base_url, "model": self.entry.model,
                "timeout_s": self.entry.timeout_s, "max_retries": self.entry.max_retries}

    def close(self) -> None:
        return None

