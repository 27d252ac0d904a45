"""Block Kit message(s) for one report date: pure (no environment, clock or network).

`build_messages` returns one payload dict per Slack message, `{"text": fallback, "blocks": [...]}`: the first is
the top post, the rest go as replies in its thread. Every payload is built with slack_sdk's block models and
validated by them, and stays within Slack's limits (blocks, characters of blocks JSON, text, button, URL).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from . import fmt
from .model import Analysis, Spike, Trend
from .view import captions, day_charts

# Slack's limits (docs.slack.dev "Block Kit" reference) and our margin for the whole blocks JSON: Slack rejects
# messages with msg_blocks_too_long near 13k characters, so we stay at 12k.
MAX_BLOCKS = 50
MAX_BLOCKS_CHARS = 12_000
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_URL = 3000
MAX_CONTEXT_ELEMENTS = 10
MAX_FALLBACK_TEXT = 3000  # Slack truncates `text` at 40k; notifications show far less
MAX_MESSAGES = 10  # top post + 9 thread replies; beyond that the rest is "…and N more on the site"
MAX_NAME = 120  # longest service name shown (characters, before escaping)
MAX_LISTED_MISSING = 5  # missing charts named (by caption) in the context line


@dataclass(frozen=True)
class MessageContext:
    """The non-data facts the message states: rule settings, data freshness, charts that failed to publish."""

    spike_z_threshold: float = 3.5
    spike_min_delta_usd: float = 5.0
    metric: str = "UnblendedCost"
    exclude_record_types: tuple[str, ...] = ("Credit", "Refund")
    group_by: str = ""
    trend_filter: bool = True
    missing_charts: Sequence[str] = field(default_factory=tuple)
    estimated_dates: Sequence[date] = field(default_factory=tuple)


# --- formatting ----------------------------------------------------------------------------------

def escape(text: str) -> str:
    """Escape Slack's control characters (&, <, >) so user data cannot form links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


money = fmt.money  # the one money style (to the cent, half up); kept here as the message's vocabulary
signed_money = fmt.signed_money


def percent(fraction: float | None) -> str:
    """A fraction as a signed percentage (fmt.pct); empty when unknown."""
    return "" if fraction is None or fraction != fraction else fmt.pct(fraction)


def change(value: float, base: float | None) -> str:
    """`+$12.34 (+1.0%)` for value against base; `n/a` without a base."""
    if base is None:
        return "n/a"
    pct = percent((value - base) / base) if base > 0 else ""
    return signed_money(value - base) + (f" ({pct})" if pct else "")


def _name(service: str) -> str:
    short = service if len(service) <= MAX_NAME else service[: MAX_NAME - 1] + "…"
    return escape(short)


def _link(url: str, text: str) -> str:
    """A mrkdwn link; the URL's &, <, > escaped as Slack expects, the label escaped."""
    return f"<{escape(url).replace('|', '%7C')}|{escape(text)}>"


def _usable_url(url: str | None) -> str | None:
    if not url or len(url) > MAX_URL or not url.startswith(("http://", "https://")):
        return None
    return url


# --- lines ---------------------------------------------------------------------------------------

def spike_text(s: Spike, d: date) -> str:
    """One mrkdwn line for a spike: name, cost on d, $ and % vs its baseline mean, z."""
    arrow = "↑" if s.direction == "up" else "↓"
    z = f"z = {s.zscore:+.1f}" if s.zscore is not None else "flat baseline (σ = 0)"
    pct = percent(s.pct)
    vs = f"{signed_money(s.delta)}" + (f" ({pct})" if pct else "")
    return (f"{arrow} *{_name(s.service)}* — {money(s.cost)} on {d.isoformat()}\n"
            f"{vs} vs normal {money(s.mean)} · {z} over {s.history_days} days")


