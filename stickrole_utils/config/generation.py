"""Settings of the generation protocol (``generation:`` section of a params file): context chunks,
sampling, prompt templates, and what every model is asked.

Every model has ``extra="forbid"``: an unknown key is an error, not a warning.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from .base import Strict
from .chunks import ChunkSpec, expand_chunk

__all__ = ["ChunkSpec", "SamplingConfig", "PromptTemplates", "GenerationConfig"]



class SamplingConfig(Strict):
    """Sampling parameters of one kind of model call. ``None`` means the backend's default."""

    temperature: float = Field(default=0.7, ge=0)
    """Sampling temperature; 0 means greedy decoding."""

    max_tokens: int | None = Field(default=100, ge=1)
    """Maximum new tokens per call; ``None``: mode default (direct 10, cot 2000)."""

    top_p: float | None = Field(default=None, gt=0, le=1)
    """Nucleus sampling threshold."""

    top_k: int | None = Field(default=None, ge=0)
    """Top-k sampling (0 disables)."""

    min_p: float | None = Field(default=None, ge=0, le=1)
    """Min-p sampling threshold."""

    repeat_penalty: float | None = Field(default=None, gt=0)
    """Repetition penalty (1.0 = none)."""


class PromptTemplates(Strict):
    """Wording of everything stickrole says to a model (defaults in ``prompts.DEFAULT_PROMPTS``).

    Placeholders in braces are filled by ``str.format``; a missing field uses the default.
    """

    persona: str | None = None
    """Persona-setting text, ``{description}`` and ``{name}`` available."""

    human_interlocutor: str | None = None
    """System text for the simulated human interlocutor (``{knows}`` = knows_persona text)."""

    persona_interlocutor: str | None = None
    """System text for a persona interlocutor (``{description}``, ``{knows}``)."""

    knows_persona: str | None = None
    """Sentence inserted as ``{knows}`` when the interlocutor is told who the persona is
    (``{name}``)."""

    query_cot: str | None = None
    """Instruction appended to each item in ``cot`` mode."""

    query_direct: str | None = None
    """Instruction appended to each item in ``direct`` and ``logprob`` mode."""

    answer_prefix: str | None = None
    """Start of the assistant turn after which ``logprob`` mode reads the letter distribution."""

    svs_most: str | None = None
    """SVS dialogue: asks for the letter of the most important value of a list."""

    svs_rate_chosen: str | None = None
    """SVS dialogue: asks to rate the value just chosen (``{value}``)."""

    svs_least: str | None = None
    """SVS dialogue: asks for the letter of the value most opposed to the persona's values."""

    svs_rest: str | None = None
    """SVS dialogue: leads the ratings of the list's other values."""

    descriptions: dict[str, str] | None = None
    """Questionnaire instructions by questionnaire name (e.g. ``{pvq40: "Read each portrait
    and say how much that person is like you."}``) instead of the item bank's (an empty text: no
    instructions)."""


