"""Human progress on stderr: stage, model, step and running cost."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console
from rich.markup import escape

from harness.records import CallLog


class Progress:
    """Prints one line per event to stderr; silent when `quiet`."""

    def __init__(self, quiet: bool = False, console: Console | None = None):
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self.quiet = quiet
        self.spent = Decimal(0)
        self.model = ""

    def stage(self, name: str, detail: str = "") -> None:
        """A pipeline stage begins."""
        if not self.quiet:
            self.console.print(f"[bold cyan]{name:<10}[/] {escape(detail)}")

    def step(self, step: int, what: str) -> None:
        """An implementer step (tool call)."""
        if not self.quiet:
            self.console.print(f"  step {step:>3}  {escape(what):<12} [dim]{escape(self.model)}  ${self.spent:.4f}[/]")

    def call(self, log: CallLog) -> None:
        """A priced call was made: update the running cost."""
        self.spent += log.cost_usd
        self.model = log.model

    def note(self, text: str) -> None:
        """Anything else worth a line."""
        if not self.quiet:
            self.console.print(f"  {text}")
