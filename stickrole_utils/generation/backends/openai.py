"""The openai backend: chat completions from an OpenAI-compatible HTTP server (llama-server,
vLLM). It serves modes ``direct`` and ``cot`` only: such servers give no next-token letter
distribution, so ``logprob`` mode is declared unsupported (``modes``).

A reasoning model's reasoning comes back in the reply's ``reasoning_content`` (the server's
reasoning parser; vLLM's newer ``reasoning``), else inline between the markers of its format in
the content (``backends.reasoning``): either way the reply stickrole keeps is the text after
it. Requests carry replies only, never the reasoning of earlier turns.

:meth:`OpenAIBackend.chat_many` keeps up to ``n_parallel`` requests in flight (a thread pool), so
a server started with several slots (``llama-server --parallel N``, vLLM) batches them; every
request has its own seed and retries, and replies come back in request order, so the answers do
not depend on which request finishes first."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from pydantic import Field

from ...config import ModelEntry, SamplingConfig
from ...errors import BackendError, ConfigError
from .base import (
    BackendBase,
    BackendOptions,
    ContextOverflowError,
    Generation,
    Message,
    estimate_prompt_tokens,
    estimate_tokens,
    mode_problem,
    register_backend,
)
from .reasoning import ReasoningOptions, ReasoningPlan, plan_reasoning, split_reasoning

__all__ = [
    "OpenAIOptions",
    "OpenAIBackend",
]

_log = logging.getLogger(__name__)


class _OpenAIFields(BackendOptions):
    """The openai options other than the reasoning ones (listed first)."""

    operational = frozenset({"api_key_env", "timeout_s", "max_retries"})

    model: str = Field(min_length=1)
    """The served model name (the request's ``model``)."""

    base_url: str = Field(min_length=1)
    """Server URL up to ``/v1`` (e.g. ``http://127.0.0.1:8000/v1``)."""

    api_key_env: str | None = None
    """Name of the environment variable holding the API key (never the key itself)."""

    timeout_s: float = Field(default=120.0, gt=0)
    """Per-request timeout in seconds."""

    max_retries: int = Field(default=5, ge=0)
    """Retries with exponential backoff before giving up."""


class OpenAIOptions(ReasoningOptions, _OpenAIFields):
    """A model served by an OpenAI-compatible server (llama-server, vLLM). A reasoning model's
    reasoning is read from ``reasoning_content``, else from the markers of ``reasoning_format``
    (default ``think``) in the reply; with ``reasoning: on`` its budget is added to each
    request's ``max_tokens`` (a server cannot stop the reasoning at a budget of its own), and a
    reply without a closing marker counts as unclosed."""


#: ``n_parallel: auto``: the server batches requests, so many in flight pay (as on a GPU).
AUTO_N_PARALLEL: dict[str, int] = {"direct": 32, "cot": 32}


@register_backend("openai")
class OpenAIBackend(BackendBase):
    """Chat completions from an OpenAI-compatible server (llama-server, vLLM).

    Connection errors, timeouts, HTTP 429 and 5xx are retried ``max_retries`` times with
    exponential backoff (``backoff_s * 2**attempt``); then :class:`BackendError`. A 400 reply that
    mentions the context length becomes :class:`ContextOverflowError`.

    :meth:`usage` takes the reply's ``usage`` field: ``prompt_tokens``, ``completion_tokens``, and
    as evaluated tokens ``prompt_tokens`` less the server's cached ones
    (``prompt_tokens_details.cached_tokens``, or llama-server's ``timings.prompt_n``), all of
    them when the server reports no cache. A reply without ``usage`` is counted by the
    tokenizer-free estimate (characters / 4, plus 4 per prompt message).
    """

    Options = OpenAIOptions
    modes = ("direct", "cot")
    identity_keys = ("backend", "base_url", "model", "reasoning")

    def __init__(self, entry: ModelEntry, backoff_s: float = 1.0):
        super().__init__(entry)
        #: the one place that knows this model's reasoning: its options (no template to read)
        self.reasoning: ReasoningPlan = plan_reasoning(self.opts, None, f"model {entry.name}",
                                                       detect=False)
        self.backoff_s = backoff_s
        n = entry.n_parallel
        self.n_parallel = n if n != "auto" else AUTO_N_PARALLEL[entry.mode or "cot"]
        # at most n_parallel requests in flight, whoever sends them (chat_many, units side by
        # side)
        self._gate = threading.BoundedSemaphore(self.n_parallel)

    @property
    def units_in_flight(self) -> int:
        """Units generation may administer side by side (their requests share the
        ``n_parallel`` in flight): the conversation turns of several units reach the server
        together."""
        return self.n_parallel

    def unit_view(self, unit: Any) -> OpenAIBackend:
        """The backend itself: it is safe to call from several threads."""
        return self

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = (self.opts.base_url or "").rstrip("/") + path
        headers = {"Content-Type": "application/json"}
        if self.opts.api_key_env:
            key = os.environ.get(self.opts.api_key_env)
            if not key:
                raise ConfigError(f"model {self.entry.name}: environment variable "
                                  f"{self.opts.api_key_env} (api_key_env) is not set")
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode()
        last = ""
        attempts = self.opts.max_retries + 1
        for attempt in range(attempts):
            req = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.opts.timeout_s) as resp:
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

    @classmethod
    def check(cls, entry: ModelEntry, options: OpenAIOptions,  # type: ignore[override]
              where: str) -> None:
        """``reasoning: off`` names the served model's switch: a server's reply cannot be
        started with an empty reasoning block (the in-process way for a model without one)."""
        if (options.reasoning == "off" and options.reasoning_format != "none"
                and options.reasoning_switch in ("auto", "none")):
            raise ConfigError(f"{where}: reasoning: off for a served model needs its switch: "
                              "reasoning_switch: enable_thinking (sent as chat_template_kwargs) "
                              "or detailed_thinking (Nemotron's system line)")

    @classmethod
    def reasoning_budget(cls, entry: ModelEntry,  # type: ignore[override]
                         options: OpenAIOptions) -> int:
        """``reasoning_budget`` with ``reasoning: on`` (what each request adds), else 0."""
        return options.reasoning_budget if options.reasoning == "on" else 0

    def chat(self, messages: list[Message], sampling: SamplingConfig, seed: int) -> Generation:
        plan = self.reasoning
        body: dict[str, Any] = {"model": self.opts.model,
                                "messages": plan.messages(messages, send_reasoning=False),
                                "temperature": sampling.temperature, "n": 1,
                                "seed": int(seed % (2**31))}
        if sampling.max_tokens is not None:
            body["max_tokens"] = sampling.max_tokens + (plan.budget if plan.mode == "on" else 0)
        if plan.template_kwargs():
            body["chat_template_kwargs"] = plan.template_kwargs()
        for ours, theirs in (("top_p", "top_p"), ("top_k", "top_k"), ("min_p", "min_p"),
                             ("repeat_penalty", "repetition_penalty")):
            if getattr(sampling, ours) is not None:
                body[theirs] = getattr(sampling, ours)
        with self._gate:
            reply = self._post("/chat/completions", body)
        try:
            message = reply["choices"][0]["message"]
            text = message.get("content") or ""
            reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise BackendError(f"model {self.entry.name}: unexpected reply from server: "
                               f"{str(reply)[:200]}") from None
        gen, evaluated = _counted(reply, messages, *self._split(text, reasoning))
        self._usage.add(gen.prompt_tokens, evaluated, gen.completion_tokens,
                        gen.reasoning_tokens)
        return gen

    def _split(self, content: str, reasoning: str) -> tuple[str, str, str]:
        """(reply, reasoning, status) of a reply: the server's ``reasoning_content`` when it
        gives one (any closing marker still in the content ends the reasoning there), else the
        markers of the model's format in the content."""
        plan = self.reasoning
        if reasoning:
            if plan.fmt is not None and plan.fmt.close in content:
                inline = split_reasoning(content, plan.fmt, opened=True)
                return inline.reply, f"{reasoning}\n{inline.reasoning}".strip(), "closed"
            return content, reasoning, "closed"
        on = plan.mode == "on"
        split = split_reasoning(content, plan.fmt, opened=on, expected=on)
        return split.reply, split.reasoning, split.status

    def chat_many(self, messages: list[list[Message]], sampling: SamplingConfig,
                  seeds: list[int]) -> list[Generation]:
        """:meth:`chat` for each (messages, seed), up to ``n_parallel`` requests in flight;
        replies in the order asked. An error of any request is raised (the first in request
        order) once every request has finished."""
        if len(messages) != len(seeds):
            raise ValueError("chat_many: one seed per conversation")
        workers = min(self.n_parallel, len(messages))
        if workers <= 1:
            return [self.chat(m, sampling, s) for m, s in zip(messages, seeds, strict=True)]
        with ThreadPoolExecutor(max_workers=workers,
                                thread_name_prefix=f"stickrole-{self.entry.name}") as pool:
            futures = [pool.submit(self.chat, m, sampling, s)
                       for m, s in zip(messages, seeds, strict=True)]
        return [f.result() for f in futures]

    def option_logprobs(self, prompts: list[list[Message]], letters: list[list[str]],
                        answer_prefix: str, seeds: list[int]) -> list[np.ndarray]:
        raise BackendError(f"model {self.entry.name}: {mode_problem('openai', 'logprob')}")

    def info(self) -> dict[str, Any]:
        return {"backend": "openai", "base_url": self.opts.base_url, "model": self.opts.model,
                "timeout_s": self.opts.timeout_s, "max_retries": self.opts.max_retries,
                "reasoning": self.reasoning.info()}