class GenerationConfig(Strict):
    """What every model is asked: population, chunks, instrument wording, answer mode, sampling."""

    population: str = "real_world_people"
    """Personas: a built-in set (``real_world_people``, ``famous_people``,
    ``tolkien_characters``), ``no_persona`` or ``no_persona:<N>`` (the paper's persona-less
    setting: N participants, default 50, with no persona message, differing only by their option
    orders), ``original:<name>`` for the original's
    ``personas/<name>/personas.json`` under ``data_path`` (``real_world_people``,
    ``famous_people``, ``tolkien_characters``), or a path to a JSON/YAML persona file."""

    n_personas: int | None = Field(default=None, ge=1)
    """Use only the first n personas of the population (``None``: all)."""

    chunks: list[ChunkSpec] = Field(
        default_factory=lambda: [ChunkSpec.model_validate(expand_chunk("chunk_no_conv"))],
        min_length=1)
    """Chunks to run, in order: preset names or chunk mappings (see ``ChunkSpec``), each
    expanded into a complete spec when the params are read (``config.chunks.expand_chunk``)."""

    items: dict[str, list[int]] | None = None
    """Ask only these item numbers per questionnaire (e.g. ``{pvq40: [1, 2, 3]}``); ``None``: all.
    For quick demos; a reduced item set changes the value scores."""

    instrument_source: Literal["builtin", "original"] = "builtin"
    """Item wording: stickrole's own (``builtin``) or the original's questionnaire CSVs under
    ``data_path`` (``original``, for exact replication)."""

    mode: Literal["logprob", "direct", "cot"] = "cot"
    """``logprob``: probability of each option letter as the next token after the answer prefix
    (one forward pass, argmax; the PLOS ONE method); ``direct``: a short "(X)" reply (the no-CoT
    leaderboard); ``cot``: reasoning then "Answer: (X)" (the current leaderboard)."""

    n_messages: int = Field(default=3, ge=1)
    """Simulated messages after the opener (odd, so that the persona speaks last)."""

    interlocutor_knows_persona: bool = False
    """Tell the interlocutor which persona the chatbot plays (PLOS ONE: true; leaderboard:
    false)."""

    conversation: SamplingConfig = SamplingConfig()
    """Sampling for simulated conversation turns (original: T 0.7, 100 tokens)."""

    answer: SamplingConfig = SamplingConfig(temperature=0.0, max_tokens=None)
    """Sampling for questionnaire answers in direct/cot mode (original: T 0; max tokens 10 / 2000)."""

    permute_options: bool = True
    """Show the options in a seeded permuted order (the original does)."""

    permutation_scheme: Literal["per_item", "original"] = "per_item"
    """``per_item``: one independent permutation per (persona, item) from the chunk's seed string;
    ``original``: the original's draws (Python ``random.seed(seed string)``, ``random.choices``
    over all permutations) with its slicing bug (persona p, item k gets draw p + k)."""

    seed: int = 0
    """Base seed for sampled conversation turns and the dummy model (0 is a valid seed)."""

    system_role: Literal["auto", "system", "user"] = "auto"
    """Where the persona text goes: a system message, or the first user turn; ``auto`` uses a
    system message when the model's chat template accepts one."""

    persona_turn: Literal["merged", "separate"] = "merged"
    """How the persona text goes into the user side when it is not a system message:
    ``merged`` into the first user turn (stickrole), or ``separate``: a user turn of its own
    answered by an assistant "OK" (the original's way; a lone question without history still
    carries it in the same turn, as in the original)."""

    parsing: Literal["stickrole", "original"] = "stickrole"
    """How ``direct``/``cot`` replies are read (``docs/method.md``, Unparsed answers):
    ``stickrole``'s rules, or ``original``: in ``cot`` exactly one case-sensitive "Answer:" and
    its next 40 characters, in ``direct`` the whole reply; then the alphabetically first "(X)"
    found; anything else unparsed."""

    on_context_overflow: Literal["skip", "stop"] = "skip"
    """A prompt longer than the context window: ``skip`` records the unit's items as NaN with the
    reason; ``stop`` ends the run with an error. Never truncated silently."""

    svs_dialogue: bool = True
    """Administer SVS-57 as the original's sequential dialogue (most/least important value first,
    answers kept in the history); ``False`` asks each SVS item independently."""

    prompts: PromptTemplates = PromptTemplates()
    """Overrides of the prompt wording."""

    prompts_file: str | None = None
    """A YAML file giving every text said to a model: each key of ``prompts`` plus ``openers``
    (topic -> opening text of ``context: topic`` chunks), e.g. the original's texts for an exact
    replication, which stickrole does not carry (docs/replication.md). Every
    key must be there (``descriptions`` and ``openers`` may be empty mappings); fields set in
    ``prompts`` override the file's. Relative to the params file."""

    strip_replies: bool = True
    """Strip the white space around each simulated conversation reply (stickrole); ``False``
    keeps a reply exactly as generated, as the original does. An empty reply is a single space
    either way."""

    @field_validator("chunks", mode="before")
    @classmethod
    def _expand(cls, chunks: Any) -> Any:
        if not isinstance(chunks, list):
            return chunks
        out = []
        for i, chunk in enumerate(chunks):
            try:
                out.append(expand_chunk(chunk))
            except ValueError as exc:
                raise ValueError(f"chunk {i}: {exc}") from None
        return out

    @field_validator("chunks")
    @classmethod
    def _unique_labels(cls, chunks: list[ChunkSpec]) -> list[ChunkSpec]:
        labels = [c.label for c in chunks]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ValueError(f"chunk labels must be unique; repeated: {', '.join(dup)}")
        return chunks

    @field_validator("n_messages")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 != 1:
            raise ValueError(f"must be odd so that the persona speaks last; got {v}")
        return v
