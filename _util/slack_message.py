"""Block Kit message(s) of a report day, a view of its DayView: pure (no environment, clock or network).

`build_messages(view)` returns one payload dict per Slack message, `{"text": fallback, "blocks": [...]}`: the
first is the top post, the rest go as replies in its thread. Every payload is built with slack_sdk's block models
and validated by them, and stays within Slack's limits (blocks, characters of blocks JSON, text, button, URL).
Every fact and its wording comes from the view; this module only escapes, styles and packs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import markupsafe
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

from . import fmt, templating
from .view import CAPTIONS, HEADLINE_LEAD, DayView, Entry, Group, captions

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
ARROWS = {"up": "↑", "down": "↓"}


# --- formatting ----------------------------------------------------------------------------------

def escape(text: str) -> str:
    """Escape Slack's control characters (&, <, >) so user data cannot form links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


money = fmt.money  # the one money style (to the cent, half up); kept here as the message's vocabulary


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


# --- texts ---------------------------------------------------------------------------------------

def mention(user_or_group: str) -> str:
    """Slack's mention markup of a user (U…/W…: `<@U…>`) or user-group id (S…: `<!subteam^S…>`); "" for none."""
    if not user_or_group:
        return ""
    ident = escape(user_or_group)  # ids are checked by the teams file parser; escaped all the same
    return f"<!subteam^{ident}>" if user_or_group.startswith("S") else f"<@{ident}>"


def headline_text(view: DayView) -> str:
    """The first section: the team's mention (a team's view), the headline (its lead in bold, the service in
    bold), the alert counts below."""
    top = view.headline
    if top is None:
        text = escape(view.headline_text)
    else:
        text = f"*{escape(HEADLINE_LEAD)}:* *{_name(top.service)}* {escape(top.text)}"
    if view.team_mention:
        text = f"{mention(view.team_mention)} {text}"
    return text + (f"\n{escape(view.counts)}" if view.counts else "")


def totals_text(view: DayView) -> str:
    """The day's total with the day before and the same weekday last week; month to date with last month."""
    if view.team_month is not None:
        return team_totals_text(view)
    lines = [f"*{escape(view.total_label)}:* {money(view.total)}"]
    lines += [escape(c.text) for c in view.day_comparisons[:2]]
    lines += [f"*{escape(view.mtd_heading)}:* {money(view.mtd_total)}", escape(view.mtd_comparison.text)]
    if view.forecast_text:
        lines.append(escape(view.forecast_text))
    if view.last_month_text:
        lines.append(escape(view.last_month_text))
    lines += [escape(text) for text in view.budget_lines]
    return "\n".join(lines)


def team_totals_text(view: DayView) -> str:
    """A team's view: its day with the day before and the same weekday last week, its month to date and forecast,
    its budget, then one line on the whole account (the main report)."""
    lines = [f"*{escape(view.total_label)}:* {money(view.total)}"]
    lines += [escape(c.text) for c in view.day_comparisons[:2]]
    lines += [f"*{escape(view.mtd_heading)}:* {money(view.mtd_total)}", escape(view.team_forecast_text)]
    lines += [escape(text) for text in view.budget_lines]
    lines.append(f"_{escape(view.account_note)}_")
    return "\n".join(lines)


def fallback_text(view: DayView) -> str:
    """The notification text: title, total, change vs the day before, headline (plain, Slack-escaped)."""
    before = view.day_comparisons[0]
    change = f", {before.change} vs {before.short}" if before.base is not None else ""
    return escape(f"{view.title}: {money(view.total)}{change}. {view.headline_text}.")[:MAX_FALLBACK_TEXT]


def _chart_label(kind: str) -> str:
    """An inline link's label: the chart's kind as its captions name it ("trend chart")."""
    return f"{CAPTIONS[kind].lower()} chart"


# --- blocks --------------------------------------------------------------------------------------

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


def _context_block(texts: list[str]) -> dict:
    elements = [MarkdownTextObject(text=t[:MAX_SECTION_TEXT]) for t in texts[:MAX_CONTEXT_ELEMENTS]]
    return ContextBlock(elements=elements).to_dict()


class _Links:
    """The view's chart links as Slack can use them; remembers which charts had none (named in the context)."""

    def __init__(self, view: DayView):
        self.view = view
        self.missing: list[str] = list(view.missing)  # chart ids
        self.local_only: list[str] = []  # published to a folder, with no web address Slack could open
        self.buttons = 0

    def url(self, chart_id: str) -> str | None:
        chart = self.view.chart(chart_id)
        url = chart.url if chart else None
        if _usable_url(url) is None and chart_id not in self.missing and chart_id not in self.local_only:
            (self.local_only if url and url.startswith("file:") else self.missing).append(chart_id)
        return _usable_url(url)

    def button(self, chart_id: str) -> ButtonElement | None:
        url = self.url(chart_id)
        if url is None:
            return None
        self.buttons += 1
        chart = self.view.chart(chart_id)
        label = chart.button if chart else "Plot"
        return ButtonElement(text=label[:MAX_BUTTON_TEXT], url=url, action_id=f"plot_{self.buttons}")


