# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: stickrole (.venv)
#     language: python
#     name: stickrole
# ---

# %% [markdown]
# # Experiment
#
# The models' stability over a grid of generation settings: means over seeds with their
# standard errors, against human longitudinal stability, and pairwise model comparisons
# (Student's t-test on the per-seed values, Benjamini-Hochberg adjusted).
#
# [Run index](index.html)

# %% tags=["parameters"]
run_dir: str = "../outputs/experiment"  # experiment directory: <output_dir>/<run>
title: str = ""  # report title shown above the page

# %%
# %matplotlib inline
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from stickrole_utils.experiment import pairwise_table, summarise
from stickrole_utils.layout import RunLayout
from stickrole_utils.pipeline import check_parameters
from stickrole_utils.records import read_experiment, read_invariance, read_reliability
from stickrole_utils.report import experiment_figures as figs
from stickrole_utils.report import signal_figures as signal

check_parameters("experiment", run_dir=run_dir, title=title)
pd.set_option("display.max_colwidth", None)  # measures in words, not cut
layout = RunLayout(run_dir)
table, comparisons = read_experiment(run_dir)
reliability = read_reliability(run_dir)  # None for an experiment run before it existed
invariance = read_invariance(run_dir)  # None likewise, or with `reliability.invariance: false`
summary = summarise(table)
pairwise = pairwise_table(layout)
display(Markdown((f"## {title}" if title else f"## Experiment `{Path(run_dir).name}`")
                 + "\n\n" + figs.describe_grid(table)))

# %% [markdown]
# ## Rank-order stability (paper Figs 4 and 6)
# Mean ± SE over seeds per model and conversation length; dashed and dotted lines: human
# rank-order stability over two (ages 10 → 12) and eight years (ages 20 → 28). "n/a" marks a
# mean that no seed could compute. A grid key other than seed and conversation length has
# panels of its own. The grey band is the noise floor: what random answering reaches (the
# floor models', e.g. the dummy's, values over seeds, or the stability with the personas
# shuffled between contexts); a bar inside it is not distinguishable from random answering.

# %%
figs.experiment_bars(summary, "rank_order", reliability)

# %% [markdown]
# Against the length of the simulated conversation (Fig 6).

# %%
figs.metric_by_length(summary, "rank_order", reliability)

# %% [markdown]
# ## Ipsative stability (paper Figs 5 and 7)
# Mean ± SE over seeds of each persona's value hierarchy correlated between contexts; the
# lines are human ipsative stability over the same spans.

# %%
figs.experiment_bars(summary, "ipsative", reliability)

# %% [markdown]
# Against the length of the simulated conversation (Fig 7).

# %%
figs.metric_by_length(summary, "ipsative", reliability)

# %% [markdown]
# ## Downstream behaviour (paper Fig 8)
# Rank-order stability of the behaviour between contexts, per task (Mean ± SE over seeds).

# %%
figs.downstream_bars(summary, reliability)

# %% [markdown]
# ### Value expression and behaviour (paper Fig 9)
# Spearman r over personas between a value's centered PVQ score and the behaviour in the same
# context, mean over contexts and the task's keys (Mean ± SE over seeds).

# %%
figs.value_behaviour_bars(summary)

# %% [markdown]
# ## Pairwise rank-order stability over contexts (paper Fig 10)
# Each model's chunk x chunk rank-order stability (mean over the ten values, then over seeds),
# chunks in the params' order; blue is negative, white 0, red positive (scale -1 to 1).

# %%
figs.pairwise_heatmaps(pairwise)

# %% [markdown]
# ## Signal and noise
# How much of each model's instability is noise (`reliability.csv`; docs/method.md, Signal and
# noise). **Noise ceiling**: a seed repeats the whole protocol, so ICC(2,1) across seeds is the
# reliability of one seed's value score in a context, and rank-order stability between two
# contexts cannot be expected above the square root of their reliabilities' product (Spearman's
# attenuation). A model near its ceiling re-orders its personas between contexts no more than
# between repetitions of one context; far below it, the context moves the values. The dot is
# the same measured directly: Spearman r between two seeds of one context.

# %%
signal.ceiling_vs_observed(summary, reliability)

# %% [markdown]
# **Variance shares.** Each value score split into persona (the signal a role-play should
# carry), context (every persona shifted alike), persona x context (personas re-ordered: the
# instability rank-order stability measures) and everything with seed (noise: the same
# protocol repeated gives another score), and any other grid key or model factor that varies
# (random-effects ANOVA; bootstrap intervals over personas in the table).

# %%
signal.variance_shares(reliability)

# %% [markdown]
# Per model and setting: median ICCs over values and contexts, ceiling, retest stability and the
# pooled shares (per value and context, with intervals, in `reliability.csv`).

# %%
signal.reliability_summary(reliability)

# %% [markdown]
# **Measurement invariance across contexts.** Does the questionnaire measure the same thing in
# every context? For each of the four higher-order CFA models the contexts are the groups of
# one multi-group CFA, fitted at three nested levels: *configural* (the same items load on the
# same values), *metric* (equal loadings: a score difference means the same amount of the value)
# and *scalar* (equal intercepts as well: score levels are comparable between contexts). A level
# holds when, against the level below, CFI drops by no more than 0.010 and RMSEA rises by no
# more than 0.015 (Cheung & Rensvold 2002; Chen 2007). The table gives the first level that
# fails ("none": scalar holds) and, where the search ran, whether freeing the listed items
# (their loadings at the metric level, intercepts at the scalar level) restores it. A model
# whose invariance fails at the metric level re-orders personas between contexts for reasons
# the questionnaire cannot tell apart from a change of values. Two forms: `multigroup` (the
# contexts as independent groups) and `longitudinal` (the same personas in every context, each
# item's residuals correlated across contexts; it needs more personas than items x contexts,
# else its note says so). One seed per model and setting (the lowest); the floor models are
# left out; every fit in `invariance.csv`.

# %%
signal.invariance_summary(invariance)

# %% [markdown]
# **McDonald's omega beside Cronbach's alpha**, per value (mean over contexts; per context in
# `reliability.csv`): omega is the share of a value's sum score that its factor explains, from
# the CFA loadings; alpha (the original's, on centered answers) equals it only when every item
# loads alike.

# %%
signal.omega_alpha(reliability)

# %% [markdown]
# ## Means over seeds
# Mean ± SE over seeds (number of seeds with a value); the per-seed values are in
# `experiment.csv` (values over seeds, such as the ICCs, have n = 1).

# %%
figs.means_table(summary)

# %% [markdown]
# ## Model comparisons (paper S1-S6 Figs)
# `p_fdr`: Benjamini-Hochberg over the model pairs of each metric and setting. The
# significance matrices mark in black the pairs whose difference is significant
# (`p_fdr` < 0.05).

# %%
figs.significance_matrix(comparisons)

# %%
comparisons.round(4)
