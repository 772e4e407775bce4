"""The dummy backend: the research random baseline (uniformly random answers)."""

from __future__ import annotations

import re
from typing import Any, Literal

import numpy as np

from ...config import SamplingConfig
from .base import (
    BackendBase,
    BackendOptions,
    Generation,
    Message,
    estimate_prompt_tokens,
    estimate_tokens,
    register_backend,
)

__all__ = [
    "DummyOptions",
    "DummyBackend",
]

_FILLER = (
    "That is an interesting point, and I would like to hear more about it.",
    "I see what you mean; it reminds me of something that happened to me once.",
    "Let me think about that for a moment before I answer.",
    "I am not sure I agree, but it is worth discussing.",
)
_OPTION_LINE = re.compile(r"^\(([A-Za-z])\) ", re.MULTILINE)


class DummyOptions(BackendOptions):
    """The random baseline."""

    seed: int = 0
    """Seed of the baseline, combined with every call's seed (the generation seed, chunk,
    persona and item): two dummies with different seeds answer independently."""

    template: Literal["chat", "labelled"] = "chat"
    """Accepted for symmetry with llama_cpp (the replies do not depend on it)."""


@register_backend("dummy")
class DummyBackend(BackendBase):
    """Uniformly random answers with the real protocol's structure: the random baseline.

    Replies to a message listing lettered options with ``"Answer: (X)"`` for a uniformly drawn
    letter, to anything else with a canned sentence; in ``logprob`` mode the letter
    probabilities are a flat Dirichlet draw (so the argmax is uniform). Everything is seeded by
    the per-call seed and the baseline's ``seed`` option, so a run is reproducible and
    independent of call order.

    Its :meth:`usage` evaluates nothing (``evaluated_tokens`` 0) and estimates the rest without a
    tokenizer: prompt tokens as :func:`~.base.estimate_prompt_tokens` (characters / 4 plus 4 per
    message), generated tokens as characters / 4 of the reply.
    """

    Options = DummyOptions
    evaluates_prompts = False

    def chat(self, messages: list[Message], sampling: SamplingConfig, seed: int) -> Generation:
        rng = np.random.default_rng([self.opts.seed, seed])
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
            rng = np.random.default_rng([self.opts.seed, seed])
            out.append(np.log(rng.dirichlet(np.ones(len(lets)))))
        return out

    def info(self) -> dict[str, Any]:
        return {"backend": "dummy", "seed": self.opts.seed}
