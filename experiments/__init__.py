"""The shipped experiments, one folder each: `experiment.toml` beside the finding's code.

Installed as `dlexp.experiments`; each folder is imported by `dlexp.finding.load_code`.
"""
