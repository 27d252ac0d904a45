"""The Block Kit builder as a view of the DayView: golden message of the demo day reviewed as a reader would, Slack's
limits, threading, escaping, fallback text, preview page."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from decimal import Decimal
from pathlib import Path

import markupsafe
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from _util import model, view
from _util.model import Spike, Trend
from _util.slack_message import (
    MAX_BLOCKS,
    MAX_BLOCKS_CHARS,
    MAX_MESSAGES,
    PayloadError,
    blocks_chars,
    build_messages,
    money,
    mrkdwn_to_html,
    render_preview_html,
    validate_payload,
)
from tests.browser import chromium_dom
from tests.demo_day import demo_view
from tests.slack_fixtures import BASE, D, all_urls, analysis, day_view, golden_analysis, many_alerts

GOLDEN = Path(__file__).parent / "golden" / "slack_message.json"
PAGE = f"{BASE}/{D.isoformat()}/"
HOSTILE = "<!channel> & <script>alert(1)</script>"
DEMO_SITE = "https://costs.example.com/2026-11-25/"
JARGON = ("MACD", "z =", "σ", "signal", "std", "standard deviation")
MONEY = re.compile(r"\$[\d,]+\.\d\d(?!\d)")


def texts(payload: dict) -> list[str]:
    """Every piece of text in a payload's blocks."""
    out = []
    for b in payload["blocks"]:
        if isinstance(b.get("text"), dict):
            out.append(b["text"]["text"])
        out += [e["text"] for e in b.get("elements", []) if isinstance(e.get("text"), str)]
        out += [e["text"]["text"] for e in b.get("elements", []) if isinstance(e.get("text"), dict)]
        if b.get("accessory"):
            out.append(b["accessory"]["text"]["text"])
    return out


def all_texts(payloads: list[dict]) -> list[str]:
    """The fallback texts and every block text of the payloads."""
    return [t for p in payloads for t in [p["text"], *texts(p)]]


def buttons(payload: dict) -> list[dict]:
    out = [b["accessory"] for b in payload["blocks"] if b.get("accessory", {}).get("type") == "button"]
    for b in payload["blocks"]:
        out += [e for e in b.get("elements", []) if e.get("type") == "button"]
    return out


def context_text(payload: dict) -> str:
    assert payload["blocks"][-1]["type"] == "context"
    return " ".join(e["text"] for e in payload["blocks"][-1]["elements"])


def assert_within_limits(payload: dict) -> None:
    """Slack's limits, checked with slack_sdk's models and by hand."""
    blocks = payload["blocks"]
    assert isinstance(payload["text"], str) and payload["text"].strip()
    assert len(blocks) <= MAX_BLOCKS
    assert blocks_chars(blocks) <= MAX_BLOCKS_CHARS
    assert len(json.dumps(blocks, ensure_ascii=False)) <= MAX_BLOCKS_CHARS
    for block in Block.parse_all(blocks):
        block.to_dict()  # raises SlackObjectFormationError on any nested violation
    for b in blocks:
        if b["type"] == "header":
            assert len(b["text"]["text"]) <= 150
        if b["type"] == "section":
            assert len(b["text"]["text"]) <= 3000
        if b["type"] == "context":
            assert len(b["elements"]) <= 10
    for button in buttons(payload):
        assert len(button["text"]["text"]) <= 75
        assert len(button["url"]) <= 3000


def entry_blocks(payloads: list[dict]) -> list[dict]:
    """The entry sections (one per service: they start with an arrow)."""
    return [b for p in payloads for b in p["blocks"]
            if b["type"] == "section" and b["text"]["text"].startswith(("↑ ", "↓ "))]


def entry_lines(payloads: list[dict]) -> list[str]:
    return [b["text"]["text"] for b in entry_blocks(payloads)]


def name_of(line: str) -> str:
    return re.match(r"^[↑↓] \*([^*]+)\* ", line).group(1)


def headings(payloads: list[dict]) -> list[str]:
    """Group titles in order (a continued group is listed again)."""
    return [m.group(1) for p in payloads for b in p["blocks"] if b["type"] == "section"
            for m in [re.fullmatch(r"\*([^*]+)\*(?: · .+| \(continued\))", b["text"]["text"])] if m]


