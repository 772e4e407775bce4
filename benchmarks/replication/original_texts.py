"""Read the original's prompt texts out of a user's checkout of flowersteam/value_stability.

stickrole carries none of the original's sentences. For an exact replication they are read at
run time from the user's checkout, from these places (commit e3dd748), by parsing the Python
source (``ast``; nothing of the original is imported or run):

==========================  ===============================================================
prompts-file key            where the text lives in the original
==========================  ===============================================================
``persona``                 ``evaluate.py``, ``get_prompt_skeleton``: ``prefix`` of the chat
                            (non-base-model) branch and ``set_persona_str``
``human_interlocutor``      ``simulate_conversation_utils.py``, ``simulate_conversation``,
                            chat branch: ``interlocutor_persona_set_str`` (human),
                            ``n_sent_instr``, joined as in ``sys_msg``
``persona_interlocutor``    the same, ``interlocutor_persona_set_str`` of a persona
                            interlocutor (its description becomes ``{description}``)
``knows_persona``           the same function, ``chatbot_persona_str`` (chat branch; the
                            persona's name becomes ``{name}``)
``query_cot``               ``models/vllmmodel.py``, ``APIModel.__init__``: ``query_string``
                            when ``cot`` (its leading newline dropped: stickrole puts one
                            newline between the options and the instruction)
``query_direct``            the same, ``query_string`` without ``cot``
``answer_prefix``           ``svs_utils.py``: the text before the letter in the answer that
                            the SVS dialogue puts back into the history (the paper's
                            logprob prompt ended with the same text)
``svs_most``, ``svs_least`` ``svs_utils.py``: the ``most`` / ``least`` texts of List I in the
                            dict of extreme-value instructions (List II's differ slightly in
                            the original; stickrole has one text for both lists)
``svs_rate_chosen``         ``svs_utils.py``: the f-string given as ``questionnaire_description``
                            when the chosen extreme value is rated (``{value}``)
``svs_rest``                ``svs_utils.py``, ``score_non_extreme_value_svs``: the
                            ``questionnaire_description`` of the first other value
``descriptions.pvq40``      ``evaluate.py``, ``get_prompt_skeleton``: ``questionnaire_description``
                            of the PVQ branch
``openers``                 ``simulate_conversation_utils.py``: ``opening_questions_for_themes``
                            (the entries that are plain strings: poem, joke, history, chess,
                            grammar, ...)
==========================  ===============================================================

:func:`original_prompts` returns them as a dict with the keys of stickrole's prompts file
(``generation.prompts_file``) plus ``openers``; :func:`write_prompts_file` writes that YAML.
Each extraction fails with a message naming the file and the variable it looked for, so a
different commit of the original is noticed rather than silently half-read.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

__all__ = ["original_prompts", "write_prompts_file", "PROMPT_KEYS"]

#: The keys of a prompts file, every one required.
PROMPT_KEYS = ("persona", "human_interlocutor", "persona_interlocutor", "knows_persona",
               "query_cot", "query_direct", "answer_prefix", "svs_most", "svs_rate_chosen",
               "svs_least", "svs_rest", "descriptions", "openers")


class OriginalTextError(RuntimeError):
    """A text was not found where the original (commit e3dd748) keeps it."""


def _parse(root: Path, rel: str) -> ast.Module:
    path = root / rel
    if not path.is_file():
        raise OriginalTextError(f"{path} not found: is {root} a checkout of "
                                "flowersteam/value_stability (commit e3dd748)?")
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _function(tree: ast.AST, name: str, rel: str) -> ast.FunctionDef:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise OriginalTextError(f"{rel}: function {name} not found")


def _assigns(node: ast.AST, target: str) -> list[ast.expr]:
    """Values assigned to the plain name or attribute ``target`` anywhere under ``node``, in
    source order."""
    out = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Assign):
            for t in sub.targets:
                name = (t.id if isinstance(t, ast.Name)
                        else t.attr if isinstance(t, ast.Attribute) else None)
                if name == target:
                    out.append(sub.value)
    return sorted(out, key=lambda v: (v.lineno, v.col_offset))


def _render(value: ast.expr, names: dict[str, str], where: str) -> str:
    """A string constant or f-string, each ``{expr}`` replaced by ``names[source of expr]``
    (the other text kept as is)."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    if isinstance(value, ast.JoinedStr):
        parts = []
        for piece in value.values:
            if isinstance(piece, ast.Constant):
                parts.append(piece.value)
            elif isinstance(piece, ast.FormattedValue):
                src = ast.unparse(piece.value)
                if src not in names:
                    raise OriginalTextError(f"{where}: unexpected placeholder {{{src}}}")
                parts.append(names[src])
        return "".join(parts)
    raise OriginalTextError(f"{where}: not a string literal ({ast.unparse(value)[:60]})")


