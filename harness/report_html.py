"""Self-contained HTML cost report: a table and inline SVG bar charts, no scripts, no CDN."""

from __future__ import annotations

from decimal import Decimal
from html import escape

from harness.report import Ledger, LedgerRow

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:960px}
table{border-collapse:collapse;margin:1em 0}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}tr.total td{font-weight:bold;border-top:2px solid #444}
h2{margin-top:1.6em;font-size:16px}svg text{font:12px system-ui,sans-serif}
"""


def _fmt_money(value: Decimal | None) -> str:
    return "-" if value is None else f"${value:,.4f}"


def bar_chart(title: str, items: list[tuple[str, float, str]], color: str) -> str:
    """A horizontal bar chart as an inline SVG; items are (label, value, value text)."""
    label_w, bar_w, row_h = 200, 480, 22
    top = max((v for _, v, _ in items), default=0.0) or 1.0
    height = row_h * len(items) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 120}" height="{height}" '
             f'role="img" aria-label="{escape(title)}">']
    for i, (label, value, text) in enumerate(items):
        y = 5 + i * row_h
        width = max(0.0, value) / top * bar_w
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{width:.1f}" height="{row_h - 6}" fill="{color}"/>')
        parts.append(f'<text x="{label_w + width + 6:.1f}" y="{y + 15}">{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(ledger: Ledger) -> str:
    head = ("<tr><th>" + escape(ledger.by) + "</th><th>spend</th><th>calls</th><th>attempts</th><th>trusted</th>"
            "<th>$/trusted</th><th>success</th><th>mean latency</th></tr>")

    def row(r: LedgerRow, css: str = "") -> str:
        cells = [escape(r.key), _fmt_money(r.spend_usd), str(r.calls), str(r.attempts), str(r.trusted),
                 _fmt_money(r.cost_per_trusted_usd),
                 "-" if r.success_rate is None else f"{r.success_rate:.0%}",
                 "-" if r.mean_latency_ms is None else f"{r.mean_latency_ms / 1000:.1f}s"]
        return f'<tr class="{css}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"

    return "<table>" + head + "".join(row(r) for r in ledger.rows) + row(ledger.total, "total") + "</table>"


def render_html(ledger: Ledger) -> str:
    """The whole report as one HTML document."""
    scope = f" since {escape(ledger.since)}" if ledger.since else ""
    scope += " (including eval runs)" if ledger.include_eval else ""
    spend = [(r.key, float(r.spend_usd), _fmt_money(r.spend_usd)) for r in ledger.rows]
    cpt = [(r.key, float(r.cost_per_trusted_usd or 0), _fmt_money(r.cost_per_trusted_usd)) for r in ledger.rows]
    success = [(r.key, r.success_rate or 0.0, "-" if r.success_rate is None else f"{r.success_rate:.0%}")
               for r in ledger.rows]
    t = ledger.total
    return (
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>harness cost report</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>Cost report by {escape(ledger.by)}{scope}</h1>"
        f"<p>Total spend {_fmt_money(t.spend_usd)} over {t.calls} calls; {t.trusted} trusted changes of "
        f"{t.attempts} attempts; cost per trusted change {_fmt_money(t.cost_per_trusted_usd)} "
        "(all spend, including failed, escalated and review calls, divided by trusted changes).</p>"
        + _table(ledger)
        + "<h2>Spend</h2>" + bar_chart("spend", spend, "#3b82f6")
        + "<h2>Cost per trusted change</h2>" + bar_chart("cost per trusted change", cpt, "#a855f7")
        + "<h2>Success rate</h2>" + bar_chart("success rate", success, "#22c55e")
        + "</body></html>\n"
    )
