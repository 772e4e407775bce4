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
# # Leaderboard
#
# Models ranked by how stable and valid the values of their simulated personas are, with the
# "Stick to Your Role!" leaderboard's columns. Click a column header to sort, a model to open
# its page.

# %% tags=["parameters"]
run_dir: str = "../outputs/demo"  # run directory: <output_dir>/<run>
models: list = []  # models to rank (empty: every <model>/metrics.json in run_dir)
ties: str = "loss"  # win-rate ties: "loss" (leaderboard) or "half"
chunks: list = []  # chunk order and subset of the columns (empty: leaderboard default)
title: str = ""  # report title shown above the table

# %%
# %matplotlib inline
from pathlib import Path

import pandas as pd
from IPython.display import HTML, Markdown, display

from stickrole_utils.leaderboard import load_metrics, write_leaderboard
from stickrole_utils.runner import check_parameters

check_parameters("leaderboard", run_dir=run_dir, models=models, ties=ties, chunks=chunks,
                 title=title)
metrics = load_metrics([Path(run_dir) / m / "metrics.json" for m in models] or [run_dir])
table = pd.read_csv(write_leaderboard(metrics, run_dir, chunks=chunks or None, ties=ties))
display(Markdown(f"## {title}" if title else f"## Run `{Path(run_dir).name}`"))

# %%
from stickrole_utils.report import model_links, sortable_table_html

HTML(sortable_table_html(table, links=model_links(table["Model"])))

# %% [markdown]
# **Ordinal (Win rate)**: share of (column, other model) pairs a model beats; **Cardinal
# (Score)**: mean of the per-chunk columns (rank-order stability per chunk pair, 1 − Stress,
# CFI, 1 − SRMR, 1 − RMSEA per chunk). CI columns: 95 % percentile bootstrap over personas.

# %%
from stickrole_utils import plots

plots.leaderboard_bar(table, column="Cardinal (Score)")

# %%
plots.leaderboard_bar(table, column="RO Stability")

# %% [markdown]
# ## Diversity and sensitivity of the ranking
# Do the columns agree on the order of the models (Kendall's W), and how few changes to the
# columns would reorder them (minimal rank change, MRC, after Zhang & Hardt 2024)?

# %%
from stickrole_utils.report import ranking_table, read_ranking, show_table

show_table(ranking_table(read_ranking(run_dir)))

# %% [markdown]
# ## Per-chunk columns
# The columns the Cardinal and Ordinal scores are computed from (higher is better).

# %%
pd.read_csv(Path(run_dir) / "leaderboard_columns.csv", index_col=0).round(3)
