"""Predict task transferability from soft prompts (after "Learning to Predict Task Transferability via Soft Prompt")."""

__version__ = "0.1.0"