def trend_text(t: Trend, d: date) -> str:
    """One mrkdwn line for a trend reversal: name, cost on d, 7-day vs 28-day average, MACD vs signal."""
    pct = percent(t.pct)
    vs = signed_money(t.avg7 - t.avg28) + (f" ({pct})" if pct else "")
    side = "above" if t.direction == "up" else "below"
    ago = t.crossed_days_ago
    when = "today" if ago <= 0 else ("yesterday" if ago == 1 else f"{ago} days ago")
    return (f"*{_name(t.service)}* — {money(t.cost)} on {d.isoformat()}\n"
            f"7-day avg {money(t.avg7)}: {vs} vs 28-day avg {money(t.avg28)} · "
            f"MACD crossed {side} its signal {when} (now {t.macd:+,.2f} vs {t.signal:+,.2f})")


@dataclass(frozen=True)
class _Line:
    text: str
    chart_id: str


@dataclass(frozen=True)
class _Section:
    title: str
    lines: list[_Line]
    note: str  # after the title, e.g. "3 services"


def _sections(analysis: Analysis) -> list[_Section]:
    d = analysis.report_date

    def by_cost(items):
        return sorted(items, key=lambda x: (-x.cost, x.service))

    chart = {(spec.kind, spec.service): spec.id for spec in day_charts(analysis)}
    out: list[_Section] = []
    for title, direction in (("Upward trending", "up"), ("Downward trending", "down")):
        trends = by_cost(t for t in analysis.trends if t.direction == direction)
        if trends:
            lines = [_Line(trend_text(t, d), chart["trend", t.service]) for t in trends]
            out.append(_Section(title, lines, _count(len(lines), "service")))
    if analysis.spikes:  # as in the report: dollars away from normal, biggest first, up or down
        spikes = sorted(analysis.spikes, key=lambda s: (-abs(s.delta), s.service))
        ups = sum(s.direction == "up" for s in spikes)
        lines = [_Line(spike_text(s, d), chart["spike", s.service]) for s in spikes]
        out.append(_Section("Spikes", lines, f"{ups} up, {len(spikes) - ups} down"))
    return out


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# --- blocks --------------------------------------------------------------------------------------

def _button(label: str, url: str | None, action_id: str) -> ButtonElement | None:
    url = _usable_url(url)
    if url is None:
        return None
    return ButtonElement(text=label[:MAX_BUTTON_TEXT], url=url, action_id=action_id)


def _section(text: str, accessory: ButtonElement | None = None) -> dict:
    if len(text) > MAX_SECTION_TEXT:
        text = text[: MAX_SECTION_TEXT - 1] + "…"
    return SectionBlock(text=MarkdownTextObject(text=text), accessory=accessory).to_dict()


def _size(block: dict) -> int:
    """Characters this block adds to the blocks JSON (as slack_sdk serialises it), separator included."""
    return len(json.dumps(block)) + 2


def blocks_chars(blocks: list[dict]) -> int:
    """Characters of the blocks JSON as sent (json.dumps defaults, as slack_sdk posts it)."""
    return len(json.dumps(blocks))


def _summary_text(analysis: Analysis) -> str:
    s = analysis.summary
    d = analysis.report_date
    lines = [f"*Total on {d.isoformat()}:* {money(s.total)}",
             f"vs the day before ({money(s.previous_day) if s.previous_day is not None else 'no data'}): "
             f"{change(s.total, s.previous_day)} · vs the 7-day average "
             f"({money(s.avg7) if s.avg7 is not None else 'no data'}): {change(s.total, s.avg7)}",
             f"*Month to date:* {money(s.mtd_total)} · vs the same days last month "
             f"({money(s.mtd_previous) if s.mtd_previous is not None else 'no data'}): "
             f"{change(s.mtd_total, s.mtd_previous)}"]
    return "\n".join(lines)


