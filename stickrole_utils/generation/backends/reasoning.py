"""Reasoning ("thinking") models: the formats of their replies, the switch that turns reasoning
off, the separate reasoning and reply budgets, and the split of a reply into its reasoning and
its answer (``docs/method.md``, Reasoning models).

A reasoning model writes its reasoning first, between markers, then the reply: ``<think>...
</think>`` (Qwen3, QwQ, DeepSeek-R1 distills, Nemotron), gpt-oss's analysis channel
(``<|channel|>analysis<|message|>...<|end|><|start|>assistant<|channel|>final<|message|>``),
``<reasoning>...</reasoning>`` (Reka). Each backend has one place that knows the format of its
model: the in-process backend reads it off the GGUF's chat template (:func:`format_from_template`),
a served model's reply brings its reasoning in ``reasoning_content`` (the server's reasoning
parser) or inline between the markers; a model entry may name the format instead
(``reasoning_format``). The options of every backend that runs such models are those of
:class:`ReasoningOptions`.

What generation gets back is a :class:`~.base.Generation` whose ``text`` is the reply alone and
whose ``reasoning`` is the reasoning, with ``reasoning_status``:

* ``""``: no reasoning was expected and none came (a model that does not reason);
* ``closed``: the reasoning closed once, the reply follows it;
* ``doubled``: the closing marker came more than once (the reply is what follows the last);
* ``unclosed``: the reasoning was opened but not closed before its budget ran out (no reply);
* ``absent``: reasoning was asked for (``reasoning: on``) but the reply neither opened nor
  closed it.

How each is read is the parsing rule's (``generation.parsing``): stickrole's keeps the reply of
``closed``, ``doubled`` and ``absent``; the original's, like the original code, calls anything
but exactly one closing marker an error. :func:`reasoning_problem` says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, field_validator

from ...errors import BackendError
from .base import REASONING_KEY, BackendOptions, Message

__all__ = [
    "REASONING_FORMATS",
    "REASONING_STATUSES",
    "ReasoningFormat",
    "ReasoningOptions",
    "ReasoningPlan",
    "ReasoningTracker",
    "SplitReply",
    "format_from_template",
    "switch_from_template",
    "plan_reasoning",
    "split_reasoning",
    "reasoning_problem",
]

#: Values of a :class:`~.base.Generation`'s ``reasoning_status`` (module docstring).
REASONING_STATUSES: tuple[str, ...] = ("", "closed", "doubled", "unclosed", "absent")


@dataclass(frozen=True)
class ReasoningFormat:
    """The markers of one reasoning format.

    ``open`` / ``close``: the text that opens and closes the reasoning; ``off_prefill``: the
    text that, written right after the prompt's opened assistant turn, makes the reasoning an
    empty, closed block (how reasoning is turned off where the model has no switch of its own);
    ``trim``: control text around the markers removed from both parts; ``reply_end``: text that
    ends the reply (Reka's ``<sep>``).
    """

    name: str
    open: str
    close: str
    off_prefill: str
    trim: tuple[str, ...] = ()
    reply_end: str = ""


#: The formats stickrole knows, by the name a model entry's ``reasoning_format`` gives.
REASONING_FORMATS: dict[str, ReasoningFormat] = {
    "think": ReasoningFormat("think", "<think>", "</think>", "<think>\n\n</think>\n\n"),
    "harmony": ReasoningFormat("harmony", "<|channel|>analysis<|message|>",
                               "<|channel|>final<|message|>", "<|channel|>final<|message|>",
                               trim=("<|end|>", "<|start|>assistant", "<|return|>")),
    "reasoning": ReasoningFormat("reasoning", "<reasoning>", "</reasoning>",
                                 "<reasoning>\n\n</reasoning>\n\n", reply_end="<sep>"),
}


def format_from_template(template: str | None) -> ReasoningFormat | None:
    """The reasoning format a chat template writes or strips, or ``None``.

    >>> format_from_template("{{ '<|im_start|>assistant\\n<think>\\n' }}").name
    'think'
    >>> format_from_template("<|channel|>analysis<|message|>").name
    'harmony'
    >>> format_from_template("{{ bos_token }}{{ message.content }}") is None
    True
    """
    if not template:
        return None
    if "<|channel|>" in template and "analysis" in template:
        return REASONING_FORMATS["harmony"]
    if "</think>" in template or "<think>" in template:
        return REASONING_FORMATS["think"]
    if "</reasoning>" in template:
        return REASONING_FORMATS["reasoning"]
    return None


def switch_from_template(template: str | None) -> str | None:
    """The model's own reasoning switch a chat template reads, or ``None``:
    ``enable_thinking`` (a template variable: Qwen3 and others) or ``detailed_thinking`` (the
    system line "detailed thinking on|off", Nemotron).

    >>> switch_from_template("{%- if enable_thinking is defined and enable_thinking is false %}")
    'enable_thinking'
    >>> switch_from_template("detailed thinking on"), switch_from_template("")
    ('detailed_thinking', None)
    """
    if not template:
        return None
    if "enable_thinking" in template:
        return "enable_thinking"
    if "detailed thinking" in template:
        return "detailed_thinking"
    return None


class ReasoningOptions(BackendOptions):
    """Options of a backend that runs reasoning models (its ``Options`` subclass this)."""

    reasoning: Literal["auto", "on", "off"] = "auto"
    """Reasoning ("thinking") models. ``auto``: as the model does by default, its reasoning
    kept out of every prompt and of answer parsing wherever its format is known; ``on``: the
    model reasons (turned on with its own switch where it has one); ``off``: it does not (its
    own switch, e.g. the chat-template variable ``enable_thinking`` or Nemotron's system line,
    else, in process, an empty reasoning block written ahead of the reply; a served model must
    name its switch). docs/method.md, Reasoning models."""

    reasoning_budget: int = Field(default=2000, ge=1)
    """Tokens a reply may spend reasoning, on top of the reply's own budget (the call's
    ``max_tokens``); a reasoning that has not closed by then leaves the reply unparsed
    (``reasoning_unclosed``). The original bounded each call by 2000 tokens."""

    reasoning_format: Literal["auto", "think", "harmony", "reasoning", "none"] = "auto"
    """The markers around the reasoning: ``think`` (``<think>…</think>``), ``harmony``
    (gpt-oss's analysis channel), ``reasoning`` (``<reasoning>…</reasoning>``), ``none``;
    ``auto``: the backend's own knowledge (the GGUF's chat template; a server's
    ``reasoning_content``, else ``think`` markers in the reply)."""

    reasoning_switch: Literal["auto", "enable_thinking", "detailed_thinking", "none"] = "auto"
    """How ``reasoning: on/off`` is said to the model: ``enable_thinking`` (a chat-template
    variable; to a server as ``chat_template_kwargs``), ``detailed_thinking`` (a system line
    "detailed thinking on|off", Nemotron), ``none``; ``auto``: what the chat template reads
    (a served model: none)."""

    @field_validator("reasoning", mode="before")
    @classmethod
    def _yaml_on_off(cls, value: Any) -> Any:
        """YAML reads an unquoted ``on`` / ``off`` as true / false: they mean on / off here."""
        if isinstance(value, bool):
            return "on" if value else "off"
        return value


@dataclass(frozen=True)
class ReasoningPlan:
    """How one model's reasoning is handled, resolved once when its backend is built.

    ``fmt``: its format (``None``: it does not reason, or nobody can tell); ``mode``: the
    entry's ``reasoning``; ``switch``: its own switch (``None``: none); ``budget``: the
    reasoning budget in tokens.
    """

    fmt: ReasoningFormat | None
    mode: str = "auto"
    switch: str | None = None
    budget: int = 2000

    @property
    def expected(self) -> bool:
        """Whether every reply must come after reasoning (``reasoning: on``): one that neither
        opens nor closes it is then ``absent`` (an error under the original's rule). With
        ``auto`` a reply that does not open reasoning is a plain reply."""
        return self.fmt is not None and self.mode == "on"

    def template_kwargs(self) -> dict[str, Any]:
        """Variables for the chat template (the ``enable_thinking`` switch when set)."""
        if self.switch == "enable_thinking" and self.mode in ("on", "off"):
            return {"enable_thinking": self.mode == "on"}
        return {}

    def messages(self, messages: list[Message], send_reasoning: bool = True) -> list[Message]:
        """``messages`` as the model is to see them: Nemotron's system line appended where it is
        the switch, and each assistant turn's own reasoning under the keys chat templates read
        (``reasoning_content``, ``thinking``: the template decides whether it keeps it) or, with
        ``send_reasoning`` false, dropped."""
        out = []
        for m in messages:
            m = dict(m)
            reasoning = m.pop(REASONING_KEY, None)
            if reasoning and send_reasoning and m.get("role") == "assistant":
                m["reasoning_content"] = m["thinking"] = reasoning
            out.append(m)
        if self.switch == "detailed_thinking" and self.mode in ("on", "off"):
            line = f"detailed thinking {self.mode}"
            if out and out[0].get("role") == "system":
                out[0]["content"] = f"{out[0]['content']}\n{line}"
            else:
                out.insert(0, {"role": "system", "content": line})
        return out

    def prefill(self, prompt: str = "") -> str:
        """Text written after ``prompt`` (the rendered chat, assistant turn open): an empty,
        closed reasoning block when reasoning is off and the model has no switch of its own
        (only its end where the prompt opened the block already); else nothing.

        >>> plan = ReasoningPlan(REASONING_FORMATS["think"], mode="off")
        >>> plan.prefill("<|im_start|>assistant\\n"), plan.prefill("assistant\\n<think>\\n")
        ('<think>\\n\\n</think>\\n\\n', '\\n\\n</think>\\n\\n')
        """
        if self.fmt is None or self.mode != "off" or self.switch is not None:
            return ""
        if self.opened(prompt):
            return self.fmt.off_prefill.removeprefix(self.fmt.open)
        return self.fmt.off_prefill

    def opened(self, prompt: str) -> bool:
        """Whether ``prompt`` (the rendered chat, assistant turn open) ends inside an opened
        reasoning block, so that the reply starts with reasoning (DeepSeek-R1 distills)."""
        if self.fmt is None:
            return False
        tail = prompt.rstrip()
        return tail.endswith(self.fmt.open.rstrip())

    def info(self) -> dict[str, Any]:
        """For the manifest and the run identity."""
        return {"format": self.fmt.name if self.fmt else None, "mode": self.mode,
                "switch": self.switch, "off_by": (
                    None if self.mode != "off" or self.fmt is None else
                    self.switch or "prefill"), "budget": self.budget}


def plan_reasoning(options: ReasoningOptions, template: str | None, where: str,
                   detect: bool = True) -> ReasoningPlan:
    """The :class:`ReasoningPlan` of a model from its entry's options and its chat template
    (``detect``: whether the template may be read for the format and switch; a served model's
    cannot).

    Raises
    ------
    BackendError
        ``reasoning: on`` for a model whose format is unknown (one line naming the option that
        says it).
    """
    fmt_name = options.reasoning_format
    if fmt_name == "auto":
        fmt = format_from_template(template) if detect else REASONING_FORMATS["think"]
    elif fmt_name == "none":
        fmt = None
    else:
        fmt = REASONING_FORMATS[fmt_name]
    switch_name = options.reasoning_switch
    if switch_name == "auto":
        switch = switch_from_template(template) if detect else None
    else:
        switch = None if switch_name == "none" else switch_name
    if options.reasoning == "on" and fmt is None:
        raise BackendError(f"{where}: reasoning: on, but the chat template shows no reasoning "
                           "markers; name them with reasoning_format (think, harmony, "
                           "reasoning)")
    return ReasoningPlan(fmt=fmt, mode=options.reasoning, switch=switch,
                         budget=options.reasoning_budget)


@dataclass(frozen=True)
class SplitReply:
    """A reply split into its reasoning and its answer (``status``: module docstring)."""

    reasoning: str
    reply: str
    status: str


def _trim(text: str, fmt: ReasoningFormat) -> str:
    changed = True
    while changed:
        changed = False
        for t in fmt.trim:
            stripped = text.strip()
            if stripped.startswith(t) or stripped.endswith(t):
                text = stripped.removeprefix(t).removesuffix(t)
                changed = True
    return text


def split_reasoning(text: str, fmt: ReasoningFormat | None, opened: bool = False,
                    expected: bool = False) -> SplitReply:
    """Split a generated ``text`` into reasoning and reply.

    ``opened``: the prompt already opened the reasoning (the reply starts inside it);
    ``expected``: the model is expected to reason. The reply is what follows the **last**
    closing marker (so no reasoning reaches it even when the marker comes twice), cut at the
    format's ``reply_end``.

    >>> fmt = REASONING_FORMATS["think"]
    >>> split_reasoning("<think>hm</think>\\n\\n(B)", fmt, expected=True)
    SplitReply(reasoning='hm', reply='\\n\\n(B)', status='closed')
    >>> split_reasoning("hm, let me see", fmt, opened=True, expected=True).status
    'unclosed'
    >>> split_reasoning("a</think>b</think>(C)", fmt, opened=True, expected=True)
    SplitReply(reasoning='a</think>b', reply='(C)', status='doubled')
    >>> split_reasoning("(A)", fmt, expected=True).status, split_reasoning("(A)", fmt).status
    ('absent', '')
    """
    if fmt is None:
        return SplitReply("", text, "")
    n_close = text.count(fmt.close)
    starts_open = text.lstrip().startswith(fmt.open)
    if n_close == 0:
        if opened or starts_open:
            reasoning = text.lstrip().removeprefix(fmt.open) if starts_open else text
            return SplitReply(_trim(reasoning, fmt).strip(), "", "unclosed")
        return SplitReply("", _cut_reply(text, fmt), "absent" if expected else "")
    cut = text.rfind(fmt.close)
    reasoning, reply = text[:cut], text[cut + len(fmt.close):]
    if reasoning.lstrip().startswith(fmt.open):
        reasoning = reasoning.lstrip()[len(fmt.open):]
    return SplitReply(_trim(reasoning, fmt).strip(), _cut_reply(reply, fmt),
                      "closed" if n_close == 1 else "doubled")


def _cut_reply(reply: str, fmt: ReasoningFormat) -> str:
    if fmt.reply_end and fmt.reply_end in reply:
        reply = reply[:reply.index(fmt.reply_end)]
    for t in fmt.trim:
        reply = reply.replace(t, "")
    return reply


def reasoning_problem(status: str, rule: str) -> str | None:
    """Why a reply with reasoning ``status`` cannot be read under parsing ``rule`` (the
    answer's ``parse_reason``), or ``None`` when its reply can.

    >>> reasoning_problem("unclosed", "stickrole"), reasoning_problem("doubled", "stickrole")
    ('reasoning_unclosed', None)
    >>> reasoning_problem("doubled", "original"), reasoning_problem("absent", "original")
    ('reasoning_doubled', 'reasoning_unclosed')
    """
    if status == "unclosed":
        return "reasoning_unclosed"
    if rule == "original" and status == "absent":
        return "reasoning_unclosed"  # the original: no closing tag is an error
    if rule == "original" and status == "doubled":
        return "reasoning_doubled"
    return None


@dataclass
class ReasoningTracker:
    """Follows a reply token by token: whether the model is reasoning or replying, and when
    the part it is writing has spent its budget (the reasoning's ``budget``, the reply's
    ``reply_budget``). :meth:`feed` each generated token's text (special tokens rendered); it
    says when to stop. Then :meth:`split` the whole text.

    >>> t = ReasoningTracker(REASONING_FORMATS["think"], budget=3, reply_budget=2)
    >>> [t.feed(p) for p in ["<think>", "a", "b"]], t.reasoning_tokens
    ([False, False, True], 3)
    >>> t = ReasoningTracker(REASONING_FORMATS["think"], budget=9, reply_budget=2)
    >>> [t.feed(p) for p in ["<think>", "a", "</think>", "(B", ")"]], t.reasoning_tokens
    ([False, False, False, False, True], 3)
    """

    fmt: ReasoningFormat
    budget: int
    reply_budget: int
    opened: bool = False
    expected: bool = True
    reasoning_tokens: int = 0
    reply_tokens: int = 0
    phase: str = field(default="start", init=False)
    _text: str = field(default="", init=False, repr=False)
    _pending: int = field(default=0, init=False, repr=False)
    _since: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.opened:
            self.phase = "reasoning"

    def feed(self, piece: str) -> bool:
        """One more generated token (its text); whether generation should stop now."""
        fmt = self.fmt
        self._text += piece
        if self.phase == "start":
            self._pending += 1
            head = self._text.lstrip()
            if head.startswith(fmt.open):
                self.phase, self.reasoning_tokens = "reasoning", self._pending - 1
                self._since = len(self._text) - len(head) + len(fmt.open)
            elif head and not fmt.open.startswith(head):
                self.phase, self.reply_tokens = "reply", self._pending - 1
            else:
                return False
        if self.phase == "reasoning":
            self.reasoning_tokens += 1
            if fmt.close in self._text[self._since:]:
                self.phase = "reply"
                return False
            return self.reasoning_tokens >= self.budget
        self.reply_tokens += 1
        return self.reply_tokens >= self.reply_budget

    @property
    def max_tokens(self) -> int:
        """Tokens a reply may take in all: reasoning and reply budgets."""
        return self.budget + self.reply_budget

    def split(self, text: str) -> SplitReply:
        """:func:`split_reasoning` of the whole generated ``text``."""
        return split_reasoning(text, self.fmt, self.opened, self.expected)