def _entry_block(entry: Entry, links: _Links) -> dict:
    """`↑ *Service* <text>` with a Plot button to its first chart and a link to its second (a spike's trend), and
    its root causes on a second line."""
    text = f"{ARROWS[entry.direction]} *{_name(entry.service)}* {escape(entry.text)}"
    for chart_id in entry.chart_ids[1:]:
        url, chart = links.url(chart_id), links.view.chart(chart_id)
        if url and chart:
            text += f" · {_link(url, _chart_label(chart.kind))}"
    owner = links.view.owner_text(entry)
    if owner:
        text += f" · {escape(owner)}"
    if entry.cause_text:
        text += f"\n{escape(entry.cause_text)}"
    button = links.button(entry.chart_ids[0]) if entry.chart_ids else None
    return _section(text, button)


def _context_texts(view: DayView, links: _Links) -> list[str]:
    """The context line: the rules, freshness, the site page, and the charts a reader cannot open from here."""
    texts = [escape(line) for line in view.rules] + [escape(view.freshness)]
    url = _usable_url(view.page_url)
    if url:
        texts.append(_link(url, f"Site page for {fmt.weekday(view.report_date)}"))
    if links.missing:
        order = {c.id: i for i, c in enumerate(view.charts)}
        in_page_order = sorted(links.missing, key=lambda cid: (order.get(cid, len(order)), cid))
        listed = ", ".join(escape(c) for c in captions(view.charts, in_page_order[:MAX_LISTED_MISSING]))
        n = len(links.missing)
        more = f" and {n - MAX_LISTED_MISSING} more" if n > MAX_LISTED_MISSING else ""
        texts.append(f"⚠ {fmt.count(n, 'chart')} not published (no Plot button): {listed}{more}")
    if links.local_only:
        texts.append(f"{fmt.count(len(links.local_only), 'chart')} on the local site only (no Plot button): set "
                     "PLOT_BASE_URL, or PLOTS_DESTINATION=s3://…, to link them")
    return texts


# --- packing -------------------------------------------------------------------------------------

@dataclass
class _Message:
    blocks: list[dict]
    chars: int  # characters of the blocks JSON so far
    sections: list[str]
    lines: int = 0  # entry lines in this message

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


def _heading(group: Group, continued: bool) -> dict:
    suffix = " (continued)" if continued else f" · {escape(group.note)}"
    return _section(f"*{escape(group.title)}*{suffix}")


def _more_block(n: int, page_url: str | None) -> dict:
    url = _usable_url(page_url)
    where = _link(url, "on the site") if url else "on the site"
    return _section(f"…and {n} more {where}")


def build_messages(view: DayView, *, max_messages: int = MAX_MESSAGES) -> list[dict]:
    """Payloads `{"text", "blocks"}` of the day: the top post first, then thread replies, each within Slack's
    limits."""
    links = _Links(view)
    header = HeaderBlock(text=f"{view.title} · {money(view.total)}"[:MAX_HEADER_TEXT])
    top_fixed = [header.to_dict(), _section(headline_text(view)), _section(totals_text(view))]
    buttons = [b for b in (links.button(c.id) for c in view.charts if c.service is None) if b is not None]
    if buttons:
        top_fixed.append(ActionsBlock(elements=buttons, block_id="summary_plots").to_dict())
    if view.groups:
        top_fixed.append(DividerBlock().to_dict())

    # Build every entry block first (it decides which charts are missing, which the context states).
    entries = [(g, _entry_block(e, links)) for g in view.groups for e in g.entries]
    context_texts = _context_texts(view, links)
    total_lines = len(entries)
    # The top post's footer: the context line, plus a pointer to the thread sized for the worst case.
    footer_reserve = _context_block(context_texts + [f"Continued in the thread: {total_lines} more lines ↓"])

    messages: list[_Message] = [_new_message(top_fixed)]
    more_reserve = _size(_more_block(total_lines, view.page_url))

    def place(group: Group, block: dict, new_group: bool) -> bool:
        while True:
            msg = messages[-1]
            index = len(messages) - 1
            reserve_b = (index == 0) + (index == max_messages - 1)
            reserve_c = ((_size(footer_reserve) if index == 0 else 0)
                         + (more_reserve if index == max_messages - 1 else 0))
            fresh = index > 0 and not msg.blocks
            # A heading never ends a message alone (it goes with its first line); a reply that starts
            # inside a group repeats its title.
            heads = [_heading(group, continued=False)] if new_group else (
                [_heading(group, continued=True)] if fresh else [])
            if msg.fits(len(heads) + 1, sum(map(_size, heads)) + _size(block), reserve_b, reserve_c):
                for h in heads:
                    msg.add(h)
                if new_group or fresh:
                    msg.sections.append(group.title)
                msg.add(block)
                msg.lines += 1
                return True
            if fresh or len(messages) >= max_messages:
                return False
            messages.append(_new_message())

    current: str | None = None
    cut = 0
    for i, (group, block) in enumerate(entries):
        if not place(group, block, group.key != current):
            cut = total_lines - i
            break
        current = group.key
    if cut:
        messages[-1].add(_more_block(cut, view.page_url))

    footer_texts = list(context_texts)
    if len(messages) > 1:
        in_thread = sum(m.lines for m in messages[1:])
        footer_texts.append(f"Continued in the thread: {fmt.count(in_thread, 'more line')} ↓")
    messages[0].add(_context_block(footer_texts))

    payloads = [{"text": fallback_text(view), "blocks": messages[0].blocks}]
    for n, msg in enumerate(messages[1:], start=2):
        text = escape(f"{view.title}, continued ({n}/{len(messages)}): {', '.join(msg.sections)}")
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
    # Escaped first, so the style patterns only ever wrap escaped text in our own tags.
    out = str(markupsafe.escape(_unslack(text)))
    for pattern, repl in _STYLES:
        out = pattern.sub(repl, out)
    return out.replace("\n", "<br>")


