"""Model policy: allow and deny lists of models (data residency) and restricted paths.

Two layers: `apply_policy` removes denied models from the config before routing, so the router
never picks them and no client for them is built; `RestrictedContent` cleans every request sent
to a model not allowed to see restricted paths, whatever channel the content took (tool output,
a `run` of `cat`, the diff, the repo map, review context), by withholding diff blocks of those
paths and any line that identifies one of their files.
"""

from __future__ import annotations

import io
import re
import tarfile
from urllib.parse import urlparse

from harness.config import HarnessConfig, ModelConfig
from harness.errors import ConfigError
from harness.guards.diffutil import path_matches
from harness.models.base import ModelClient
from harness.records import Message, ModelReply, ModelRequest, ToolResult
from harness.roles_config import PolicyConfig

_DEFAULT_HOSTS = {"anthropic": "api.anthropic.com", "openai": "api.openai.com", "scripted": "localhost"}
WITHHELD = "[withheld by model policy]"
# A repository past this many files is scanned only this far for lines shared with other files.
_MAX_SCAN_FILES = 20000


def model_keys(name: str, model: ModelConfig) -> set[str]:
    """What a policy entry may name for this model: name, provider, model id and base_url host."""
    host = urlparse(model.base_url).hostname if model.base_url else _DEFAULT_HOSTS.get(model.provider)
    return {k.lower() for k in (name, model.provider, model.model, host or "") if k}


def matches(name: str, model: ModelConfig, entries: list[str]) -> bool:
    """Whether any policy entry names this model."""
    return bool(model_keys(name, model) & {e.lower() for e in entries})


def allowed(name: str, model: ModelConfig, policy: PolicyConfig) -> bool:
    """A model may be used: not denied, and allowed (an empty allow list allows all)."""
    if matches(name, model, policy.deny):
        return False
    return not policy.allow or matches(name, model, policy.allow)


def apply_policy(config: HarnessConfig, forced: dict[str, str | None]) -> HarnessConfig:
    """The config with denied models removed; ConfigError when a role or forced model is denied.

    `forced` maps a CLI role (implementer, reviewer) to the model it names, if any.
    """
    policy = config.policy
    models = {n: m for n, m in config.models.items() if allowed(n, m, policy)}
    if models == config.models:
        return config
    named = {f"--{role}": name for role, name in forced.items() if name}
    named |= {f"roles.{role}": name for role, name in config.roles.model_dump().items() if name}
    for where, name in named.items():
        if name in config.models and name not in models:
            raise ConfigError(f"{where} = {name!r} is denied by [policy] (allow: {policy.allow or 'all'}, "
                              f"deny: {policy.deny})")
    if len(models) < 2:
        raise ConfigError("[policy] leaves fewer than two models: the reviewer must differ from the implementer")
    return config.model_copy(update={"models": models})


def sees_restricted(name: str, model: ModelConfig, policy: PolicyConfig) -> bool:
    """Whether this model may be sent the contents of restricted paths."""
    return not policy.restricted_paths or matches(name, model, policy.restricted_models)


class RestrictedContent:
    """The identifying lines of restricted files (from the base tree) and a request cleaner.

    A line identifies a restricted file when it is at least `min_line_chars` long (stripped) and
    appears in no unrestricted file: common lines (imports, braces) stay, so the model can still
    work around the restricted code without learning what is in it.
    """

    def __init__(self, repo_tar: bytes, policy: PolicyConfig):
        self.globs = policy.restricted_paths
        restricted: set[str] = set()
        common: set[str] = set()
        with tarfile.open(fileobj=io.BytesIO(repo_tar)) as tar:
            for n, member in enumerate(tar):
                if n >= _MAX_SCAN_FILES:
                    break
                data = tar.extractfile(member) if member.isfile() else None
                if data is None:
                    continue
                lines = {ln.strip() for ln in data.read().decode("utf-8", "replace").splitlines()}
                lines = {ln for ln in lines if len(ln) >= policy.min_line_chars}
                (restricted if self.restricted(member.name) else common).update(lines)
        secret = sorted(restricted - common, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, secret))) if secret else None

    def restricted(self, path: str) -> bool:
        """Whether a repo path is restricted."""
        return bool(self.globs) and path_matches(path.removeprefix("./"), self.globs)

    def clean(self, text: str) -> str:
        """`text` with diff blocks of restricted paths and identifying lines withheld."""
        if not text:
            return text
        out: list[str] = []
        hidden = False
        for line in text.splitlines(keepends=True):
            if line.startswith("diff --git "):
                path = line.split(" b/", 1)[-1].strip()
                hidden = self.restricted(path)
                out.append(line if not hidden else f"{line.rstrip()}\n{WITHHELD} diff of {path}\n")
                continue
            if hidden and line.strip() != "```":
                continue
            hidden = False
            if self.pattern is not None and self.pattern.search(line):
                line = WITHHELD + ("\n" if line.endswith("\n") else "")
            out.append(line)
        return "".join(out)

    def clean_request(self, request: ModelRequest) -> ModelRequest:
        """A copy of `request` whose texts and tool results are cleaned (assistant turns are the model's own)."""
        messages = []
        for m in request.messages:
            if m.role == "assistant":
                messages.append(m)
                continue
            results = [ToolResult(call_id=r.call_id, content=self.clean(r.content), is_error=r.is_error)
                       for r in m.tool_results]
            messages.append(Message(role=m.role, text=self.clean(m.text), tool_calls=m.tool_calls,
                                    tool_results=results))
        return request.model_copy(update={"system": self.clean(request.system), "messages": messages})


class PolicyClient:
    """A model client that cleans each request of restricted content before it leaves the host."""

    def __init__(self, inner: ModelClient, content: RestrictedContent | None):
        self.inner = inner
        self.content = content
        self.provider = inner.provider
        self.model = inner.model

    def complete(self, request: ModelRequest) -> ModelReply:
        """Clean (when this model may not see restricted paths), then call the wrapped client."""
        return self.inner.complete(self.content.clean_request(request) if self.content else request)

    def close(self) -> None:
        """Close the wrapped client."""
        self.inner.close()


def guard_client(name: str, client: ModelClient, config: HarnessConfig,
                 content: RestrictedContent | None) -> ModelClient:
    """Wrap a client for policy; refuse (ConfigError) a model the policy denies, as a backstop."""
    model = config.models[name]
    if not allowed(name, model, config.policy):
        raise ConfigError(f"model {name!r} is denied by [policy]")
    if content is None or sees_restricted(name, model, config.policy):
        return client
    return PolicyClient(client, content)
