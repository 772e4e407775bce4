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
# # 90 · Explorer
#
# Pick a model, a chunk, a value and a persona: the stability heatmap, the persona orders, the
# persona's value profile across chunks and the conversation and answers behind a score
# update (the "Score evidence" tab holds the conversation and answers).
#
# In JupyterLab, open this `.py` file as a notebook: right-click it in the file browser,
# *Open With › Jupytext Notebook* (a double click opens it as text unless "Jupytext Notebook" is
# the default viewer of Python files), pick the kernel "stickrole (.venv)" and run *Run › Run All
# Cells*.

# %% tags=["parameters"]
run_dir: str = "../outputs/demo"  # run directory: <output_dir>/<run>

# %%
# %matplotlib inline
from stickrole_utils.pipeline import check_parameters
from stickrole_utils.report import Explorer

check_parameters("explorer", run_dir=run_dir)
explorer = Explorer(run_dir)

# %%
explorer.widget()
