"""A Slack app that runs NVIDIA Run:ai inference workloads from chat."""

__version__ = "0.1.0"
