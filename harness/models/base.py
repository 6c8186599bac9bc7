"""The model client Protocol and the factory that builds a client from config."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from harness.config import AgentConfig, ModelConfig
from harness.errors import (
    ConfigError,
    MissingKeyError,
    ModelProtocolError,
    ProviderUnavailable,
)
from harness.records import ModelReply, ModelRequest, Usage


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


class IncompleteAnswer(Exception):
    """An answer arrived cut short (truncated stream or body); `usage` is what it reported."""

    def __init__(self, reason: str, usage: Usage | None = None):
        super().__init__(reason)
        self.usage = usage or Usage()


def retry_incomplete(call: Callable[[], ModelReply], retries: int, label: str) -> ModelReply:
    """Retry a call whose answer was cut short. The SDKs retry HTTP errors themselves, but not a
    stream that ends early; tokens reported by cut-short answers are added to the final usage."""
    spent = Usage()
    for attempt in range(retries + 1):
        try:
            reply = call()
            return reply.model_copy(update={"usage": reply.usage + spent})
        except IncompleteAnswer as exc:
            spent = spent + exc.usage
            if attempt == retries:
                raise ProviderUnavailable(f"provider unavailable: {label}: {exc}", partial_usage=spent) from None
            time.sleep(min(8.0, 0.5 * 2**attempt))
    raise AssertionError("unreachable")


class SdkClient:
    """What both official SDK clients share: bounded retries of cut-short answers, one mapping of
    SDK errors to harness errors, and closing. Subclasses set `provider`, `sdk` and `_complete_once`."""

    provider: str
    sdk: Any  # the SDK module: `anthropic` or `openai`, which name their errors alike

    def __init__(self, model: str, client: Any, max_retries: int):
        self.model = model
        self.max_retries = max_retries
        self._client = client

    def complete(self, request: ModelRequest) -> ModelReply:
        """One call, retried while the answer arrives cut short; SDK errors become harness errors."""
        return retry_incomplete(lambda: self._mapped(request), self.max_retries, f"{self.provider} {self.model}")

    def _mapped(self, request: ModelRequest) -> ModelReply:
        sdk, label = self.sdk, f"{self.provider} {self.model}"
        try:
            return self._complete_once(request)
        except sdk.AuthenticationError as exc:
            raise ConfigError(f"{self.provider} rejected the API key for {self.model}: {exc.status_code}") from None
        except sdk.BadRequestError as exc:
            raise ModelProtocolError(f"{self.provider} refused the request for {self.model}: "
                                     f"{exc.status_code}") from None
        except (sdk.APIStatusError, sdk.APIConnectionError, sdk.APITimeoutError) as exc:
            raise ProviderUnavailable(f"provider unavailable: {label}: {type(exc).__name__}") from None
        except ValueError as exc:
            # A stream or body cut short is not valid JSON; the SDKs do not retry that themselves.
            raise IncompleteAnswer(f"truncated answer ({type(exc).__name__})") from None

    def _complete_once(self, request: ModelRequest) -> ModelReply:
        raise NotImplementedError

    def close(self) -> None:
        """Close the SDK's HTTP client."""
        self._client.close()


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