def _context_texts(analysis: Analysis, ctx: MessageContext, page_url: str | None,
                   missing: list[str], local_only: Sequence[str] = ()) -> list[str]:
    """The context line's texts; missing: chart ids (named by their captions, never by id)."""
    rule = (f"Spikes: |z| ≥ {ctx.spike_z_threshold:g} and ≥ {money(ctx.spike_min_delta_usd)} from normal · "
            f"trend filter {'on' if ctx.trend_filter else 'off'}")
    data = f"Metric: {escape(ctx.metric)}"
    if ctx.exclude_record_types:
        data += f" excluding {escape(', '.join(ctx.exclude_record_types))}"
    if ctx.group_by:
        data += f" · by {escape(ctx.group_by)}"
    fresh = fmt.estimated_days(ctx.estimated_dates) if ctx.estimated_dates else "All days final"
    texts = [rule, f"{data} · {fresh}"]
    url = _usable_url(page_url)
    if url:
        texts.append(_link(url, f"Site page for {analysis.report_date.isoformat()}"))
    if missing:
        specs = day_charts(analysis)
        order = {spec.id: i for i, spec in enumerate(specs)}
        in_page_order = sorted(missing, key=lambda cid: (order.get(cid, len(order)), cid))
        listed = ", ".join(escape(c) for c in captions(specs, in_page_order[:MAX_LISTED_MISSING]))
        more = f" and {len(missing) - MAX_LISTED_MISSING} more" if len(missing) > MAX_LISTED_MISSING else ""
        texts.append(f"⚠ {_count(len(missing), 'chart')} not published (no Plot button): {listed}{more}")
    if local_only:
        texts.append(f"{_count(len(local_only), 'chart')} on the local site only (no Plot button): set "
                     "PLOT_BASE_URL, or PLOTS_DESTINATION=s3://…, to link them")
    return texts


def _context_block(texts: list[str]) -> dict:
    elements = [MarkdownTextObject(text=t[:MAX_SECTION_TEXT]) for t in texts[:MAX_CONTEXT_ELEMENTS]]
    return ContextBlock(elements=elements).to_dict()


def _fallback(analysis: Analysis) -> str:
    s = analysis.summary
    d = analysis.report_date
    head = f"AWS costs — {d.isoformat()}: {money(s.total)}"
    if s.previous_day is not None:
        vs = percent((s.total - s.previous_day) / s.previous_day) if s.previous_day > 0 else ""
        head += f" ({vs or signed_money(s.total - s.previous_day)} vs the day before)"
    head += f", month to date {money(s.mtd_total)}."
    ups = sum(t.direction == "up" for t in analysis.trends)
    spikes_up = sum(sp.direction == "up" for sp in analysis.spikes)
    if not analysis.spikes and not analysis.trends:
        return head + " Nothing unusual."
    parts = [f"{_count(len(analysis.spikes), 'spike')} ({spikes_up} up)",
             f"{_count(len(analysis.trends), 'trend reversal')} ({ups} up)"]
    text = f"{head} {', '.join(parts)}."
    if analysis.spikes:
        top = max(analysis.spikes, key=lambda sp: (abs(sp.delta), sp.service))
        pct = percent(top.pct)
        text += (f" Top: {_name(top.service)} {money(top.cost)}, {signed_money(top.delta)}"
                 + (f" ({pct})" if pct else "") + " vs normal.")
    else:
        top_t = max(analysis.trends, key=lambda t: (t.cost, t.service))
        text += f" Top: {_name(top_t.service)} {money(top_t.cost)}, trending {top_t.direction}."
    return text[:MAX_FALLBACK_TEXT]


# --- packing -------------------------------------------------------------------------------------

@dataclass
class _Message:
    blocks: list[dict]
    chars: int  # characters of the blocks JSON so far
    sections: list[str]
    lines: int = 0  # service lines in this message

    def fits(self, extra_blocks: int, extra_chars: int, reserve_blocks: int = 0, reserve_chars: int = 0) -> bool:
        return (len(self.blocks) + extra_blocks + reserve_blocks <= MAX_BLOCKS
                and self.chars + extra_chars + reserve_chars <= MAX_BLOCKS_CHARS)

    def add(self, block: dict) -> None:
        self.blocks.append(block)
        self.chars += _size(block)


