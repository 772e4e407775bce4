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

from stickrole_utils.layout import RunLayout
from stickrole_utils.leaderboard.experiment import pairwise_table, summarise
from stickrole_utils.pipeline import check_parameters

check_parameters("experiment", run_dir=run_dir, title=title)
layout = RunLayout(run_dir)
table = pd.read_csv(layout.experiment_csv)
comparisons = pd.read_csv(layout.comparisons_csv)
summary = summarise(table)
pairwise = pairwise_table(layout)
display(Markdown(f"## {title}" if title else f"## Experiment `{Path(run_dir).name}`"))

# %% [markdown]
# ## Rank-order stability
# Mean ± SE over seeds per model and conversation length; dashed and dotted lines: human
# rank-order stability over two (ages 10 → 12) and eight years (ages 20 → 28).

# %%
from stickrole_utils.report import experiment as figs

figs.experiment_bars(summary, "rank_order")

# %%
figs.metric_by_length(summary, "rank_order")

# %% [markdown]
# ## Ipsative stability

# %%
figs.experiment_bars(summary, "ipsative")

# %% [markdown]
# ## Downstream behaviour
# Rank-order stability of the behaviour between contexts, per task (Mean ± SE over seeds).

# %%
figs.downstream_bars(summary)

# %% [markdown]
# ### Value expression and behaviour
# Spearman r over personas between a value's centered PVQ score and the behaviour in the same
# context, mean over contexts and the task's keys (Mean ± SE over seeds).

# %%
figs.value_behaviour_bars(summary)

# %% [markdown]
# ## Pairwise rank-order stability over contexts
# Each model's chunk x chunk rank-order stability (mean over the ten values, then over seeds).

# %%
figs.pairwise_heatmaps(pairwise)

# %% [markdown]
# ## Means over seeds

# %%
summary.round(3)

# %% [markdown]
# ## Model comparisons
# `p_fdr`: Benjamini-Hochberg over the model pairs of each metric and setting. The
# significance matrices mark in black the pairs whose difference is significant
# (`p_fdr` < 0.05).

# %%
figs.significance_matrix(comparisons)

# %%
comparisons.round(4)
