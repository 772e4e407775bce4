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
# # 10 · Generate: one model role-plays the personas and answers the questionnaires
#
# For every chunk of the params file, each persona has its conversation (if the chunk has one)
# and then answers every item of the chunk's questionnaire. Answers are appended per
# (persona, chunk) unit, so an interrupted run resumes where it stopped.
# Output: `<output_dir>/<run>/<model>/answers.parquet`, `conversations.jsonl`, `manifest.json`.

# %% tags=["parameters"]
params_path: str = "../params/demo.yaml"  # params YAML of the run (relative to this notebook)
model: str = "dummy"  # model name, as listed under `models:` in the params file
force: bool = False  # True: discard this model's earlier answers and start over
progress: str = "auto"  # progress bar: "auto" (widget here), "text" (stderr, for batch runs), "none"
executor: dict = {}  # where it runs (set by `stickrole run`, recorded in the manifest; {}: not recorded)

# %%
from stickrole_utils.generation import load_params
from stickrole_utils.pipeline import check_parameters

check_parameters("generate", params_path=params_path, model=model, force=force, progress=progress,
                 executor=executor)
cfg = load_params(params_path)
entry = cfg.model(model)
entry

# %%
from stickrole_utils.generation import generate_model

model_dir = generate_model(cfg, entry, force=force,
                           progress={"auto": True, "text": "text", "none": False}[progress],
                           executor=executor)
model_dir

# %% [markdown]
# ## What was produced
# Items per chunk and questionnaire, and how many answers could not be parsed (score NaN).

# %%
from stickrole_utils.generation.store import read_run_answers
from stickrole_utils.report import manifest_table, read_manifest, unparsed_table

answers = read_run_answers(model_dir)
unparsed_table(answers)

# %% [markdown]
# ## Run manifest

# %%
manifest_table(read_manifest(model_dir))
