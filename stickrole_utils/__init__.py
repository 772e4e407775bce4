"""stickrole: value stability of LLM-simulated personas, the "Stick to Your Role!" protocol.

The package is the tested core; notebooks, the ``stickrole`` command line and scripts call into it.
One module per concept: ``values`` and ``instruments`` (facts), ``answers`` (the answers-table
contract), ``scoring``, ``stability``, ``structure``, ``cfa``, ``reliability``, ``leaderboard``,
``sensitivity``, ``stats``, ``analysis`` (the per-model pipeline), ``original`` (import of the
original code's results), and the generation modules.
"""

__version__ = "0.1.0"
