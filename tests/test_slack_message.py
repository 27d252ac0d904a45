"""The Block Kit builder: golden message, Slack's limits, threading, escaping, fallback text, preview page."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from _util import model
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
    trend_text,
    validate_payload,
)
from tests.conftest import chromium_dom
from tests.slack_fixtures import BASE, D, all_urls, analysis, context, golden_analysis, many_alerts

GOLDEN = Path(__file__).parent / "golden" / "slack_message.json"
PAGE = f"{BASE}/{D.isoformat()}/"
HOSTILE = "<!channel> & <script>alert(1)</script>"


def texts(payload: dict) -> list[str]:
    """Every piece of text in a payload's blocks."""
    out = []
    for b in payload["blocks"]:
        for key in ("text",):
            if isinstance(b.get(key), dict):
                out.append(b[key]["text"])
        out += [e["text"] for e in b.get("elements", []) if isinstance(e.get("text"), str)]
        out += [e["text"]["text"] for e in b.get("elements", []) if isinstance(e.get("text"), dict)]
        if b.get("accessory"):
            out.append(b["accessory"]["text"]["text"])
    return out


def buttons(payload: dict) -> list[dict]:
    out = [b["accessory"] for b in payload["blocks"] if b.get("accessory", {}).get("type") == "button"]
    for b in payload["blocks"]:
        out += [e for e in b.get("elements", []) if e.get("type") == "button"]
    return out


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
    for button in buttons(payload):
        assert len(button["text"]["text"]) <= 75
        assert len(button["url"]) <= 3000


def service_lines(payloads: list[dict]) -> list[str]:
    """Texts of the service lines (sections that start with a name in bold, possibly after an arrow)."""
    return [b["text"]["text"] for p in payloads for b in p["blocks"]
            if b["type"] == "section" and re.match(r"^(↑ |↓ )?\*[^*]+\* — ", b["text"]["text"])]