def _chat_branch(func: ast.FunctionDef, test_src: str, where: str) -> list[ast.stmt]:
    """The ``else`` bodies of the ``if <test_src>:`` statements inside ``func`` (the chat-model
    branch)."""
    out = [s for node in ast.walk(func)
           if isinstance(node, ast.If) and ast.unparse(node.test) == test_src
           for s in node.orelse]
    if not out:
        raise OriginalTextError(f"{where}: no `if {test_src}: ... else:` branch")
    return out


def _in(stmts: list[ast.stmt], target: str, where: str) -> list[ast.expr]:
    vals = [v for s in stmts for v in _assigns(s, target)]
    if not vals:
        raise OriginalTextError(f"{where}: no assignment to {target}")
    return vals


def _brace(text: str) -> str:
    """A literal text inside a str.format template."""
    return text.replace("{", "{{").replace("}", "}}")


def original_prompts(root: str | Path) -> dict[str, Any]:
    """The original's prompt texts, keyed as stickrole's prompts file (see the module table).

    Placeholders use stickrole's names: ``{description}``, ``{name}``, ``{knows}``; literal
    braces of the original's texts are doubled where stickrole formats the text.
    """
    root = Path(root)
    out: dict[str, Any] = {}

    # evaluate.py: persona sentence and PVQ instructions
    rel = "evaluate.py"
    skel = _function(_parse(root, rel), "get_prompt_skeleton", rel)
    where = f"{rel}:get_prompt_skeleton"
    prefix = _render(_in(_chat_branch(skel, "base_model_template", where), "prefix", where)[0],
                     {}, where)
    persona_fs = [v for v in _assigns(skel, "set_persona_str") if isinstance(v, ast.JoinedStr)]
    if not persona_fs:
        raise OriginalTextError(f"{where}: no f-string assigned to set_persona_str")
    out["persona"] = _render(persona_fs[0], {"prefix": _brace(prefix),
                                             "simulated_participant_description": "{description}"},
                             where)
    pvq = None
    for node in ast.walk(skel):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "'pvq' in experiment_name":
            pvq = _in(node.body, "questionnaire_description", where)[0]
    if pvq is None:
        raise OriginalTextError(f"{where}: no PVQ branch (`if 'pvq' in experiment_name`)")
    out["descriptions"] = {"pvq40": _render(pvq, {}, where)}

    # simulate_conversation_utils.py: interlocutors, knows-persona sentence, openers
    rel = "simulate_conversation_utils.py"
    tree = _parse(root, rel)
    sim = _function(tree, "simulate_conversation", rel)
    where = f"{rel}:simulate_conversation"
    chat = _chat_branch(sim, "llm_generator.base_model_template", where)
    sets = _in(chat, "interlocutor_persona_set_str", where)
    human = next((v for v in sets if isinstance(v, ast.Constant)), None)
    other = next((v for v in sets if isinstance(v, ast.JoinedStr)), None)
    if human is None or other is None:
        raise OriginalTextError(f"{where}: expected a human and a persona "
                                "interlocutor_persona_set_str")
    knows = next(v for v in _in(chat, "chatbot_persona_str", where)
                 if isinstance(v, ast.JoinedStr))
    one_sentence = next(v for v in _in(chat, "n_sent_instr", where)
                        if isinstance(v, ast.Constant) and v.value)
    sys_msg = _in(chat, "sys_msg", where)[0]

    def interlocutor(set_str: str) -> str:
        return _render(sys_msg, {"interlocutor_persona_set_str": set_str,
                                 "chatbot_persona_str": "{knows}",
                                 "n_sent_instr": _brace(_render(one_sentence, {}, where))}, where)

    out["human_interlocutor"] = interlocutor(_brace(_render(human, {}, where)))
    out["persona_interlocutor"] = interlocutor(
        _render(other, {"interlocutor['description']": "{description}"}, where)
        .replace("{", "{{").replace("}", "}}").replace("{{description}}", "{description}"))
    out["knows_persona"] = (
        _render(knows, {"simulated_participant['name']": "\0name\0"}, where)
        .replace("{", "{{").replace("}", "}}").replace("\0name\0", "{name}"))
    openers = _assigns(tree, "opening_questions_for_themes")
    if not openers or not isinstance(openers[0], ast.Dict):
        raise OriginalTextError(f"{rel}: no dict opening_questions_for_themes")
    out_openers = {}
    for k, v in zip(openers[0].keys, openers[0].values, strict=True):
        if (isinstance(k, ast.Constant) and isinstance(v, ast.Constant)
                and isinstance(v.value, str)):
            out_openers[k.value] = v.value
    # models/vllmmodel.py: the answer instructions
    rel = "models/vllmmodel.py"
    init = None
    for node in ast.walk(_parse(root, rel)):
        if isinstance(node, ast.ClassDef) and node.name == "APIModel":
            init = _function(node, "__init__", rel)
    if init is None:
        raise OriginalTextError(f"{rel}: class APIModel with __init__ not found")
    where = f"{rel}:APIModel.__init__"
    branch = next((n for n in ast.walk(init) if isinstance(n, ast.If)
                   and ast.unparse(n.test) == "self.cot"), None)
    if branch is None:
        raise OriginalTextError(f"{where}: no `if self.cot:` branch")
    for key, stmts in (("query_cot", branch.body), ("query_direct", branch.orelse)):
        text = _render(_in(stmts, "query_string", where)[0], {}, where)
        if not text.startswith("\n"):
            raise OriginalTextError(f"{where}: {key} does not start with a newline")
        out[key] = text[1:]
    # svs_utils.py: the text before the letter of an answer
    rel = "svs_utils.py"
    prefix_txt = None
    for node in ast.walk(_parse(root, rel)):
        if (isinstance(node, ast.JoinedStr) and len(node.values) >= 2
                and isinstance(node.values[0], ast.Constant)
                and str(node.values[0].value).startswith("Answer:")):
            prefix_txt = node.values[0].value
            break
    if prefix_txt is None:
        raise OriginalTextError(f"{rel}: no f-string starting with the answer tag")
    out["answer_prefix"] = prefix_txt
    out.update(_svs_texts(root))
    out["openers"] = out_openers
    missing = [k for k in PROMPT_KEYS if not out.get(k)]
    if missing:
        raise OriginalTextError(f"texts not found in {root}: {', '.join(missing)}")
    return {k: out[k] for k in PROMPT_KEYS}


