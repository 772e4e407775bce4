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
# # 20 · Analyze: scores, stability and validity of one model
#
# Reads the model's `answers.parquet`, computes value scores, rank-order and ipsative stability,
# value structure (MDS Stress) and CFA fit per chunk with the params file's `analysis:` settings,
# and writes `metrics.json` plus the tables (`scores`, `rank_order`, `ipsative`, `structure`,
# `cfa` as parquet) next to the answers.

# %% tags=["parameters"]
params_path: str = "../params/demo.yaml"  # params YAML of the run (relative to this notebook)
model: str = "dummy"  # model name, as listed under `models:` in the params file

# %%
from stickrole_utils.config import load_run_config
from stickrole_utils.layout import RunLayout
from stickrole_utils.pipeline import check_parameters

check_parameters("analyze", params_path=params_path, model=model)
cfg = load_run_config(params_path)  # the settings alone: analysing needs no model file
layout = RunLayout(cfg.run_dir)
cfg.analysis

# %%
from stickrole_utils.analysis import analyze_model, read_answers, write_model_analysis

answers = read_answers(layout.answers(model))  # validated here, once
analysis = analyze_model(answers, cfg.analysis, source=str(layout.answers(model)), validate=False)
write_model_analysis(analysis, layout.model_dir(model))

# %% [markdown]
# ## Headline numbers

# %%
from stickrole_utils.report import metrics_summary, show_table

show_table(metrics_summary(analysis.metrics))

# %% [markdown]
# ## Notes (substitutions, undefined correlations, failed fits)

# %%
analysis.metrics["notes"]

# %% [markdown]
# ## Rank-order stability per value (mean over chunk pairs)

# %%
analysis.metrics["rank_order_per_value"]

# %% [markdown]
# ## CFA fits

# %%
analysis.cfa
