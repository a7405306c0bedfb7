"""The application layer: what the command line (and later the web app) calls.

:mod:`agent.application.workflow` is the composition root (open the store, build the
graphs, run or resume a batch, write the manifest); :mod:`agent.application.reviews` is
the review service. Nothing here prints: presentation is :mod:`agent.cli`.
"""