def _counted(reply: dict[str, Any], messages: list[Message], text: str, reasoning: str = "",
             status: str = "") -> tuple[Generation, int]:
    """The reply as a :class:`Generation` with its token counts, and the prompt tokens the server
    evaluated (see :class:`OpenAIBackend`). Reasoning tokens: the server's
    ``completion_tokens_details.reasoning_tokens``, else estimated from the reasoning text."""
    usage = reply.get("usage")
    n_reasoning = estimate_tokens(reasoning)
    if not isinstance(usage, dict) or "prompt_tokens" not in usage:
        n_prompt = estimate_prompt_tokens(messages)
        return Generation(text, n_prompt, estimate_tokens(text) + n_reasoning, reasoning, status,
                          n_reasoning), n_prompt
    n_prompt = int(usage.get("prompt_tokens") or 0)
    details = usage.get("prompt_tokens_details") or {}
    timings = reply.get("timings") or {}
    if isinstance(details, dict) and details.get("cached_tokens") is not None:
        evaluated = n_prompt - int(details["cached_tokens"])
    elif isinstance(timings, dict) and timings.get("prompt_n") is not None:
        evaluated = int(timings["prompt_n"])
    else:
        evaluated = n_prompt
    completion = usage.get("completion_tokens_details") or {}
    if isinstance(completion, dict) and completion.get("reasoning_tokens") is not None:
        n_reasoning = int(completion["reasoning_tokens"])
    n_completion = int(usage.get("completion_tokens") or 0)
    gen = Generation(text, n_prompt, n_completion, reasoning, status,
                     min(n_reasoning, n_completion) if n_completion else n_reasoning)
    return gen, max(0, min(evaluated, n_prompt))

