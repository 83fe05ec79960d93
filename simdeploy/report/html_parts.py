"""The page style and the building blocks the HTML reports share (run report, game-day after-action report)."""

from __future__ import annotations

from html import escape

from simdeploy.k8s.duration import format_clock

CSS = """
:root { --ink: #1d232a; --muted: #5f6b76; --line: #e3e6ea; --soft: #f6f7f9;
        --pass: #1e7b34; --pass-bg: #e7f5eb; --fail: #b42318; --fail-bg: #fdecea; --warn-bg: #fff6df; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--soft); color: var(--ink);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 28px 24px 64px; }
h1 { font-size: 26px; margin: 0 0 2px; letter-spacing: -0.01em; }
h2 { font-size: 17px; margin: 0 0 10px; }
h3 { font-size: 14px; margin: 14px 0 6px; }
.meta { color: var(--muted); margin: 0 0 18px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 16px 20px; margin: 0 0 16px; }
.banner { border-radius: 10px; padding: 14px 20px; margin: 0 0 16px; font-size: 17px; font-weight: 600;
          border: 1px solid; }
.banner.pass { background: var(--pass-bg); color: var(--pass); border-color: #b9e0c4; }
.banner.fail { background: var(--fail-bg); color: var(--fail); border-color: #f5c2bc; }
.banner small { display: block; font-weight: 400; font-size: 14px; color: var(--ink); margin-top: 2px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(128px, 1fr)); gap: 10px; margin: 0 0 16px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 10px 14px; }
.card .value { font-size: 22px; font-weight: 650; font-variant-numeric: tabular-nums; line-height: 1.3; }
.card .value.words { font-size: 16px; padding-top: 4px; }
.card .label { color: var(--muted); font-size: 12.5px; }
.card.bad .value { color: var(--fail); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th { text-align: left; font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase;
     letter-spacing: 0.04em; padding: 6px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td { padding: 6px 10px; border-bottom: 1px solid #f0f2f4; vertical-align: top; }
tr:last-child td { border-bottom: 0; }
td.num { white-space: nowrap; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12.5px; font-weight: 650; }
.badge.pass { background: var(--pass-bg); color: var(--pass); }
.badge.fail { background: var(--fail-bg); color: var(--fail); }
.bad { color: var(--fail); font-weight: 600; }
.figure img { display: block; width: 100%; height: auto; }
.events { font-size: 13px; }
.events td { padding: 3px 10px; }
.events td.time, .events td.object { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
                                      font-size: 12.5px; }
.events { table-layout: fixed; }
.events th:nth-child(1) { width: 88px; } .events th:nth-child(2) { width: 80px; }
.events th:nth-child(3) { width: 180px; } .events th:nth-child(4) { width: 300px; }
.events td { overflow-wrap: anywhere; }
.events .namespace { color: var(--muted); font-size: 11.5px; }
.events td.time, .events td.type { white-space: nowrap; }
.events tr td:first-child { box-shadow: inset 3px 0 0 transparent; }
.events tr.warning td { background: var(--warn-bg); }
.events tr.warning td:first-child { box-shadow: inset 3px 0 0 #e0a100; }
.events tr.alert td { background: var(--fail-bg); }
.events tr.alert td:first-child { box-shadow: inset 3px 0 0 var(--fail); }
.events tr.action td { background: #f1f3f6; }
.events tr.action td:first-child { box-shadow: inset 3px 0 0 #6b6b6b; }
.events tr.action td.reason, .events tr.alert td.reason { font-weight: 650; }
.events .repeats { color: var(--muted); font-size: 12px; white-space: nowrap; }
.events thead th { position: sticky; top: 0; background: #fff; }
.muted { color: var(--muted); }
"""


def esc(value: object) -> str:
    """A value as HTML text (quotes escaped too, so it may stand in an attribute)."""
    return escape(str(value), quote=True)


def html_section(title: str, inner: str, css: str = "") -> str:
    return f'<section class="{css}">\n<h2>{esc(title)}</h2>\n{inner}\n</section>'


def html_table(header: list[str], rows: list[str], css: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    return f'<table class="{css}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n' + "\n".join(rows) + "\n</tbody></table>"


def clock(seconds: float | None) -> str:
    return "—" if seconds is None else format_clock(seconds)
