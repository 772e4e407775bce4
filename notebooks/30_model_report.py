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
# # Model report
#
# How stable and how valid are the values this model expresses when it role-plays personas?
# Everything below is read from the model's directory in the run (`metrics.json` and the tables
# `20_analyze` wrote); this page is rendered without code by `stickrole run` / `stickrole report`.
#
# [Run index](index.html) · [Leaderboard](leaderboard.html)

# %% tags=["parameters"]
run_dir: str = "../outputs/demo"  # run directory: <output_dir>/<run>
model: str = "dummy"  # model name (its directory inside run_dir)

# %%
# %matplotlib inline
from IPython.display import Markdown, display

from stickrole_utils.analysis import read_model_analysis
from stickrole_utils.layout import RunLayout
from stickrole_utils.pipeline import check_parameters

check_parameters("report", run_dir=run_dir, model=model)
model_dir = RunLayout(run_dir).model_dir(model)
analysis = read_model_analysis(model_dir)
metrics = analysis.metrics
display(Markdown(f"## {analysis.model}"))

# %%
from stickrole_utils.report import metrics_summary, show_table

show_table(metrics_summary(metrics))

# %% [markdown]
# ## Circular value structure
# Multidimensional scaling of the item intercorrelations per chunk. Items are coloured by their
# higher-order value; letters mark each value's centroid, the dashed line joins them in the
# theoretical circle order, grey letters show the theoretical positions. Lower Stress is better.

# %%
from stickrole_utils.report import cfa_table, style_cfa_table
from stickrole_utils.report import figures as plots

plots.circle_plot(analysis.structure, stress=metrics["stress"], chunks=metrics["chunks"])

# %% [markdown]
# ## Confirmatory factor analysis per chunk
# The four "magnifying glass" models (one per higher-order value); CFI ↑, SRMR ↓, RMSEA ↓, and
# two means over the four models: of the converged fits only, and the leaderboard's (failed fits
# scored by the rule in `metrics.json` → `settings.cfa_failure`). Failed fits are marked in red.

# %%
style_cfa_table(cfa_table(analysis.cfa, chunks=metrics["chunks"], metrics=metrics))

# %% [markdown]
# ## Rank-order stability between chunks
# Spearman correlation over personas of each value's centered score, averaged over the 10
# values, for every pair of chunks.

# %%
plots.rank_order_heatmap(metrics["pairwise_rank_order"], chunks=metrics["chunks"])

# %% [markdown]
# ## Persona orders per value
# Personas sorted by their score in the no-conversation chunk (bold line; the first chunk when
# there is none); one line per chunk. A stable model draws lines that rise together.

# %%
plots.persona_order_plot(analysis.scores, chunks=metrics["chunks"])

# %% [markdown]
# ## Ipsative stability
# Correlation of one persona's 10 value scores between two chunks: does the persona keep its
# own order of priorities?

# %%
plots.ipsative_plot(analysis.ipsative, chunks=metrics["chunks"])

# %% [markdown]
# ## Unparsed answers
# Items whose reply could not be read as an option (score NaN in the answers table). By
# default the analysis replaces each with a seeded random option, as the leaderboard does.

# %%
from stickrole_utils.report import model_unparsed_table, show_table

show_table(model_unparsed_table(model_dir, metrics))

# %% [markdown]
# ## Notes

# %%
display(Markdown("\n".join(f"- {n}" for n in metrics.get("notes", [])) or "No notes."))

# %% [markdown]
# ## What each chunk heard
# The context of each chunk as generation resolved it from the params: the kind of context, its
# topic, how many messages were simulated after the opener, who the interlocutor was, the start
# of the opener (or the corpus file) and the sha256 of the openers the personas heard.

# %%
from stickrole_utils.report import context_table, read_manifest, show_table

show_table(context_table(read_manifest(model_dir)))

# %% [markdown]
# ## Run manifest
# Model file and hash, backend, GPU offload, sampling, seeds and versions recorded by generation.

# %%
from stickrole_utils.report import manifest_table, read_manifest, show_table

show_table(manifest_table(read_manifest(model_dir)))