def _svs_texts(root: Path) -> dict[str, str]:
    rel = "svs_utils.py"
    tree = _parse(root, rel)
    out: dict[str, str] = {}
    extremes = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Dict)
                       and {getattr(k, "value", None) for k in n.keys} == {"most", "least"}),
                      key=lambda n: n.lineno)
    if not extremes:
        raise OriginalTextError(f"{rel}: no dict of most/least instructions")
    for k, v in zip(extremes[0].keys, extremes[0].values, strict=True):
        out[f"svs_{k.value}"] = _render(v, {}, rel)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript)
                and ast.unparse(node.targets[0].slice) == "'questionnaire_description'"):
            continue
        if isinstance(node.value, ast.JoinedStr) and "svs_rate_chosen" not in out:
            out["svs_rate_chosen"] = _brace(_render(node.value, {"chosen_value": "\0v\0"}, rel)
                                            ).replace("\0v\0", "{value}")
        elif (isinstance(node.value, ast.Constant) and node.value.value
              and "svs_rest" not in out):
            out["svs_rest"] = node.value.value
    for key in ("svs_rate_chosen", "svs_rest"):
        if key not in out:
            raise OriginalTextError(f"{rel}: the text for {key} was not found")
    return out


def write_prompts_file(root: str | Path, path: str | Path) -> dict[str, Any]:
    """Write :func:`original_prompts` of the checkout ``root`` as YAML to ``path`` (a file of the
    user's, outside the project); returns the texts."""
    import yaml

    texts = original_prompts(root)
    Path(path).write_text(yaml.safe_dump(texts, allow_unicode=True, sort_keys=False,
                                         width=1000), encoding="utf-8")
    return texts