def _new_message(blocks: list[dict] | None = None) -> _Message:
    msg = _Message([], 0, [])  # json "[]" (2) + n blocks + (n - 1) separators == sum of _size
    for b in blocks or []:
        msg.add(b)
    return msg


def _heading(section: _Section, continued: bool) -> dict:
    suffix = " (continued)" if continued else f" · {section.note}"
    return _section(f"*{section.title}*{suffix}")


def _more_block(n: int, page_url: str | None) -> dict:
    url = _usable_url(page_url)
    where = _link(url, "on the site") if url else "on the site"
    return _section(f"…and {n} more {where}")


def build_messages(analysis: Analysis, chart_urls: dict[str, str], *, page_url: str | None,
                   context: MessageContext, max_messages: int = MAX_MESSAGES) -> list[dict]:
    """Payloads `{"text", "blocks"}` for d: the top post first, then thread replies, each within Slack's limits."""
    d = analysis.report_date
    missing = sorted(set(context.missing_charts))
    local_only: list[str] = []  # published to a folder, with no web address Slack could open
    button_n = 0

    def plot(chart_id: str, label: str = "Plot") -> ButtonElement | None:
        nonlocal button_n
        url = chart_urls.get(chart_id)
        if _usable_url(url) is None and chart_id not in missing:
            (local_only if url and url.startswith("file:") else missing).append(chart_id)
        button_n += 1
        return _button(label, url, f"plot_{button_n}")

    header = HeaderBlock(text=f"AWS costs — {d.isoformat()} · {money(analysis.summary.total)}"[:MAX_HEADER_TEXT])
    top_fixed = [header.to_dict(), _section(_summary_text(analysis))]
    buttons = [b for b in (plot(spec.id, spec.button) for spec in day_charts(analysis) if spec.service is None)
               if b is not None]
    if buttons:
        top_fixed.append(ActionsBlock(elements=buttons, block_id="summary_plots").to_dict())
    sections = _sections(analysis)
    if not sections:
        top_fixed.append(_section("Nothing unusual: no spikes and no trend reversals today."))
    else:
        top_fixed.append(DividerBlock().to_dict())

    # Build every line block first (it decides which charts are missing, which the context states).
    entries: list[tuple[_Section, dict]] = []
    for sec in sections:
        for line in sec.lines:
            entries.append((sec, _section(line.text, plot(line.chart_id))))
    missing = sorted(set(missing))
    context_texts = _context_texts(analysis, context, page_url, missing, sorted(set(local_only)))
    total_lines = len(entries)
    # The top post's footer: the context line, plus a pointer to the thread sized for the worst case.
    footer_reserve = _context_block(context_texts + [f"Continued in the thread: {total_lines} more lines ↓"])

    messages: list[_Message] = [_new_message(top_fixed)]
    more_reserve = _size(_more_block(total_lines, page_url))

    def place(sec: _Section, block: dict, new_section: bool) -> bool:
        while True:
            msg = messages[-1]
            index = len(messages) - 1
            reserve_b = (index == 0) + (index == max_messages - 1)
            reserve_c = (_size(footer_reserve) if index == 0 else 0) + (more_reserve if index == max_messages - 1
                                                                        else 0)
            fresh = index > 0 and not msg.blocks
            # A heading never ends a message alone (it goes with its first line); a reply that starts
            # inside a section repeats its title.
            heads = [_heading(sec, continued=False)] if new_section else (
                [_heading(sec, continued=True)] if fresh else [])
            if msg.fits(len(heads) + 1, sum(map(_size, heads)) + _size(block), reserve_b, reserve_c):
                for h in heads:
                    msg.add(h)
                if new_section or fresh:
                    msg.sections.append(sec.title)
                msg.add(block)
                msg.lines += 1
                return True
            if fresh or len(messages) >= max_messages:
                return False
            messages.append(_new_message())

    current_section: str | None = None
    cut = 0
    for i, (sec, block) in enumerate(entries):
        if not place(sec, block, sec.title != current_section):
            cut = total_lines - i
            break
        current_section = sec.title
    if cut:
        messages[-1].add(_more_block(cut, page_url))

    footer_texts = list(context_texts)
    if len(messages) > 1:
        in_thread = sum(m.lines for m in messages[1:])
        footer_texts.append(f"Continued in the thread: {_count(in_thread, 'more line')} ↓")
    messages[0].add(_context_block(footer_texts))

    fallback = _fallback(analysis)
    payloads = [{"text": fallback, "blocks": messages[0].blocks}]
    for n, msg in enumerate(messages[1:], start=2):
        text = f"AWS costs — {d.isoformat()}, continued ({n}/{len(messages)}): {', '.join(msg.sections)}"
        payloads.append({"text": text[:MAX_FALLBACK_TEXT], "blocks": msg.blocks})
    for payload in payloads:
        validate_payload(payload)
    return payloads


