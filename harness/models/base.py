"""The model client Protocol and the factory that builds a client from config."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from harness.config import AgentConfig, ModelConfig
from harness.errors import MissingKeyError
from harness.records import ModelReply, ModelRequest


class ModelClient(Protocol):
    """One provider's model, answering provider-neutral requests."""

    provider: str
    model: str

    def complete(self, request: ModelRequest) -> ModelReply:
        """Make one call. Raises ProviderUnavailable after bounded retries."""
        ...

    def close(self) -> None:
        """Release HTTP connections."""
        ...


def api_key_for(name: str, model: ModelConfig, environ: Mapping[str, str]) -> str:
    """The API key from the model's `api_key_env`; a missing key is a config error."""
    if model.api_key_env is None:
        # Local OpenAI-compatible servers often need no key; the SDK still wants a string.
        return "not-needed"
    key = environ.get(model.api_key_env, "")
    if not key:
        raise MissingKeyError(f"model {name!r} needs an API key: set the environment variable {model.api_key_env}")
    return key


def build_client(name: str, model: ModelConfig, agent: AgentConfig, config_dir: Path,
                 environ: Mapping[str, str] | None = None, http_client: Any = None) -> ModelClient:
    """A client for a configured model. `http_client` lets tests inject an httpx2 client."""
    env = os.environ if environ is None else environ
    if model.provider == "scripted":
        from harness.models.scripted import ScriptedClient

        assert model.script is not None  # guaranteed by ModelConfig validation
        return ScriptedClient(model.model, (config_dir / model.script).resolve())
    key = api_key_for(name, model, env)
    if model.provider == "anthropic":
        from harness.models.anthropic import AnthropicClient

        return AnthropicClient(model.model, key, model.base_url, agent.max_retries, agent.request_timeout_s,
                               http_client)
    from harness.models.openai import OpenAIClient

    return OpenAIClient(model.model, key, model.base_url, agent.max_retries, agent.request_timeout_s, http_client)