def test_golden_message():
    a = golden_analysis()
    payloads = build_messages(a, all_urls(a), page_url=PAGE, context=context())
    if os.environ.get("REGEN_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(payloads, indent=1, ensure_ascii=False) + "\n")
    assert payloads == json.loads(GOLDEN.read_text()), "set REGEN_GOLDEN=1 to accept an intended change"


def test_golden_content():
    """What the golden fixture shows, independent of wording details."""
    a = golden_analysis()
    (top,) = build_messages(a, all_urls(a), page_url=PAGE, context=context())
    assert_within_limits(top)
    assert top["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                                           "text": "AWS costs — 2026-11-25 · $1,234.56"}}
    summary = top["blocks"][1]["text"]["text"]
    for figure in ("$1,234.56", "$1,222.22", "+1.0%", "$1,275.00", "-3.2%", "$28,000.00", "+5.1%"):
        assert figure in summary
    urls = [b["url"] for b in top["blocks"][2]["elements"]]
    assert urls == [all_urls(a)[model.MTD_CHART], all_urls(a)[model.DAILY_CHART]]
    headings = [t for t in texts(top) if t.startswith("*") and " · " in t and "\n" not in t]
    assert [h.split("*")[1] for h in headings] == ["Upward trending", "Downward trending", "Spikes"]
    lines = service_lines([top])
    # Trends most expensive first; spikes by dollars away from normal (+80, -40, +7.5, +0.003), up or down.
    names = [re.search(r"\*([^*]+)\*", t).group(1) for t in lines]
    assert names == ["Amazon DynamoDB", "Amazon CloudFront", "Amazon SQS", "Amazon EC2", "Amazon RDS", "AWS Lambda",
                     "Amazon S3 &amp; &lt;Glacier&gt;"]
    ec2 = next(t for t in lines if "Amazon EC2" in t)
    assert all(x in ec2 for x in ("$123.45", "+$80.00", "+184.1%", "$43.45", "z = +6.7"))
    assert "— $0.00 on" in next(t for t in lines if "Glacier" in t)  # $0.004: always to the cent
    line_buttons = [b["accessory"]["url"] for b in top["blocks"] if b.get("accessory")]
    assert line_buttons[0] == all_urls(a)[model.trend_chart_id("Amazon DynamoDB")]
    assert len(line_buttons) == 7
    context_text = " ".join(e["text"] for e in top["blocks"][-1]["elements"])
    assert top["blocks"][-1]["type"] == "context"
    for fact in ("3.5", "$5.00", "UnblendedCost", "Credit, Refund", "Estimated costs (the bill is not final yet): November 24–25", PAGE):
        assert fact in context_text
    assert "4 spikes" in top["text"] and "3 trend reversals" in top["text"] and "Amazon EC2" in top["text"]


def test_quiet_day_is_one_line_plus_summary():
    (top,) = build_messages(analysis(), all_urls(analysis()), page_url=PAGE, context=context())
    assert_within_limits(top)
    all_text = "\n".join(texts(top))
    assert "Nothing unusual" in all_text
    assert "*Total on 2026-11-25:*" in all_text
    assert not any(w in all_text for w in ("Upward trending", "Downward trending", "Spikes ·"))
    assert "Nothing unusual" in top["text"] and "$1,234.56" in top["text"]


def test_empty_sections_are_left_out():
    a = analysis(spikes=[Spike("Amazon EC2", "down", 1.0, 50.0, 5.0, -9.8, -49.0, 40)])
    (top,) = build_messages(a, all_urls(a), page_url=None, context=context())
    all_text = "\n".join(texts(top))
    assert "*Spikes* · 0 up, 1 down" in all_text
    assert "trending" not in all_text
    assert "Site page" not in all_text  # no page URL, no link


@pytest.mark.parametrize("n", [200])
def test_many_alerts_split_into_thread_within_limits(n):
    a = many_alerts(n)
    payloads = build_messages(a, all_urls(a), page_url=PAGE, context=context())
    assert 1 < len(payloads) <= MAX_MESSAGES
    for p in payloads:
        assert_within_limits(p)
    lines = service_lines(payloads)
    assert len(lines) == n  # every alert is shown, none dropped
    names = [re.search(r"\*([^*]+)\*", t).group(1) for t in lines]
    assert len(set(names)) == n
    # The top message carries the header and summary, the replies continue the sections.
    assert payloads[0]["blocks"][0]["type"] == "header"
    assert all(p["blocks"][0]["type"] != "header" for p in payloads[1:])
    assert all(p["blocks"][0]["text"]["text"].startswith("*") for p in payloads[1:])
    assert "Continued in the thread" in json.dumps(payloads[0]["blocks"][-1])
    assert all("continued" in p["text"] for p in payloads[1:])
    # Order is kept across the split: spikes most expensive first.
    spike_costs = [float(re.search(r"— \$([\d,.]+) on", t).group(1).replace(",", ""))
                   for t in lines if "spike" in t]
    ups = spike_costs[: sum(s.direction == "up" for s in a.spikes)]
    assert ups == sorted(ups, reverse=True)


def test_too_many_for_a_thread_is_cut_with_a_count():
    a = many_alerts(200)
    long_base = "https://bucket.s3.amazonaws.com/costs?" + "X-Amz-Security-Token=" + "A" * 1500
    payloads = build_messages(a, all_urls(a, long_base), page_url=PAGE, context=context())
    assert len(payloads) == MAX_MESSAGES
    for p in payloads:
        assert_within_limits(p)
    shown = len(service_lines(payloads))
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
    (top,) = build_messages(a, urls, page_url=PAGE, context=context(missing_charts=["trend:Amazon SQS"]))
    assert_within_limits(top)
    by_name = {re.search(r"\*([^*]+)\*", b["text"]["text"]).group(1): b for b in top["blocks"]
               if b["type"] == "section" and " — $" in b["text"]["text"]}
    assert "accessory" not in by_name["Amazon EC2"]
    assert "accessory" not in by_name["Amazon SQS"]
    assert "accessory" in by_name["Amazon RDS"]
    assert [b["text"]["text"] for b in top["blocks"][2]["elements"]] == ["Plot month to date"]
    ctx = " ".join(e["text"] for e in top["blocks"][-1]["elements"])
    assert "3 charts not published" in ctx
    for caption in ("Spike: Amazon EC2", "Trend: Amazon SQS", "Daily spend by service this month"):
        assert caption in ctx
    for chart_id in ("spike:", "trend:", "daily_by_service"):  # ids are keys, never text
        assert chart_id not in json.dumps(top)


def test_charts_on_a_local_site_are_not_called_unpublished():
    """A folder destination gives file:// links Slack cannot open: no buttons, and the context says how to link
    them instead of claiming the charts failed to publish."""
    a = golden_analysis()
    urls = {k: f"file:///srv/site/{D.isoformat()}/{i}.png" for i, k in enumerate(all_urls(a))}
    (top,) = build_messages(a, urls, page_url=f"file:///srv/site/{D.isoformat()}/index.html", context=context())
    assert_within_limits(top)
    assert not [b for b in top["blocks"] if b["type"] == "actions" or "accessory" in b]
    ctx = " ".join(e["text"] for e in top["blocks"][-1]["elements"])
    assert f"{len(urls)} charts on the local site only" in ctx and "PLOT_BASE_URL" in ctx
    assert "not published" not in ctx and "file://" not in json.dumps(top)


def test_preview_links_the_site_outside_the_message():
    (top,) = build_messages(golden_analysis(), {}, page_url=None, context=context())
    page = render_preview_html([top], "t", "file:///srv/site/2026-11-25/index.html")
    assert '<a href="file:///srv/site/2026-11-25/index.html">' in page
    assert page.index("Charts of this report") < page.index('class="message"')


@pytest.mark.parametrize(("ago", "when"), [(0, "today"), (1, "yesterday"), (4, "4 days ago")])
def test_trend_line_says_when_the_macd_crossed(ago, when):
    """When it crossed, then today's MACD and signal (not "signal +0.50 4 days ago", which reads as old figures)."""
    t = Trend("Svc", "up", 1.0, 0.5, 50.0, 40.0, 30.0, crossed_days_ago=ago)
    assert trend_text(t, D).endswith(f"MACD crossed above its signal {when} (now +1.00 vs +0.50)")


def test_hostile_service_name_is_escaped():
    a = analysis(spikes=[Spike(HOSTILE, "up", 100.0, 10.0, 5.0, 18.0, 90.0, 60)],
                 trends=[Trend(HOSTILE + " 2", "up", 1.0, 0.5, 50.0, 40.0, 30.0)])
    payloads = build_messages(a, all_urls(a), page_url=PAGE, context=context(missing_charts=[f"spike:{HOSTILE}"]))
    dumped = json.dumps(payloads, ensure_ascii=False)
    assert "<!channel>" not in dumped and "<script>" not in dumped
    assert "&lt;!channel&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in dumped
    assert "&lt;!channel&gt;" in payloads[0]["text"]
    # The only <…> constructs left are our own links.
    for t in texts(payloads[0]) + [payloads[0]["text"]]:
        for token in re.findall(r"<([^>]*)>", t):
            assert token.startswith("https://"), token


def test_fallback_text_says_the_essentials():
    a = golden_analysis()
    (top,) = build_messages(a, all_urls(a), page_url=PAGE, context=context())
    text = top["text"]
    for fact in ("2026-11-25", "$1,234.56", "4 spikes", "3 trend reversals", "Amazon EC2", "+$80.00"):
        assert fact in text


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
        validate_payload({"text": "t", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]})
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
    payloads = build_messages(a, urls, page_url=PAGE, context=context(), max_messages=max_messages)
    assert len(payloads) <= max_messages
    for p in payloads:
        assert_within_limits(p)
    shown = len([b for p in payloads for b in p["blocks"] if b["type"] == "section"
                 and re.search(r"\* — \$", b["text"]["text"])])
    cuts = [re.match(r"…and (\d+) more", b["text"]["text"]) for b in payloads[-1]["blocks"] if b["type"] == "section"]
    cut = sum(int(m.group(1)) for m in cuts if m)
    assert shown + cut == len(spikes) + len(trends)


# --- preview -------------------------------------------------------------------------------------

def test_mrkdwn_to_html():
    assert mrkdwn_to_html("*b* _i_ <https://x.example/?a=1&amp;b=2|the &lt;site&gt;>") == \
        '<b>b</b> <i>i</i> <a href="https://x.example/?a=1&amp;b=2">the &lt;site&gt;</a>'
    assert mrkdwn_to_html("&lt;script&gt; &amp; <!channel>") == "&lt;script&gt; &amp; channel"
    assert mrkdwn_to_html("<javascript:alert(1)|x>") == "&lt;javascript:alert(1)|x&gt;"
    assert mrkdwn_to_html("a\nb") == "a<br>b"


def test_preview_page_shows_messages_buttons_and_thread():
    a = many_alerts(120)
    a.spikes[0] = Spike(HOSTILE, "up", 999.0, 10.0, 5.0, 18.0, 989.0, 60)
    payloads = build_messages(a, all_urls(a), page_url=PAGE, context=context())
    page = render_preview_html(payloads, "Preview 2026-11-25")
    assert "<script>" not in page and "<!channel>" not in page
    assert "&lt;!channel&gt; &amp; &lt;script&gt;" in page
    assert page.count('class="message reply"') == len(payloads) - 1
    assert f'href="{all_urls(a)[model.MTD_CHART]}"' in page
    assert f'href="{PAGE}"' in page
    assert "<h2>AWS costs — 2026-11-25 · $1,234.56</h2>" in page


def test_preview_opens_in_chromium(chromium, tmp_path):
    a = golden_analysis()
    payloads = build_messages(a, all_urls(a), page_url=PAGE, context=context())
    path = tmp_path / "slack_preview.html"
    path.write_text(render_preview_html(payloads, "Slack preview"), encoding="utf-8")
    dom = chromium_dom(chromium, path.as_uri(), tmp_path)
    assert "AWS costs — 2026-11-25 · $1,234.56" in dom
    assert dom.count('class="button"') == 9  # 2 summary + 7 lines
    assert f'href="{all_urls(a)[model.spike_chart_id("Amazon EC2")]}"' in dom
    assert "Amazon S3 &amp; &lt;Glacier&gt;" in dom
