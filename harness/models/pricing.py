"""Prices per million tokens: from config first, else the genai-prices table; unknown is an error."""

from __future__ import annotations

from decimal import Decimal

from harness.config import ModelConfig
from harness.errors import PriceUnknownError
from harness.records import Record, Usage

MILLION = Decimal(1_000_000)
# genai-prices is probed at this size: small enough to stay in the base (non long-context) tier.
_PROBE_TOKENS = 1000


class Prices(Record):
    """Dollars per million tokens for one model."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cache_read_per_mtok: Decimal
    cache_write_per_mtok: Decimal

    def cost(self, usage: Usage) -> Decimal:
        """Exact dollar cost of a call's usage."""
        return (
            usage.input_tokens * self.input_per_mtok
            + usage.output_tokens * self.output_per_mtok
            + usage.cache_read_tokens * self.cache_read_per_mtok
            + usage.cache_write_tokens * self.cache_write_per_mtok
        ) / MILLION

    def worst_case(self, input_tokens: int, max_output_tokens: int) -> Decimal:
        """Upper bound of a call's cost: every input token at the dearest input rate, full output."""
        dearest_input = max(self.input_per_mtok, self.cache_write_per_mtok, self.cache_read_per_mtok)
        return (input_tokens * dearest_input + max_output_tokens * self.output_per_mtok) / MILLION


def _table_prices(model: ModelConfig) -> Prices | None:
    from genai_prices import Usage as GUsage
    from genai_prices import calc_price

    def per_mtok(**usage: int) -> Decimal:
        price = calc_price(GUsage(**usage), model_ref=model.model, provider_id=model.provider)
        return Decimal(price.total_price) * MILLION / _PROBE_TOKENS

    try:
        inp = per_mtok(input_tokens=_PROBE_TOKENS)
        return Prices(
            input_per_mtok=inp,
            output_per_mtok=per_mtok(output_tokens=_PROBE_TOKENS),
            cache_read_per_mtok=per_mtok(input_tokens=_PROBE_TOKENS, cache_read_tokens=_PROBE_TOKENS),
            cache_write_per_mtok=per_mtok(input_tokens=_PROBE_TOKENS, cache_write_tokens=_PROBE_TOKENS),
        )
    except (LookupError, ValueError):
        return None


def resolve_prices(name: str, model: ModelConfig) -> Prices:
    """Prices for a configured model; config values win over the table. Raises PriceUnknownError."""
    configured = {
        "input_per_mtok": model.input_per_mtok,
        "output_per_mtok": model.output_per_mtok,
        "cache_read_per_mtok": model.cache_read_per_mtok,
        "cache_write_per_mtok": model.cache_write_per_mtok,
    }
    if all(v is not None for v in configured.values()):
        return Prices(**configured)  # type: ignore[arg-type]
    table = _table_prices(model) if model.provider in ("anthropic", "openai") else None
    if table is None:
        if model.input_per_mtok is not None and model.output_per_mtok is not None:
            # Input and output given: cache rates default to the input rate (no cache discount assumed).
            table = Prices(
                input_per_mtok=model.input_per_mtok,
                output_per_mtok=model.output_per_mtok,
                cache_read_per_mtok=model.input_per_mtok,
                cache_write_per_mtok=model.input_per_mtok,
            )
        else:
            raise PriceUnknownError(
                f"model {name!r} ({model.provider}:{model.model}) has no known price; "
                f"set input_per_mtok and output_per_mtok in [models.{name}]"
            )
    merged = {k: (v if v is not None else getattr(table, k)) for k, v in configured.items()}
    return Prices(**merged)
