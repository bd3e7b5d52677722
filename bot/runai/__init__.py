"""Speaks Run:ai: an async client for the inference API, its models and its errors."""

from bot.runai import errors, models
from bot.runai.client import RunaiClient

__all__ = ["RunaiClient", "errors", "models"]