# --- the demo day: golden payloads, reviewed as a reader would -----------------------------------

def demo_payloads() -> list[dict]:
    """The demo day's message with every chart published under https://costs.example.com/2026-11-25/."""
    v = demo_view()
    urls = {c.id: DEMO_SITE + c.filename for c in v.charts}
    return build_messages(view.with_links(v, urls, DEMO_SITE))


@pytest.fixture(scope="module")
def demo() -> list[dict]:
    """The golden payloads (test_golden_message holds them equal to the file), for the reader-review tests."""
    return demo_payloads()


def test_golden_message(demo):
    """The demo day's payloads, exactly. After an intended change, regenerate with UPDATE_GOLDEN=1 and review
    the diff of tests/golden/slack_message.json as a reader would."""
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(demo, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert demo == json.loads(GOLDEN.read_text(encoding="utf-8")), "UPDATE_GOLDEN=1 accepts an intended change"


def test_headline_first_without_jargon(demo):
    """The first section (after the header) leads with the day's biggest $ change in plain words."""
    top = demo[0]
    assert top["blocks"][0]["type"] == "header"
    first = top["blocks"][1]["text"]["text"]
    headline = first.splitlines()[0]
    assert not any(word in headline for word in JARGON), headline
    v = demo_view()
    biggest = max(v.entries, key=lambda e: abs(e.impact))
    assert headline.startswith(f"*Biggest change:* *{biggest.service}* ")
    assert first.splitlines()[1] == v.counts


def test_spikes_first_savings_after_increases(demo):
    titles = headings(demo)
    assert titles[0] == "Spikes"
    assert "Savings" in titles
    increases = [i for i, t in enumerate(titles) if t != "Savings"]
    assert max(increases) < titles.index("Savings")
    lines = entry_lines(demo)
    ups = [i for i, line in enumerate(lines) if line.startswith("↑")]
    downs = [i for i, line in enumerate(lines) if line.startswith("↓")]
    assert ups and downs and max(ups) < min(downs)


def test_no_chart_id_in_any_text(demo):
    ids = [c.id for c in demo_view().charts]
    dumped = json.dumps(demo, ensure_ascii=False)
    for chart_id in [*ids, "spike:", "trend:", model.MTD_CHART, model.DAILY_CHART,
                     model.CUMULATIVE_CHART]:
        assert chart_id not in dumped, chart_id


def test_one_money_precision(demo):
    """Every $ figure of every text is to the cent ($1,234.56), none compact ($1.2k) or whole ($176)."""
    for text in all_texts(demo):
        assert text.count("$") == len(MONEY.findall(text)), text


def test_figures_shown_together_add_up_to_the_cent(demo):
    """A reader checks "$61.43 … $42.08 above its normal $19.35" and "-$25.79 vs …: $1,210.27" by subtraction."""
    def usd(text: str) -> Decimal:
        return Decimal(text.replace("$", "").replace(",", ""))

    text = "\n".join(all_texts(demo))
    spikes = re.findall(r"(?:spiked|dropped) to (-?\$[\d,.]+) on [^,]+, \w+ \d+, (\$[\d,.]+) \([^)]*\) (above|below) "
                        r"its normal (\$[\d,.]+)/day", text)
    assert len(spikes) >= 4
    for on_d, change, side, normal in spikes:
        assert usd(on_d) - usd(normal) == (usd(change) if side == "above" else -usd(change)), (on_d, change, normal)
    total = usd(re.search(r"\*Total on [^*]+:\* (\$[\d,.]+)", text).group(1))
    comparisons = re.findall(r"^([+-]?-?\$[\d,.]+) \([^)]*\) vs [^:\n]+\(the (?:day before|same weekday last week)\): "
                             r"(\$[\d,.]+)$", text, flags=re.M)
    assert len(comparisons) == 2
    for change, base in comparisons:
        assert total - usd(base) == usd(change.replace("+", "")), (change, base)


def test_one_line_per_service(demo):
    names = [name_of(line) for line in entry_lines(demo)]
    assert names and len(names) == len(set(names))
    for line in entry_lines(demo):  # and no line names another entry's service in bold
        assert re.findall(r"\*([^*]+)\*", line) == [name_of(line)]


def test_no_statistics_in_the_message(demo):
    """z, σ and MACD figures are on the site and the charts (entry.detail); the message says it plainly. Only the
    rule lines of the context (what a spike and a trend are) may name the method."""
    v = demo_view()
    for p in demo:
        for b in p["blocks"][:-1] if p is demo[0] else p["blocks"]:
            for t in texts({"blocks": [b]}):
                assert not any(word in t for word in ("MACD", "z =", "σ")), t
    for e in v.entries:
        assert e.detail not in json.dumps(demo, ensure_ascii=False)


def test_a_spike_that_is_also_a_trend_is_one_entry_with_both_charts(demo):
    v = demo_view()
    both = next(e for e in v.entries if e.kinds == ("spike", "trend"))
    (line,) = [b for b in entry_blocks(demo) if name_of(b["text"]["text"]) == both.service]
    spike_url, trend_url = (DEMO_SITE + v.chart(cid).filename for cid in both.chart_ids)
    assert line["accessory"]["url"] == spike_url
    assert f"<{trend_url}|trend chart>" in line["text"]["text"]
    assert "spiked" in line["text"]["text"] and "trending up" in line["text"]["text"]


def test_demo_totals_and_context_are_the_views_words(demo):
    v = demo_view()
    top = demo[0]
    assert top["blocks"][0]["text"]["text"] == f"{v.title} · {money(v.total)}"
    totals = top["blocks"][2]["text"]["text"]
    for c in (*v.day_comparisons[:2], v.mtd_comparison):
        assert c.text in totals
    assert v.mtd_label in totals
    ctx = context_text(top)
    for line in (*v.rules, v.freshness):
        assert line.replace("&", "&amp;") in ctx
    assert f"<{DEMO_SITE}|" in ctx
    before = v.day_comparisons[0]
    assert top["text"] == f"{v.title}: {money(v.total)}, {before.change} vs {before.short}. {v.headline_text}."


# --- a synthetic day: content, limits, threading, escaping ---------------------------------------

def test_golden_fixture_content():
    """What a busy day shows: groups in order, one line per service biggest first, buttons, context."""
    a = golden_analysis()
    (top,) = build_messages(day_view(a, all_urls(a), PAGE))
    assert_within_limits(top)
    assert top["blocks"][0] == {"type": "header", "text": {
        "type": "plain_text", "emoji": True, "text": "AWS costs — Wednesday, November 25, 2026 · $1,234.56"}}
    assert top["blocks"][1]["text"]["text"].startswith("*Biggest change:* *Amazon EC2* spiked to $123.45")
    totals = top["blocks"][2]["text"]["text"]
    for figure in ("$1,234.56", "$1,222.22", "+1.0%", "$1,250.00", "-1.2%", "$28,000.00", "+5.1%",
                   "the same weekday last week", "the same 25 days last month"):
        assert figure in totals
    assert "$1,275.00" not in totals  # the 7-day average is the site's, not the message's
    assert [b["url"] for b in top["blocks"][3]["elements"]] == [all_urls(a)[model.MTD_CHART],
                                                               all_urls(a)[model.DAILY_CHART],
                                                               all_urls(a)[model.CUMULATIVE_CHART]]
    assert headings([top]) == ["Spikes", "Trending up", "Savings"]
    names = [name_of(t) for t in entry_lines([top])]
    assert names == ["Amazon EC2", "AWS Lambda", "Amazon S3 &amp; &lt;Glacier&gt;",
                     "Amazon DynamoDB", "Amazon CloudFront", "Amazon RDS", "Amazon SQS"]
    lines = dict(zip(names, entry_lines([top]), strict=True))
    assert all(x in lines["Amazon EC2"] for x in ("$123.45", "$80.00", "$43.45"))
    assert "spiked to $0.00 on" in lines["Amazon S3 &amp; &lt;Glacier&gt;"]  # $0.004: always to the cent
    assert lines["Amazon RDS"].startswith("↓ ") and lines["Amazon EC2"].startswith("↑ ")
    line_buttons = [b["accessory"]["url"] for b in entry_blocks([top])]
    assert line_buttons[0] == all_urls(a)[model.spike_chart_id("Amazon EC2")]
    assert len(line_buttons) == 7
    ctx = context_text(top)
    for fact in ("2.75", "$5.00", "UnblendedCost", "Credit, Refund",
                 "Estimated costs (the bill is not final yet): November 24–25", PAGE):
        assert fact in ctx


def test_rules_in_the_context_follow_the_settings():
    a = golden_analysis()
    (top,) = build_messages(day_view(a, spike_z_threshold=4.5, group_by="LINKED_ACCOUNT", trend_filter=False))
    ctx = context_text(top)
    assert "at least 4.5 standard deviations" in ctx and "LINKED_ACCOUNT" in ctx and "trend filter off" in ctx


def test_quiet_day_is_the_headline_and_totals():
    (top,) = build_messages(day_view(analysis(), all_urls(analysis()), PAGE))
    assert_within_limits(top)
    first = top["blocks"][1]["text"]["text"]
    assert first.startswith("Nothing unusual: $1,234.56") and "\n" not in first  # no counts line
    assert not headings([top]) and not entry_lines([top])
    assert not any(b["type"] == "divider" for b in top["blocks"])
    assert "Nothing unusual" in top["text"] and "$1,234.56" in top["text"]


def test_empty_groups_are_left_out():
    a = analysis(spikes=[Spike("Amazon EC2", "down", 1.0, 50.0, 5.0, -9.8, -49.0, 40)])
    (top,) = build_messages(day_view(a, all_urls(a)))
    assert headings([top]) == ["Savings"]
    assert "*Savings* · 1 service" in texts(top)
    assert "Site page" not in json.dumps(top)  # no page URL, no link


@pytest.mark.parametrize("n", [200])
def test_many_alerts_split_into_thread_within_limits(n):
    a = many_alerts(n)
    v = day_view(a, all_urls(a), PAGE)
    payloads = build_messages(v)
    assert 1 < len(payloads) <= MAX_MESSAGES
    for p in payloads:
        assert_within_limits(p)
    names = [name_of(t) for t in entry_lines(payloads)]
    # Every alert is shown once, none dropped, in the view's order across the split.
    assert names == [e.service for e in v.entries]
    # The top message carries the header and the totals, the replies continue the groups.
    assert payloads[0]["blocks"][0]["type"] == "header"
    assert all(p["blocks"][0]["type"] != "header" for p in payloads[1:])
    assert all(re.fullmatch(r"\*[^*]+\* \(continued\)|\*[^*]+\* · .+", p["blocks"][0]["text"]["text"])
               for p in payloads[1:])
    assert "Continued in the thread" in json.dumps(payloads[0]["blocks"][-1])
    assert all("continued" in p["text"] for p in payloads[1:])


def test_too_many_for_a_thread_is_cut_with_a_count():
    a = many_alerts(200)
    long_base = "https://bucket.s3.amazonaws.com/costs?" + "X-Amz-Security-Token=" + "A" * 1500
    payloads = build_messages(day_view(a, all_urls(a, long_base), PAGE))
    assert len(payloads) == MAX_MESSAGES
    for p in payloads:
        assert_within_limits(p)
    shown = len(entry_lines(payloads))
    last = payloads[-1]["blocks"][-1]["text"]["text"]
    m = re.match(r"…and (\d+) more <(.+)\|on the site>", last)
    assert m, last
    assert shown + int(m.group(1)) == 200
    assert m.group(2) == PAGE


def test_url_too_long_or_missing_chart_keeps_line_without_button():
    a = golden_analysis()
    urls = all_urls(a)
    urls[model.spike_chart_id("Amazon EC2")] = "https://x.example/" + "a" * 3000
    del urls[model.trend_chart_id("Amazon SQS")]
    del urls[model.DAILY_CHART]
    (top,) = build_messages(day_view(a, urls, PAGE, missing=["trend:Amazon SQS"]))
    assert_within_limits(top)
    by_name = {name_of(b["text"]["text"]): b for b in entry_blocks([top])}
    assert "accessory" not in by_name["Amazon EC2"]
    assert "accessory" not in by_name["Amazon SQS"]
    assert "accessory" in by_name["Amazon RDS"]
    assert [b["text"]["text"] for b in top["blocks"][3]["elements"]] == ["Plot month to date", "Plot month vs budget"]
    ctx = context_text(top)
    assert "3 charts not published" in ctx
    for caption in ("Spike: Amazon EC2", "Trend: Amazon SQS", "Daily spend by service this month"):
        assert caption in ctx
    for chart_id in ("spike:", "trend:", "daily_by_service"):  # ids are keys, never text
        assert chart_id not in json.dumps(top)


def test_second_chart_link_only_when_usable():
    """A spike that is also a trend links its trend chart inline; without a URL the link is left out and the
    chart is named among the missing ones."""
    a = analysis([Spike("Amazon EC2", "up", 120.0, 40.0, 10.0, 8.0, 80.0, 90)],
                 [Trend("Amazon EC2", "up", 1.0, 0.5, 120.0, 60.0, 40.0)])
    urls = all_urls(a)
    (line,) = entry_lines(build_messages(day_view(a, urls)))
    assert f"<{urls[model.trend_chart_id('Amazon EC2')]}|trend chart>" in line
    del urls[model.trend_chart_id("Amazon EC2")]
    (top,) = build_messages(day_view(a, urls))
    (block,) = entry_blocks([top])
    assert "<" not in block["text"]["text"] and block["accessory"]["url"] == urls[model.spike_chart_id("Amazon EC2")]
    assert "1 chart not published (no Plot button): Trend: Amazon EC2" in context_text(top)


def test_charts_on_a_local_site_are_not_called_unpublished():
    """A folder destination gives file:// links Slack cannot open: no buttons, and the context says how to link
    them instead of claiming the charts failed to publish."""
    a = golden_analysis()
    urls = {k: f"file:///srv/site/{D.isoformat()}/{i}.png" for i, k in enumerate(all_urls(a))}
    (top,) = build_messages(day_view(a, urls, f"file:///srv/site/{D.isoformat()}/index.html"))
    assert_within_limits(top)
    assert not [b for b in top["blocks"] if b["type"] == "actions" or "accessory" in b]
    ctx = context_text(top)
    assert f"{len(urls)} charts on the local site only" in ctx and "PLOT_BASE_URL" in ctx
    assert "not published" not in ctx and "file://" not in json.dumps(top)


def test_hostile_service_name_is_escaped():
    a = analysis(spikes=[Spike(HOSTILE, "up", 100.0, 10.0, 5.0, 18.0, 90.0, 60)],
                 trends=[Trend(HOSTILE + " 2", "up", 1.0, 0.5, 50.0, 40.0, 30.0)])
    payloads = build_messages(day_view(a, all_urls(a), PAGE, missing=[f"spike:{HOSTILE}"],
                                       group_by="<@U123> & co"))
    dumped = json.dumps(payloads, ensure_ascii=False)
    assert "<!channel>" not in dumped and "<script>" not in dumped and "<@U123>" not in dumped
    assert "&lt;!channel&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in dumped
    assert "&lt;!channel&gt;" in payloads[0]["text"]  # the headline names it in the notification too
    # The only <…> constructs left are our own links.
    for t in all_texts(payloads):
        for token in re.findall(r"<([^>]*)>", t):
            assert token.startswith("https://"), token


def test_fallback_text_says_the_essentials():
    a = golden_analysis()
    (top,) = build_messages(day_view(a, all_urls(a), PAGE))
    assert top["text"] == ("AWS costs — Wednesday, November 25, 2026: $1,234.56, +$12.34 (+1.0%) vs the day before. "
                           "Biggest change: "
                           "Amazon EC2 spiked to $123.45 on Wed, November 25, $80.00 (184.1%) above its normal "
                           "$43.45/day.")


def test_fallback_text_without_the_day_before():
    a = analysis()
    a.summary = dataclasses.replace(a.summary, previous_day=None)
    (top,) = build_messages(day_view(a))
    assert top["text"].startswith("AWS costs — Wednesday, November 25, 2026: $1,234.56. Nothing unusual")


@pytest.mark.parametrize("value,expected", [
    (1234.56, "$1,234.56"), (0.004, "$0.00"), (0.0, "$0.00"), (-40.0, "-$40.00"), (0.01, "$0.01"),
    (1234567.891, "$1,234,567.89"), (0.00123, "$0.00"), (0.00001, "$0.00"),
    (-0.004, "$0.00"), (1e-13, "$0.00"), (0.0099, "$0.01"), (2.675, "$2.68"), (-1.005, "-$1.01"),
])
def test_money(value, expected):
    assert money(value) == expected


def test_validate_payload_rejects_violations():
    ok = {"text": "t", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}]}
    validate_payload(ok)
    with pytest.raises(PayloadError):
        validate_payload({"text": "t", "blocks": ok["blocks"] * 51})
    with pytest.raises(PayloadError):
        validate_payload({"text": "", "blocks": ok["blocks"]})
    with pytest.raises(PayloadError):
        validate_payload({"text": "t", "blocks": [{"type": "section", "text": {"type": "mrkdwn",
                                                                              "text": "x" * 2900}}] * 5})
    with pytest.raises(SlackObjectFormationError):
        validate_payload({"text": "t", "blocks": [{"type": "section", "text": {"type": "mrkdwn",
                                                                              "text": "x" * 3001}}]})
    with pytest.raises(SlackObjectFormationError):
        validate_payload({"text": "t", "blocks": [{"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}, "url": "https://x"}]}]})


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=300)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spike_names=st.lists(names, max_size=60, unique=True), trend_names=st.lists(names, max_size=30, unique=True),
       url_len=st.integers(20, 3100), max_messages=st.integers(1, 6))
def test_any_alerts_fit_slack_limits(spike_names, trend_names, url_len, max_messages):
    spikes = [Spike(n, "up" if i % 2 else "down", 10.0 + i, 5.0, 1.0, 5.0, 5.0 + i, 30)
              for i, n in enumerate(spike_names)]
    trends = [Trend("T" + n, "up" if i % 2 else "down", 1.0, 0.5, 3.0 + i, 2.0, 1.0)
              for i, n in enumerate(trend_names)]
    a = analysis(spikes, trends)
    urls = {k: "https://e.x/" + "u" * (url_len - 12) for k in all_urls(a)}
    v = day_view(a, urls, PAGE)
    payloads = build_messages(v, max_messages=max_messages)
    assert len(payloads) <= max_messages
    for p in payloads:
        assert_within_limits(p)
    shown = len(entry_lines(payloads))
    cuts = [re.match(r"…and (\d+) more", b["text"]["text"]) for b in payloads[-1]["blocks"] if b["type"] == "section"]
    cut = sum(int(m.group(1)) for m in cuts if m)
    assert shown + cut == len(v.entries)  # a service that is a spike and a trend is one entry


# --- preview -------------------------------------------------------------------------------------

def test_mrkdwn_to_html():
    assert mrkdwn_to_html("*b* _i_ <https://x.example/?a=1&amp;b=2|the &lt;site&gt;>") == \
        '<b>b</b> <i>i</i> <a href="https://x.example/?a=1&amp;b=2">the &lt;site&gt;</a>'
    assert mrkdwn_to_html("&lt;script&gt; &amp; <!channel>") == "&lt;script&gt; &amp; channel"
    assert mrkdwn_to_html("<javascript:alert(1)|x>") == "&lt;javascript:alert(1)|x&gt;"
    assert mrkdwn_to_html("a\nb") == "a<br>b"
    assert isinstance(mrkdwn_to_html("*b*"), markupsafe.Markup)  # the template keeps it, escapes the rest


def test_preview_links_the_site_outside_the_message():
    (top,) = build_messages(day_view(golden_analysis()))
    page = render_preview_html([top], "t", "file:///srv/site/2026-11-25/index.html")
    assert '<a href="file:///srv/site/2026-11-25/index.html">' in page
    assert page.index("Charts of this report") < page.index('class="message"')


def test_preview_escapes_what_is_not_mrkdwn():
    """The title, the notification text and the site URL are data: the template escapes them."""
    payload = {"text": "&lt;b&gt;x&lt;/b&gt; & <i>", "blocks": [
        {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "<b>"},
                                          "url": 'https://x.example/"><script>'}]}]}
    page = render_preview_html([payload], "<script>t</script>", 'https://s.example/"onload="x')
    assert "<script>" not in page and "<b>" not in page and '"onload' not in page
    assert 'href="https://x.example/&#34;&gt;&lt;script&gt;"' in page
    assert "&lt;script&gt;t&lt;/script&gt;" in page and "notification text: &lt;b&gt;x&lt;/b&gt;" in page