class PayloadError(ValueError):
    """A payload breaks one of Slack's limits (a bug in the builder, never sent)."""


def validate_payload(payload: dict) -> None:
    """Check a payload with slack_sdk's block models and our limits; raise SlackObjectFormationError/PayloadError."""
    blocks = payload.get("blocks") or []
    if not isinstance(payload.get("text"), str) or not payload["text"].strip():
        raise PayloadError("payload has no fallback text")
    if len(payload["text"]) > MAX_FALLBACK_TEXT:
        raise PayloadError(f"fallback text has {len(payload['text'])} characters (> {MAX_FALLBACK_TEXT})")
    if len(blocks) > MAX_BLOCKS:
        raise PayloadError(f"{len(blocks)} blocks (> {MAX_BLOCKS})")
    chars = blocks_chars(blocks)
    if chars > MAX_BLOCKS_CHARS:
        raise PayloadError(f"blocks JSON has {chars} characters (> {MAX_BLOCKS_CHARS})")
    for block in Block.parse_all(blocks):
        block.to_dict()  # slack_sdk checks nested limits (text, button, url lengths) only here


# --- preview -------------------------------------------------------------------------------------

_TOKEN = re.compile(r"<([^<>]*)>")
_STYLES = (
    (re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])"), r"<b>\1</b>"),
    (re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)_(?![\w_])"), r"<i>\1</i>"),
    (re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)~(?![\w~])"), r"<s>\1</s>"),
    (re.compile(r"`([^`\n]+)`"), r"<code>\1</code>"),
)


