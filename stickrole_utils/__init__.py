"""stickrole: value stability of LLM-simulated personas, the "Stick to Your Role!" protocol.

The package is the tested core; notebooks, the ``stickrole`` command line and scripts call into
it. Its subpackages are the pipeline's stages, each importing only from the ones before it:

``config``
    The typed params file: run, models, generation, grid, analysis, leaderboard settings.
``design``
    Values, instruments and item banks, populations, context chunks, prompt wording.
``generation``
    Planning and checking a run, administering units, parsing answers, the run store and its
    manifest; ``generation.backends``: the model backends and their registry.
``analysis``
    Answers tables, scoring, stability, structure (MDS), CFA, reliability, statistics, the
    per-model analysis and ``metrics.json``; import of the original code's results.
``leaderboard``
    The per-chunk columns of all models, Cardinal and Ordinal scores, ranking sensitivity.
``experiment``
    A grid's metrics over points and seeds, model comparisons.
``report``
    HTML pages, tables, figures and the explorer (renders, never writes data).
``pipeline``
    The stage notebooks run headless, stamps, the in-process and Ray engines.

Beside them: ``cli`` (the ``stickrole`` command), ``errors`` (one formatter), ``io`` (JSON and
YAML reading, atomic writes, hashes), ``layout`` (where every file of a run lives), ``schema``
(the answers table's columns) and ``lazy`` (names imported on first use).
"""

__version__ = "0.1.0"
