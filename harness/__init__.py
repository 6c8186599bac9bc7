"""harness: a coding-agent harness with cross-model review."""

__version__ = "0.1.0"
