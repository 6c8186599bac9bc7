"""Every exception the harness raises on purpose, with the exit code it maps to.

The CLI catches `HarnessError` at the edge and prints its one-line message;
anything else is a bug and is allowed to surface.
"""


class HarnessError(Exception):
    """Base of all deliberate harness errors."""

    exit_code = 4


class ConfigError(HarnessError):
    """harness.toml, an environment override or a CLI option is invalid."""

    exit_code = 2


class UsageError(HarnessError):
    """The user asked for something that cannot be done (not a git repo, unknown run id...)."""

    exit_code = 2


class PriceUnknownError(ConfigError):
    """A configured model has no price in config nor in the price table."""


class MissingKeyError(ConfigError):
    """The environment variable holding a model's API key is not set."""


class BudgetExceeded(HarnessError):
    """A call's worst-case cost would cross a task, run or daily budget."""

    exit_code = 3

    def __init__(self, scope: str, limit: object, spent: object, worst_case: object):
        self.scope = scope
        super().__init__(
            f"budget exceeded: {scope} budget ${limit} would be crossed "
            f"(spent ${spent}, next call could cost up to ${worst_case})"
        )


class ProviderUnavailable(HarnessError):
    """A model provider failed after bounded retries (outage, rate limit, timeout).

    `partial_usage` holds tokens the provider reported for answers that were cut short: they are
    billed, so the meter records them once.
    """

    exit_code = 4

    def __init__(self, message: str, partial_usage: object = None):
        super().__init__(message)
        self.partial_usage = partial_usage


class ModelProtocolError(HarnessError):
    """A model kept answering in a way the harness cannot use (bad tool calls, empty answers)."""

    exit_code = 1


class SandboxError(HarnessError):
    """The sandbox could not be created, reached or used (daemon down, image missing...)."""

    exit_code = 4


class PathOutsideRepo(HarnessError):
    """A tool call named a path that escapes the repository root."""

    exit_code = 1


class GitError(HarnessError):
    """A git command the harness needed failed."""

    exit_code = 4


class Interrupted(HarnessError):
    """The run was stopped by Ctrl-C or SIGTERM."""

    exit_code = 130
