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
run_dir: str = "../outputs/demo"  # run directory: <output_dir>/<run>, after its leaderboard stage
title: str = ""  # report title shown above the table

# %%
# %matplotlib inline
from pathlib import Path

from IPython.display import Markdown, display

from stickrole_utils.pipeline import check_parameters
from stickrole_utils.records import read_leaderboard

check_parameters("leaderboard", run_dir=run_dir, title=title)
table = read_leaderboard(run_dir)
display(Markdown(f"## {title}" if title else f"## Run `{Path(run_dir).name}`"))

# %%
from IPython.display import HTML

from stickrole_utils.report import model_links, sortable_table_html

HTML(sortable_table_html(table, links=model_links(table["Model"])))

# %% [markdown]
# **Ordinal (Win rate)**: share of (column, other model) pairs a model beats; **Cardinal
# (Score)**: mean of the per-chunk columns (rank-order stability per chunk pair, 1 − Stress,
# CFI, 1 − SRMR, 1 − RMSEA per chunk). CI columns: 95 % percentile bootstrap over personas.

# %%
from stickrole_utils.report import figures as plots

plots.leaderboard_bar(table, column="Cardinal (Score)")

# %%
plots.leaderboard_bar(table, column="RO Stability")

# %% [markdown]
# ## Diversity and sensitivity of the ranking
# Do the columns agree on the order of the models (Kendall's W), and how few changes to the
# columns would reorder them (minimal rank change, MRC, after Zhang & Hardt 2024)?

# %%
from stickrole_utils.records import read_ranking
from stickrole_utils.report import ranking_table, show_table

show_table(ranking_table(read_ranking(run_dir)))

# %% [markdown]
# ## Per-chunk columns
# The columns the Cardinal and Ordinal scores are computed from (higher is better).

# %%
from stickrole_utils.records import read_leaderboard_columns

read_leaderboard_columns(run_dir).round(3)
