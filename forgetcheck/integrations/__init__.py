"""Where a report reaches people: GitHub pull requests, Hub pull requests, model cards.

Every integration reads a saved Comparison (``report.json``) and never runs a model,
except the webhook server, which runs ``forgetcheck.workflows.compare`` for each Hub pull request.
"""