def mrkdwn_to_html(text: str) -> markupsafe.Markup:
    """Basic Slack mrkdwn as safe HTML: *bold*, _italic_, ~strike~, `code`, <url|label> links, escapes."""
    out: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        out.append(_styled(text[pos:m.start()]))
        target, _, label = m.group(1).partition("|")
        url = _unslack(target)
        if url.startswith(("http://", "https://", "mailto:")):
            shown = _styled(label) if label else markupsafe.escape(url)
            out.append(markupsafe.Markup('<a href="{}">{}</a>').format(url, markupsafe.Markup(shown)))
        elif target[:1] in "!@#":  # <!channel>, <@U123>, <#C123>: shown as text, never active
            out.append(markupsafe.escape(label or target.lstrip("!")))
        else:
            out.append(markupsafe.escape(m.group(0)))
        pos = m.end()
    out.append(_styled(text[pos:]))
    return markupsafe.Markup("".join(out))


def _text_html(obj: dict | str | None) -> markupsafe.Markup:
    """A text object as HTML: mrkdwn converted, plain text escaped with its line breaks."""
    if obj is None:
        return markupsafe.Markup("")
    if isinstance(obj, str):
        return markupsafe.escape(obj)
    if obj.get("type") == "mrkdwn":
        return mrkdwn_to_html(obj.get("text", ""))
    return markupsafe.escape(obj.get("text", "")).replace("\n", markupsafe.Markup("<br>"))


def _element(el: dict) -> dict:
    """A block element for the template: kind (button | image | text), label (HTML), url or alt text."""
    if el.get("type") == "button":
        url = el.get("url")
        return {"kind": "button", "label": _text_html(el.get("text")),
                "url": url if url and url.startswith(("http://", "https://")) else None}
    if el.get("type") == "image":
        return {"kind": "image", "url": el.get("image_url", ""), "alt": el.get("alt_text", "")}
    return {"kind": "text", "label": _text_html(el)}


def _block(block: dict) -> dict:
    """A block for the template (its texts converted to HTML, its URLs left to the template to escape)."""
    kind = block.get("type")
    out: dict = {"kind": kind if kind in ("header", "divider", "context", "actions", "section") else "unknown",
                 "type": str(kind)}
    if kind == "header":
        out["text"] = _text_html(block.get("text"))
    elif kind in ("context", "actions"):
        out["elements"] = [_element(e) for e in block.get("elements", [])]
    elif kind == "section":
        out["text"] = _text_html(block["text"]) if block.get("text") else None
        out["fields"] = [_text_html(f) for f in block.get("fields") or []]
        out["accessory"] = _element(block["accessory"]) if block.get("accessory") else None
    return out


def _messages(payloads: list[dict]) -> list[dict]:
    return [{"reply": i > 0, "meta": "top message" if i == 0 else f"reply {i} in the thread",
             "notification": _unslack(p.get("text", "")), "text": mrkdwn_to_html(p.get("text", "")),
             "blocks": [_block(b) for b in p.get("blocks") or []]}
            for i, p in enumerate(payloads)]


def render_preview_html(payloads: list[dict], title: str, site_url: str | None = None, *,
                        teams: list[tuple[str, list[dict]]] = ()) -> str:
    """A standalone HTML page (no JavaScript) showing the messages as Slack would: thread replies indented; then
    one section per team channel, teams: (heading, payloads).

    site_url (any scheme, e.g. the file:// page of a local site) is linked above the messages, outside them.
    """
    return templating.render("slack_preview.html.j2", title=title, site_url=site_url, messages=_messages(payloads),
                             teams=[{"heading": h, "messages": _messages(ps)} for h, ps in teams])
