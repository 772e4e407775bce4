"""The per-model analysis: from one model's answers table to its :class:`Metrics` and tables.

:func:`analyze_model` is the one function the CLI (``stickrole analyze``), the analysis notebook
and scripts call, so all give identical numbers. Steps: validate the model's table, apply the
unparsed-item rule, score values, rank-order and ipsative stability, and per chunk the validity
metrics (Stress, the four CFA models, Cronbach alpha), then bootstrap intervals over personas
(``docs/method.md``: Unparsed answers, Rank-order stability, Ipsative stability, Circular
structure (MDS Stress), CFA (magnifying glass), Cronbach alpha, Bootstrap intervals). Chunks of
downstream tasks get their own metrics (:mod:`.downstream`; ``docs/method.md``, Downstream
behaviour); a table with only downstream chunks gives those and empty values metrics.
Writing and reading a model's directory: :mod:`.model_io`; several models and files:
:mod:`.batch`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Literal

import numpy as np
import pandas as pd

from .. import __version__
from ..config.analysis import AnalysisSettings
from ..design.chunks import order_chunks
from ..design.instruments import INSTRUMENTS, get_instrument
from ..design.values import HIGHER_ORDER
from ..errors import DataError
from .answers import validate_answers
from .bootstrap import persona_resampler, rank_order_statistic, resampled_rows
from .cfa import fit_magnifying_glass
from .cfa_ml import CRAWL_RULE, CrawlRule
from .columns import cardinal_of, cardinal_score
from .custom import compute_custom_metrics
from .downstream import (
    behaviour_scores,
    chunk_attribute,
    downstream_rank_order,
    downstream_summary,
    downstream_tasks,
    resolve_pairs,
    value_behaviour,
    value_behaviour_summary,
)
from .metrics import Metrics
from .reliability import cronbach_alpha, mean_alpha
from .scoring import item_matrix, substitute_unparsed, value_scores
from .stability import (
    ipsative,
    ipsative_summary,
    rank_order,
    rank_order_arrays,
    rank_order_fast,
    rank_order_summary,
)
from .stats import bootstrap_workers, percentile_bootstrap
from .structure import structure_stress, value_structure

__all__ = ["ModelAnalysis", "analyze_model", "FIT_FAILURE_VALUES"]

log = logging.getLogger(__name__)

#: The leaderboard's substitution for a failed CFA fit (``docs/method.md``, CFA (magnifying
#: glass)).
FIT_FAILURE_VALUES = {"cfi": 0.0, "tli": 0.0, "srmr": 1.0, "rmsea": 1.0}
_FIT_KEYS = ("cfi", "tli", "srmr", "rmsea")


@dataclass
class ModelAnalysis:
    """Everything computed for one model.

    Attributes
    ----------
    model : str
    metrics : Metrics
        The ``metrics.json`` content.
    scores : DataFrame
        ``model, chunk, persona, questionnaire, value, raw, centered``.
    rank_order : DataFrame
        ``value, chunk_a, chunk_b, r, n, reason``.
    ipsative : DataFrame
        ``persona, chunk_a, chunk_b, r, reason``.
    structure : DataFrame
        ``chunk, item, value, x, y``: MDS coordinates of the items (circle plot).
    cfa : DataFrame
        ``chunk, group, cfi, tli, srmr, rmsea, converged, improper, note``.
    behaviour : DataFrame
        Downstream behaviour scores, the ``scores`` columns (``value`` holds the task key).
    downstream_rank_order : DataFrame
        ``task, key, chunk_a, chunk_b, r, n, reason``.
    value_behaviour : DataFrame
        ``task, value, key, chunk, values_chunk, r, n, reason``.
    """

    model: str
    metrics: Metrics
    scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    rank_order: pd.DataFrame = field(default_factory=pd.DataFrame)
    ipsative: pd.DataFrame = field(default_factory=pd.DataFrame)
    structure: pd.DataFrame = field(default_factory=pd.DataFrame)
    cfa: pd.DataFrame = field(default_factory=pd.DataFrame)
    behaviour: pd.DataFrame = field(default_factory=pd.DataFrame)
    downstream_rank_order: pd.DataFrame = field(default_factory=pd.DataFrame)
    value_behaviour: pd.DataFrame = field(default_factory=pd.DataFrame)


def _values_questionnaire(answers: pd.DataFrame, source: str) -> dict[str, str]:
    """chunk -> its values questionnaire (pvq40/svs57); one per chunk."""
    out = {}
    vals = answers[answers["questionnaire"].map(lambda q: INSTRUMENTS[q].is_values)]
    for chunk, qs in vals.groupby("chunk", sort=False)["questionnaire"]:
        names = sorted(set(qs))
        if len(names) > 1:
            raise DataError(
                f"{source}: chunk {chunk!r} has answers to {' and '.join(names)}; a chunk holds "
                "one values questionnaire (label chunks apart, e.g. chunk_svs_no_conv)"
            )
        out[chunk] = names[0]
    return out


def _check_personas(answers: pd.DataFrame, chunks: list[str], source: str) -> list[str]:
    notes = []
    sets = {c: set(g) for c, g in answers.groupby("chunk", sort=False)["persona"]}
    for c in chunks:
        if len(sets[c]) < 3:
            raise DataError(
                f"{source}: chunk {c!r} has {len(sets[c])} persona(s) "
                f"({', '.join(sorted(sets[c]))}); stability needs at least 3"
            )
    union = set().union(*sets.values())
    for c in chunks:
        missing = sorted(union - sets[c])
        if missing:
            msg = (f"chunk {c!r} lacks persona(s) {', '.join(missing[:5])}"
                   f"{' ...' if len(missing) > 5 else ''}; pairs with {c!r} use the personas "
                   "present in both chunks")
            log.warning("%s: %s", source, msg)
            notes.append(msg)
    return notes


def _check_unparsed(answers: pd.DataFrame, chunks: list[str], qmap: dict[str, str],
                    settings: AnalysisSettings, source: str) -> list[str]:
    """A chunk whose every score is empty: an error with ``unparsed: drop`` (nothing would be
    left), a warning naming it with ``random`` (its numbers are pure noise). With ``drop``, every
    chunk must keep answers from at least 3 personas."""
    notes = []
    for c in chunks:
        rows = answers[(answers["chunk"] == c) & (answers["questionnaire"] == qmap[c])]
        answered = rows["score"].notna()
        if settings.unparsed == "drop":
            if not answered.any():
                raise DataError(
                    f"{source}: column 'score' is empty in all {len(rows)} rows of chunk "
                    f"{c!r}; with unparsed: drop nothing is left to analyse "
                    "(use --unparsed random, or leave the chunk out with --chunks)")
            kept = rows.loc[answered, "persona"].nunique()
            if kept < 3:
                raise DataError(
                    f"{source}: column 'score' of chunk {c!r} leaves answers from "
                    f"{kept} persona(s) after unparsed: drop; stability needs at least 3")
        elif not answered.any():
            msg = (f"column 'score' is empty in all {len(rows)} rows of chunk {c!r}: "
                   "unparsed: random replaces every one with a random option, so this "
                   "chunk measures noise")
            log.warning("%s: %s", source, msg)
            notes.append(msg)
    return notes


def _crawl_rule(settings: AnalysisSettings, *, resample: bool) -> CrawlRule | None:
    """How CFA crawls are decided (``analysis.cfa_crawls``): ``follow`` runs them to nlminb's end
    (None) for the point estimate, while the Cardinal bootstrap's resamples always judge them
    early (:data:`~.cfa_ml.CRAWL_RULE`): followed, a random-answer model's 50 resamples would
    refit 1,800 crawling CFA models for minutes; judged, seconds (docs/performance.md, CFA)."""
    return None if settings.cfa_crawls == "follow" and not resample else CRAWL_RULE


def _chunk_validity(items: pd.DataFrame, questionnaire: str, settings: AnalysisSettings,
                    alpha: bool = True) -> dict:
    inst = get_instrument(questionnaire)
    st = value_structure(items, inst, variant=settings.stress)
    fits = fit_magnifying_glass(items, inst, crawl=_crawl_rule(settings, resample=not alpha))
    alphas = cronbach_alpha(items, inst) if alpha else {}
    return {"structure": st, "cfa": fits, "alpha": alphas}


def _fit_means(fits: dict[str, dict], rule: str) -> tuple[dict[str, float], int]:
    """Mean over the four models of each fit index, applying the failure rule."""
    failures = 0
    out = {}
    for key in _FIT_KEYS:
        vals = []
        for group in HIGHER_ORDER:
            f = fits[group]
            v = f.get(key, float("nan"))
            if not f.get("converged", False) or v is None or not np.isfinite(v):
                if rule == "original":
                    v = FIT_FAILURE_VALUES[key]
                else:
                    v = float("nan")
            vals.append(v)
        out[key] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
    for group in HIGHER_ORDER:
        if not fits[group].get("converged", False):
            failures += 1
    return out, failures


def _nanmean_dict(d: dict) -> float:
    arr = np.array([v for v in d.values()], dtype=float)
    return float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")


#: How the Cardinal bootstrap computes a resample (``benchmarks/bench_bootstrap.py`` times all
#: three): ``"arrays"`` (default) selects rows of per-chunk arrays made once
#: (:func:`_cardinal_statistic`; the same numbers as ``"tables"``, bit for bit), falling back
#: to ``"tables"`` when a persona lacks an answer; ``"tables"`` builds the resampled answers
#: table and runs :func:`_core` on it, ranking with :func:`~.stability.rank_order_fast`;
#: ``"definition"`` the same with :func:`~.stability.rank_order` (equal up to rounding).
RESAMPLES: Literal["arrays", "tables", "definition"] = "arrays"


def _core(answers: pd.DataFrame, chunks: list[str], qmap: dict[str, str],
          settings: AnalysisSettings, *, tables: bool) -> tuple[dict, dict]:
    """Metrics of one (already substituted) model table; ``tables`` also returns DataFrames.

    ``tables=False`` (the Cardinal bootstrap) computes only what the Cardinal score uses: rank
    order, Stress and CFA (no ipsative stability, no alpha).
    """
    scores = value_scores(answers[answers["questionnaire"].isin(set(qmap.values()))])
    fast = None if tables or RESAMPLES == "definition" else rank_order_fast(scores, chunks)
    if fast is None:
        ro = rank_order(scores, chunks)
        m = rank_order_summary(ro, chunks)
    else:
        m = fast
    ips = None
    if tables:
        ips = ipsative(scores, chunks)
        m.update(ipsative_summary(ips))
    m["stress"], m["rank_distance"], m["cfa"] = {}, {}, {}
    m["cronbach_alpha"], m["cronbach_alpha_per_value"] = {}, {}
    m["structure_notes"] = {}
    for k in _FIT_KEYS:
        m[k] = {}
    m["cfa_failures"] = 0
    struct_rows, cfa_rows = [], []
    for c in chunks:
        rows = answers[(answers["chunk"] == c) & (answers["questionnaire"] == qmap[c])]
        v = _chunk_validity(item_matrix(rows), qmap[c], settings, alpha=tables)
        st = v["structure"]
        m["stress"][c] = float(st.stress)
        m["rank_distance"][c] = float(st.rank_distance)
        if st.note:
            m["structure_notes"][c] = st.note
        fits = v["cfa"]
        m["cfa"][c] = {
            g: {k: (float(fits[g][k]) if fits[g].get(k) is not None else float("nan"))
                for k in _FIT_KEYS}
            | {"converged": bool(fits[g]["converged"]), "improper": bool(fits[g].get("improper")),
               "note": str(fits[g].get("note", ""))}
            for g in HIGHER_ORDER
        }
        means, failures = _fit_means(fits, settings.cfa_failure)
        for k in _FIT_KEYS:
            m[k][c] = means[k]
        m["cfa_failures"] += failures
        m["cronbach_alpha_per_value"][c] = {k: float(a) for k, a in v["alpha"].items()}
        m["cronbach_alpha"][c] = mean_alpha(v["alpha"])
        if tables:
            coords = st.coords.assign(chunk=c)
            struct_rows.append(coords[["chunk", "item", "value", "x", "y"]])
            for g in HIGHER_ORDER:
                cfa_rows.append({"chunk": c, "group": g} | m["cfa"][c][g])
    for key in ("stress", "rank_distance", "cronbach_alpha", *_FIT_KEYS):
        m[f"{key}_mean"] = _nanmean_dict(m[key])
    frames = {}
    if tables:
        frames = {
            "scores": scores,
            "rank_order": ro,
            "ipsative": ips,
            "structure": pd.concat(struct_rows, ignore_index=True) if struct_rows else pd.DataFrame(),
            "cfa": pd.DataFrame(cfa_rows),
        }
    return m, frames


def analyze_model(answers: pd.DataFrame, settings: AnalysisSettings | None = None, *,
                  source: str = "<answers>", validate: bool = True,
                  pairs: Mapping[str, str] | None = None) -> ModelAnalysis:
    """Analyse one model's answers table.

    Parameters
    ----------
    answers : DataFrame
        Answers-table contract columns, rows of a single model.
    settings : AnalysisSettings
        Options (defaults reproduce the leaderboard).
    source : str
        Name of the input used in error messages (a file path).
    validate : bool
        Run :func:`stickrole_utils.analysis.answers.validate_answers` first.
    pairs : mapping, optional
        Downstream chunk -> values chunk of the same context, for the value-behaviour
        correlation. Default: ``settings.downstream_pairs``, else by the answers table's ``topic``
        (and ``replicate``) columns when
        present, else only chunks holding both kinds of answers pair with themselves
        (:func:`stickrole_utils.analysis.downstream.resolve_pairs`).

    Returns
    -------
    ModelAnalysis
        ``metrics`` follows the metrics.json contract; see :class:`ModelAnalysis` for the tables.

    Raises
    ------
    DataError
        Several models in the table, a single values chunk, fewer than 3 personas in a values
        chunk, two values questionnaires (or two downstream tasks) in one chunk, chunks named
        in settings but absent, ``pairs`` naming chunks that are not there.
    """
    settings = settings or AnalysisSettings()
    if validate:
        answers = validate_answers(answers, source)
    models = sorted(set(answers["model"]))
    if len(models) != 1:
        raise DataError(f"{source}: analyze_model expects one model, found {', '.join(models)}; "
                        "use analyze_answers for several")
    model = models[0]
    source = f"{source} (model {model!r})"  # every message below names the model
    qmap = _values_questionnaire(answers, source)
    tasks = downstream_tasks(answers, source)
    chunks, down_chunks = _select_chunks(qmap, tasks, settings.chunks, source)
    if chunks:
        metrics, frames = _analyze_values(answers, chunks, qmap, settings, source)
    else:
        metrics = {"chunks": [], "pairwise_rank_order": {}, "stress": {}, "cfi": {}, "srmr": {},
                   "rmsea": {}, "notes": [
                       f"no PVQ-40 or SVS-57 answers (questionnaires: "
                       f"{', '.join(sorted(set(answers['questionnaire'])))}): values metrics not "
                       "computed"]}
        frames = {}
    metrics["model"] = model
    if down_chunks:
        values = frames.get("scores")
        dm, dframes = _analyze_downstream(
            answers, {c: tasks[c] for c in down_chunks}, down_chunks, values,
            chunks, pairs if pairs is not None else settings.downstream_pairs, settings, source)
        metrics["notes"] += dm.pop("notes")
        metrics.update(dm)
        frames.update(dframes)
    custom = compute_custom_metrics(frames.get("scores", pd.DataFrame()), answers)
    if custom:
        metrics.update(custom)
        metrics["custom_metrics"] = list(custom)
    metrics["settings"] = settings.model_dump()
    metrics["stickrole_version"] = __version__
    return ModelAnalysis(model=model, metrics=Metrics.model_validate(metrics), **frames)


def _select_chunks(qmap: dict[str, str], tasks: dict[str, str], wanted: list[str] | None,
                   source: str) -> tuple[list[str], list[str]]:
    """(values chunks, downstream chunks) to analyse, each in :func:`order_chunks` order, or in
    the order of the ``chunks`` setting (which may name chunks of both kinds)."""
    if wanted:
        chosen = order_chunks([*qmap, *tasks], wanted, source)
        return [c for c in chosen if c in qmap], [c for c in chosen if c in tasks]
    return order_chunks(list(qmap)) if qmap else [], order_chunks(list(tasks)) if tasks else []


def _analyze_values(answers: pd.DataFrame, chunks: list[str], qmap: dict[str, str],
                    settings: AnalysisSettings, source: str) -> tuple[dict, dict]:
    """The values metrics (PVQ-40/SVS-57 chunks) and tables of one model."""
    if len(chunks) < 2:
        raise DataError(f"{source}: answers for a single chunk ({chunks[0]!r}); "
                        "stability compares chunks, so at least two are needed")
    answers = answers[answers["chunk"].isin(chunks)]
    notes = _check_personas(answers, chunks, source)

    notes += _check_unparsed(answers, chunks, qmap, settings, source)
    n_items = int(len(answers))
    subst, n_unparsed = substitute_unparsed(answers, settings.unparsed, settings.seed)
    if n_unparsed:
        notes.append(f"{n_unparsed} unparsed item(s) ({n_unparsed / n_items:.1%}) "
                     f"{'replaced by seeded random options' if settings.unparsed == 'random' else 'dropped'}")
    metrics, frames = _core(subst, chunks, qmap, settings, tables=True)
    for c, why in metrics["structure_notes"].items():
        notes.append(f"structure of {c}: {why}")
    if metrics["rank_order_nan"]:
        notes.append(f"{metrics['rank_order_nan']} of {len(frames['rank_order'])} rank-order "
                     f"correlations undefined (skipped in means): "
                     f"{'; '.join(metrics['rank_order_nan_reasons'][:3])}")
    personas = np.array(sorted(set(subst["persona"])))
    metrics.update({
        "chunks": chunks,
        "questionnaires": {c: qmap[c] for c in chunks},
        "n_personas": int(len(personas)),
        "n_items": n_items,
        "unparsed_count": n_unparsed,
        "unparsed_rate": n_unparsed / n_items if n_items else float("nan"),
        "reasoning_unclosed": (int((answers["parse_reason"] == "reasoning_unclosed").sum())
                               if "parse_reason" in answers else None),
    })
    metrics["cardinal"] = _cardinal(metrics)

    rng = np.random.default_rng(settings.seed)
    metrics["rank_order_ci"] = [math.nan, math.nan]
    metrics["cardinal_ci"] = [math.nan, math.nan]
    if settings.bootstrap > 0:
        ro_stat = rank_order_statistic(frames["scores"], chunks, personas)
        metrics["rank_order_ci"] = list(percentile_bootstrap(
            ro_stat, len(personas), settings.bootstrap, rng, settings.ci_level))
        if settings.bootstrap_cardinal > 0:
            cardinal_stat = None
            if RESAMPLES == "arrays":
                cardinal_stat = _cardinal_statistic(subst, frames["scores"], chunks, qmap,
                                                    settings, personas)
            if cardinal_stat is None:
                resample = persona_resampler(subst, personas)

                def cardinal_stat(idx: np.ndarray) -> float:
                    m, _ = _core(resample(idx), chunks, qmap, settings, tables=False)
                    return _cardinal(m | {"chunks": chunks})

            metrics["cardinal_ci"] = list(percentile_bootstrap(
                cardinal_stat, len(personas), settings.bootstrap_cardinal, rng, settings.ci_level,
                workers=bootstrap_workers(settings.bootstrap_cardinal)))

    metrics["notes"] = notes
    return metrics, frames


def _cardinal_statistic(subst: pd.DataFrame, scores: pd.DataFrame, chunks: list[str],
                        qmap: dict[str, str], settings: AnalysisSettings,
                        personas: np.ndarray) -> Callable[[np.ndarray], float] | None:
    """``idx -> `` the Cardinal score of the personas ``personas[idx]``, from arrays made once.

    What :func:`_core` (``tables=False``) computes on :func:`persona_resampler`'s table, without
    building, scoring and pivoting a table per resample: value scores and raw answers depend
    only on the persona, so a resample selects rows of per-chunk (persona x value) and
    (persona x item) arrays, in the order of the resampled table's pivots
    (:func:`~.bootstrap.resampled_rows`). Only the Cardinal score's columns are computed:
    rank order per chunk pair (:func:`~.stability.rank_order_arrays`), Stress
    (:func:`~.structure.structure_stress`, the same SMACOF from the same theoretical start; not
    warm-started from the full-sample configuration, which moved Stress by ~0.003 on resamples:
    ``docs/performance.md``, Signal and noise: agreement and speed)
    and the four CFA fits (:func:`~.cfa.fit_magnifying_glass` on the same matrix: the
    numbers, and the verdicts that rounding can decide, are those of the resampled table).
    ``tests/test_analysis.py`` checks equality with the table path. None when a persona
    lacks a chunk, an item or a value score (then only the table path says what drops).
    """
    values = list(dict.fromkeys(scores["value"]))
    by_chunk = dict(tuple(scores.groupby("chunk", sort=False)))
    score_arrays, item_arrays, item_cols, keyed_cols = [], [], [], []
    for c in chunks:
        if c not in by_chunk:
            return None
        sc = by_chunk[c].pivot(index="persona", columns="value", values="centered")
        sc = sc.reindex(index=personas, columns=values).to_numpy(float)
        rows = subst[(subst["chunk"] == c) & (subst["questionnaire"] == qmap[c])]
        items = item_matrix(rows).reindex(index=personas)
        keyed = list(get_instrument(qmap[c]).keyed_items)
        if (not np.isfinite(sc).all() or not np.isfinite(items.to_numpy(float)).all()
                or not set(keyed) <= set(items.columns)):
            return None
        score_arrays.append(sc)
        item_arrays.append(items.to_numpy(float))
        item_cols.append(items.columns)
        keyed_cols.append(items.columns.get_indexer(keyed))
    crawl = _crawl_rule(settings, resample=True)

    def stat(idx: np.ndarray) -> float:
        rows = resampled_rows(personas, idx)
        ro = rank_order_arrays([a[rows] for a in score_arrays], chunks, values)
        columns = [ro["pairwise_rank_order"][a][b] for a, b in combinations(chunks, 2)]
        for c, x, cols, keyed in zip(chunks, item_arrays, item_cols, keyed_cols, strict=True):
            inst = get_instrument(qmap[c])
            x = x[rows]
            stress = structure_stress(x[:, keyed], inst, settings.stress)
            fits = fit_magnifying_glass(pd.DataFrame(x, columns=cols), inst, crawl=crawl)
            means, _ = _fit_means(fits, settings.cfa_failure)
            columns += [1.0 - stress, means["cfi"], 1.0 - means["srmr"], 1.0 - means["rmsea"]]
        return cardinal_score(columns)

    return stat


def _analyze_downstream(answers: pd.DataFrame, tasks: dict[str, str], order: list[str],
                        values: pd.DataFrame | None, values_chunks: list[str],
                        pairs: Mapping[str, str] | None, settings: AnalysisSettings,
                        source: str) -> tuple[dict, dict]:
    """The downstream metrics and tables (``docs/method.md``, Downstream behaviour): behaviour
    scores, their rank-order stability per task, and, where a downstream chunk is paired with a
    values chunk of the same context, the value-behaviour correlation. No bootstrap."""
    rows = answers[answers["chunk"].isin(order) & answers["questionnaire"].isin(set(tasks.values()))]
    subst, n_unparsed = substitute_unparsed(rows, settings.unparsed, settings.seed)
    notes = []
    if n_unparsed:
        notes.append(f"{n_unparsed} unparsed downstream item(s) ({n_unparsed / len(rows):.1%}) "
                     f"{'replaced by seeded random options' if settings.unparsed == 'random' else 'dropped'}")
    behaviour = behaviour_scores(subst)
    replicates = chunk_attribute(answers, "replicate", order, source)
    ro = downstream_rank_order(behaviour, tasks, replicates, order)
    m: dict = {
        "downstream_chunks": dict(tasks),
        "downstream_n_items": int(len(rows)),
        "downstream_unparsed_count": n_unparsed,
        "downstream_means": {
            c: {str(k): float(v) for k, v in g.groupby("value", sort=False)["raw"].mean().items()}
            for c, g in behaviour.groupby("chunk", sort=False)},
    }
    m.update(downstream_summary(ro, tasks))
    for task, why in m["downstream_rank_order_nan_reasons"].items():
        notes.append(f"downstream rank-order of {task}: some correlations undefined: "
                     f"{'; '.join(why[:3])}")
    frames = {"behaviour": behaviour, "downstream_rank_order": ro}
    if values is not None and len(values):
        paired, pair_notes = resolve_pairs(answers, values_chunks, tasks, pairs, source)
        notes += pair_notes
        vb = value_behaviour(values, behaviour, paired, tasks)
        m["value_behaviour_pairs"] = paired
        m.update(value_behaviour_summary(vb))
        frames["value_behaviour"] = vb
    elif pairs:
        raise DataError(f"{source}: pairs given but there are no PVQ-40 or SVS-57 chunks to "
                        "pair the downstream chunks with")
    m["notes"] = notes
    return m, frames


def _cardinal(metrics: dict) -> float:
    """Cardinal score of metrics computed here (trusted: built without validation)."""
    return cardinal_of(Metrics.model_construct(**metrics))
