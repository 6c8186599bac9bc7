"""The `[github]` section of harness.toml: caps and triggers for the Actions jobs."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class GithubConfig(BaseModel):
    """Knobs of `harness review-pr` and `harness pr-do`."""

    model_config = ConfigDict(extra="forbid")

    # Dollars all review runs of one pull request may spend together (memory must persist between jobs).
    pr_usd: Decimal = Field(default=Decimal("1.00"), ge=0)
    # Dollars one `/harness` request may spend (also capped by [budgets] run_usd and day_usd).
    request_usd: Decimal = Field(default=Decimal("2.00"), ge=0)
    # A comment starting with this word asks for an implementation.
    command: str = Field(default="/harness", min_length=2)
    # An issue given this label asks for an implementation of the issue (empty: labels do nothing).
    label: str = "harness"
    # The commit status context the verdict is reported under.
    status_context: str = "harness/review"
    # Inline comments per review beyond this go to the summary comment.
    max_inline_comments: int = Field(default=20, ge=0)
    # A change the risk gate stops (`needs_human`) is opened as a draft PR with this label, and its
    # CODEOWNERS are asked to review it.
    needs_human_label: str = "needs-human"
