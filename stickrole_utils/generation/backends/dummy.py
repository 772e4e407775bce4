"""The dummy backend: the research random baseline (uniformly random answers)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ...config import ModelEntry, SamplingConfig
from .base import (
    ANSWER_MODES,
    Generation,
    Message,
    TokenUsage,
    UsageCounter,
    estimate_prompt_tokens,
    estimate_tokens,
    register_backend,
)

__all__ = [
    "DummyBackend",
]

_FILLER = (
    "That is an interesting point, and I would like to hear more about it.",
    "I see what you mean; it reminds me of something that happened to me once.",
    "Let me think about that for a moment before I answer.",
    "I am not sure I agree, but it is worth discussing.",
)
_OPTION_LINE = re.compile(r"^\(([A-Za-z])\) ", re.MULTILINE)


@register_backend("dummy")
class DummyBackend:
    """Uniformly random answers with the real protocol's structure: the random baseline.

    Replies to a message listing lettered options with ``"Answer: (X)"`` for a uniformly drawn
    letter, to anything else with a canned sentence; in ``logprob`` mode the letter
    probabilities are a flat Dirichlet draw (so the argmax is uniform). Everything is seeded by
    the per-call seed, so a run is reproducible and independent of call order.

    Its :meth:`usage` evaluates nothing (``evaluated_tokens`` 0) and estimates the rest without a
    tokenizer: prompt tokens as :func:`~.base.estimate_prompt_tokens` (characters / 4 plus 4 per
    message), generated tokens as characters / 4 of the reply.
    """

    system_role_supported = True
    modes = ANSWER_MODES

    def __init__(self, entry: ModelEntry):
        self.entry = entry
        self._usage = UsageCounter()

    def chat(self, messages: list[Message], sampling: SamplingConfig, seed: int) -> Generation:
        rng = np.random.default_rng([self.entry.seed, seed])
        letters = _OPTION_LINE.findall(messages[-1]["content"]) if messages else []
        if letters:
            text = f"Answer: ({letters[int(rng.integers(len(letters)))]})"
        else:
            text = _FILLER[int(rng.integers(len(_FILLER)))]
        n_prompt, n_reply = estimate_prompt_tokens(messages), estimate_tokens(text)
        self._usage.add(prompt=n_prompt, generated=n_reply)
        return Generation(text=text, prompt_tokens=n_prompt, completion_tokens=n_reply)

    def option_logprobs(self, prompts: list[list[Message]], letters: list[list[str]],
                        answer_prefix: str, seeds: list[int]) -> list[np.ndarray]:
        out = []
        for msgs, lets, seed in zip(prompts, letters, seeds, strict=True):
            self._usage.add(prompt=estimate_prompt_tokens(msgs, answer_prefix))
            rng = np.random.default_rng([self.entry.seed, seed])
            out.append(np.log(rng.dirichlet(np.ones(len(lets)))))
        return out

    def info(self) -> dict[str, Any]:
        return {"backend": "dummy", "seed": self.entry.seed}

    def usage(self) -> TokenUsage:
        return self._usage.total()

    def close(self) -> None:
        return None