def test_preview_shows_text_only_payloads_fields_and_unknown_blocks():
    page = render_preview_html([
        {"text": "*only* text &lt;x&gt;", "blocks": []},
        {"text": "t", "blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "_f_"}]},
                                 {"type": "video", "title": "<v>"}]}], "p")
    assert "<div><b>only</b> text &lt;x&gt;</div>" in page
    assert '<div class="fields"><div><i>f</i></div></div>' in page and "[video block]" in page


def test_preview_page_shows_messages_buttons_and_thread():
    a = many_alerts(120)
    a.spikes[0] = Spike(HOSTILE, "up", 999.0, 10.0, 5.0, 18.0, 989.0, 60)
    payloads = build_messages(day_view(a, all_urls(a), PAGE))
    page = render_preview_html(payloads, "Preview 2026-11-25")
    assert "<script>" not in page and "<!channel>" not in page
    assert "&lt;!channel&gt; &amp; &lt;script&gt;" in page
    assert page.count('class="message reply"') == len(payloads) - 1
    assert f'href="{all_urls(a)[model.MTD_CHART]}"' in page
    assert f'href="{PAGE}"' in page
    assert "<h2>AWS costs — Wednesday, November 25, 2026 · $1,234.56</h2>" in page


def test_preview_opens_in_chromium(chromium, tmp_path):
    a = golden_analysis()
    payloads = build_messages(day_view(a, all_urls(a), PAGE))
    path = tmp_path / "slack_preview.html"
    path.write_text(render_preview_html(payloads, "Slack preview"), encoding="utf-8")
    dom = chromium_dom(chromium, path.as_uri(), tmp_path)
    assert "AWS costs — Wednesday, November 25, 2026 · $1,234.56" in dom
    summary = sum(c.service is None for c in view.day_charts(a))  # month to date, daily, month vs budget
    assert dom.count('class="button"') == summary + 7  # and one per line
    assert f'href="{all_urls(a)[model.spike_chart_id("Amazon EC2")]}"' in dom
    assert "Amazon S3 &amp; &lt;Glacier&gt;" in dom


def test_totals_section_carries_the_views_forecast_line_once():
    from _util.slack_message import totals_text

    v = demo_view()
    assert v.forecast is not None and v.forecast_text.startswith("On track for ")
    text = totals_text(v)
    lines = text.splitlines()
    # the forecast line, then the budget lines (the demo's budget)
    assert lines[-1 - len(v.budget_lines)] == v.forecast_text and text.count("On track for") == 1
    assert "On track for" not in totals_text(dataclasses.replace(v, forecast=None))


def test_totals_section_says_how_last_month_closed_after_the_forecast_line():
    from datetime import date

    from _util.forecast import LastMonth
    from _util.slack_message import totals_text

    v = demo_view()
    assert "closed at" not in totals_text(v)
    r = LastMonth("2026-10", 20100.0, 0, date(2026, 10, 14), 19290.0, 18900.0, 19700.0, 0.8, "model")
    v = dataclasses.replace(v, forecast=dataclasses.replace(v.forecast, last_month=r))
    lines = totals_text(v).splitlines()
    assert lines[lines.index(v.forecast_text) + 1] == v.last_month_text.replace("&", "&amp;")