def _unslack(text: str) -> str:
    """Undo Slack's three escapes (the text is then HTML-escaped as a whole)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _styled(text: str) -> str:
    out = html.escape(_unslack(text), quote=False)
    for pattern, repl in _STYLES:
        out = pattern.sub(repl, out)
    return out.replace("\n", "<br>")


def mrkdwn_to_html(text: str) -> str:
    """Basic Slack mrkdwn as safe HTML: *bold*, _italic_, ~strike~, `code`, <url|label> links, escapes."""
    out: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        out.append(_styled(text[pos:m.start()]))
        target, _, label = m.group(1).partition("|")
        url = _unslack(target)
        if url.startswith(("http://", "https://", "mailto:")):
            out.append(f'<a href="{html.escape(url)}">{_styled(label) if label else html.escape(url)}</a>')
        elif target[:1] in "!@#":  # <!channel>, <@U123>, <#C123>: shown as text, never active
            out.append(html.escape(label or target.lstrip("!")))
        else:
            out.append(html.escape(m.group(0)))
        pos = m.end()
    out.append(_styled(text[pos:]))
    return "".join(out)


def _text_html(obj: dict | str | None) -> str:
    if obj is None:
        return ""
    if isinstance(obj, str):
        return html.escape(obj)
    if obj.get("type") == "mrkdwn":
        return mrkdwn_to_html(obj.get("text", ""))
    return html.escape(obj.get("text", "")).replace("\n", "<br>")


def _button_html(el: dict) -> str:
    label = _text_html(el.get("text"))
    url = el.get("url")
    if url and url.startswith(("http://", "https://")):
        return f'<a class="button" href="{html.escape(url)}">{label}</a>'
    return f'<span class="button disabled">{label}</span>'


def _element_html(el: dict) -> str:
    if el.get("type") == "button":
        return _button_html(el)
    if el.get("type") == "image":
        return f'<img src="{html.escape(el.get("image_url", ""))}" alt="{html.escape(el.get("alt_text", ""))}">'
    return f"<span>{_text_html(el)}</span>"


def _block_html(block: dict) -> str:
    kind = block.get("type")
    if kind == "header":
        return f"<h2>{_text_html(block.get('text'))}</h2>"
    if kind == "divider":
        return "<hr>"
    if kind == "context":
        return '<div class="context">' + " ".join(_element_html(e) for e in block.get("elements", [])) + "</div>"
    if kind == "actions":
        return '<div class="actions">' + " ".join(_element_html(e) for e in block.get("elements", [])) + "</div>"
    if kind == "section":
        parts = [f'<div class="text">{_text_html(block.get("text"))}</div>'] if block.get("text") else []
        if block.get("fields"):
            parts.append('<div class="fields">' + "".join(f"<div>{_text_html(f)}</div>"
                                                          for f in block["fields"]) + "</div>")
        if block.get("accessory"):
            parts.append(f'<div class="accessory">{_element_html(block["accessory"])}</div>')
        return '<div class="section">' + "".join(parts) + "</div>"
    return f'<div class="unknown">[{html.escape(str(kind))} block]</div>'


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:820px;margin:2em auto;color:#1d1c1d}
.message{border:1px solid #ddd;border-radius:8px;padding:12px 16px;margin:12px 0;background:#fff}
.reply{margin-left:48px;border-left:4px solid #b4c8e1}
.meta{color:#616061;font-size:12px;margin-bottom:6px}
h2{font-size:20px;margin:4px 0 10px}
.section{display:flex;justify-content:space-between;gap:12px;margin:8px 0;line-height:1.45}
.actions{margin:8px 0}
.button{display:inline-block;border:1px solid #bbb;border-radius:4px;padding:3px 12px;margin-right:6px;
 color:#1d1c1d;text-decoration:none;font-weight:600;font-size:14px;white-space:nowrap}
.button.disabled{color:#999}
.context{color:#616061;font-size:12px;margin-top:8px}.context span{margin-right:10px}
hr{border:0;border-top:1px solid #ddd}
code{background:#f6f6f6;padding:0 3px}
"""


def render_preview_html(payloads: list[dict], title: str, site_url: str | None = None) -> str:
    """A standalone HTML page (no JavaScript) showing the messages as Slack would: thread replies indented.

    site_url (any scheme, e.g. the file:// page of a local site) is linked above the messages, outside them.
    """
    body: list[str] = []
    if site_url:
        body.append(f'<p class="site">Charts of this report: <a href="{html.escape(site_url)}">'
                    f"{html.escape(site_url)}</a> (this link is part of the preview, not of the message)</p>")
    for i, payload in enumerate(payloads):
        cls = "message" if i == 0 else "message reply"
        meta = "top message" if i == 0 else f"reply {i} in the thread"
        inner = "".join(_block_html(b) for b in payload.get("blocks") or [])
        if not inner:
            inner = f"<div>{mrkdwn_to_html(payload.get('text', ''))}</div>"
        body.append(f'<div class="{cls}"><div class="meta">{meta} · notification text: '
                    f'{html.escape(_unslack(payload.get("text", "")))}</div>{inner}</div>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
            f"<h1>{html.escape(title)}</h1>\n" + "\n".join(body) + "\n</body></html>\n")
