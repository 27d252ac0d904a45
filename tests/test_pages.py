"""The site's pages as pure views of the DayView: escaping, prev/next, index rows, no chart ids in text, and the
golden demo day page and index, reviewed as a reader would.

The goldens (tests/golden/site_day.html, tests/golden/site_index.html) are compared exactly; after an intended
change regenerate them with `UPDATE_GOLDEN=1 pytest tests/test_pages.py` and review the diff."""

from __future__ import annotations

import os
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from _util import fmt, pages, site, view
from _util.config import Settings
from _util.model import Spike, Trend
from tests.demo_day import demo_view
from tests.slack_fixtures import analysis, golden_analysis

GOLDEN = Path(__file__).parent / "golden"
HOSTILE = ["<script>alert(1)</script>", "Tom & Jerry", "\"quoted\" & 'single'"]
MONEY = re.compile(r"\$[\d,]+\.\d\d")


class Page(HTMLParser):
    """A page as a reader sees it: the visible text of its body, the links and the ids."""

    def __init__(self, text: str):
        super().__init__()
        self.parts: list[str] = []
        self.attrs: list[tuple[str, dict]] = []
        self._skip = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.attrs.append((tag, dict(attrs)))
        self._skip = tag in ("style", "title")

    def handle_endtag(self, tag):
        self._skip = False

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())

    def all(self, tag: str, name: str) -> list[str]:
        return [a[name] for t, a in self.attrs if t == tag and name in a]


def dv_of(a) -> view.DayView:
    return view.build_view(a, view.Rules.from_settings(Settings()))


def render(dv: view.DayView, images=None, prev=None, next=None) -> str:  # noqa: A002
    images = {c.id: c.filename for c in dv.charts} if images is None else images
    return pages.day_page(dv, images, index_href="../index.html", prev=prev, next=next)


def hostile_view() -> view.DayView:
    return dv_of(analysis([Spike(n, "up", 100.0, 10.0, 2.0, 45.0, 90.0, 59) for n in HOSTILE],
                          [Trend(HOSTILE[0], "up", 1.0, 0.5, 10.0, 9.0, 8.0)]))


# ---- the day page -----------------------------------------------------------------------------------------------


def test_hostile_service_names_are_escaped_and_read_unchanged():
    dv = hostile_view()
    html = render(dv)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Tom &amp; Jerry" in html and "Tom & Jerry" not in html
    page = Page(html)
    for name in HOSTILE:  # every name survives as text, and as the alt text of its chart
        assert name in page.text
        assert f"Spike: {name}" in page.all("img", "alt")
    # the names never break out of an attribute: every chart still has its own figure and link
    assert len(page.all("figure", "id")) == len(dv.charts)


def test_prev_and_next_links_name_the_days():
    dv = dv_of(golden_analysis())
    page = Page(render(dv, prev=("2026-11-24", "../2026-11-24/index.html"),
                       next=("2026-11-27", "../2026-11-27/index.html")))
    assert page.text.startswith("← Tue, November 24 all dates Fri, November 27 →")
    assert page.all("a", "href")[:3] == ["../2026-11-24/index.html", "../index.html", "../2026-11-27/index.html"]
    alone = Page(render(dv))
    assert alone.text.startswith("all dates " + dv.title)
    assert alone.all("a", "rel") == []


def test_entries_link_their_charts_and_missing_ones_say_so():
    dv = dv_of(golden_analysis())
    lost = dv.groups[0].entries[0].chart_ids[0]
    images = {c.id: c.filename for c in dv.charts if c.id != lost}
    page = Page(render(view.with_links(dv, {}, None, [lost]), images))
    figures = set(page.all("figure", "id"))
    anchors = [h for h in page.all("a", "href") if h.startswith("#")]
    assert anchors and all(h[1:] in figures for h in anchors)
    assert pages.anchor(lost) not in figures
    caption = dv.chart(lost).caption
    assert f"{caption} (not available)" in page.text
    assert f"Charts not available: {caption}" in page.text


def test_no_chart_id_in_visible_text_even_when_every_chart_is_missing():
    dv = dv_of(golden_analysis())
    ids = [c.id for c in dv.charts]
    for dayview, images in ((dv, None), (view.with_links(dv, {}, None, ids), {})):
        text = Page(render(dayview, images)).text
        assert not [cid for cid in ids if cid in text]
        assert all(c.caption in text for c in dv.charts)


def test_states_the_views_words_in_reading_order():
    dv = dv_of(golden_analysis())
    text = Page(render(dv)).text
    words = [dv.title, dv.freshness, dv.headline_text, dv.counts, "Totals",
             *(c.change for c in dv.day_comparisons), *(g.title for g in dv.groups),
             *(e.text for e in dv.entries), "Month to date by service", *dv.rules]
    positions = [text.find(w) for w in words]
    assert -1 not in positions, [w for w, p in zip(words, positions, strict=True) if p < 0]
    assert positions[:5] == sorted(positions[:5])
    for e in dv.entries:
        assert e.detail in text
    for sc in dv.mtd_by_service:
        assert f"{sc.service} {fmt.money(sc.cost)} {fmt.share(sc.cost / dv.mtd_total)}" in text


def test_estimated_days_are_a_note_in_the_views_words():
    a = golden_analysis()
    a.estimated_dates = [date(2026, 11, 3), date(2026, 11, 5), date(2026, 11, 6)]
    html = render(dv_of(a))
    assert '<p class="note">Estimated costs (the bill is not final yet): November 3, November 5–6</p>' in html


# ---- the index --------------------------------------------------------------------------------------------------


def test_index_rows_latest_first_with_total_change_and_alerts():
    rows = [pages.DayRow.of(date(2026, 11, 24), "2026-11-24/index.html", 100.0, 125.0, 0),
            pages.DayRow.of(date(2026, 11, 25), "2026-11-25/index.html", 1234.5, 1000.0, 3),
            pages.DayRow(date(2026, 11, 20), "2026-11-20/<x>.html")]
    page = Page(pages.index_page(rows))
    assert page.all("a", "href") == ["2026-11-25/index.html", "2026-11-24/index.html", "2026-11-20/<x>.html"]
    assert ("Wednesday, November 25, 2026 $1,234.50 +$234.50 (+23.5%) 3 "
            "Tuesday, November 24, 2026 $100.00 -$25.00 (-20.0%) 0 "
            "Friday, November 20, 2026 – – –") in page.text


def test_index_row_without_a_base_day_has_no_percentage():
    row = pages.DayRow.of(date(2026, 11, 25), "x", 10.0, 0.0, 1)
    assert (row.change, row.change_pct) == (10.0, None)
    assert "+$10.00 1" in Page(pages.index_page([row])).text


# ---- goldens ----------------------------------------------------------------------------------------------------


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"set UPDATE_GOLDEN=1 to accept an intended change of {name}"


@pytest.fixture(scope="module")
def demo_page() -> str:
    return render(demo_view(), prev=("2026-11-24", "../2026-11-24/index.html"),
                  next=("2026-11-26", "../2026-11-26/index.html"))


def test_golden_demo_day_page(demo_page):
    check_golden("site_day.html", demo_page)


def test_demo_day_page_read_as_a_reader(demo_page):
    dv = demo_view()
    text = Page(demo_page).text
    # the headline first, in plain words, before any table
    headline = text.index(dv.headline_text)
    assert headline < text.index("Totals") < text.index(dv.groups[0].title)
    assert not re.search(r"MACD|z =|σ|sigma", dv.headline_text)
    # spikes before trends and savings
    titles = [g.title for g in dv.groups]
    assert titles[0] == "Spikes" and "Savings" in titles
    order = [text.index(f"{t} (") for t in titles]
    assert order == sorted(order)
    # one money precision: every dollar figure to the cent
    figures = re.findall(r"\$[\d,.]*\d", text)
    assert figures and all(MONEY.fullmatch(f) for f in figures), [f for f in figures if not MONEY.fullmatch(f)]
    # no chart id anywhere in the text
    assert not [c.id for c in dv.charts if c.id in text]


def test_demo_day_page_names_owners_and_has_a_section_per_team(demo_page):
    dv = demo_view()
    text = Page(demo_page).text
    for e in dv.entries:  # each entry's row names its team (or "unowned"), as the Slack line does
        assert re.search(rf"{re.escape(e.service)}\s+{re.escape(dv.owner_text(e))}\s+{re.escape(e.text[:20])}",
                         text), e.service
    sections = dv.team_sections
    assert [s.title for s in sections] == ["Team payments", "Team web", view.NOT_OWNED]
    starts = [text.index(s.title, text.index("Teams")) for s in sections] + [text.index("Charts", text.index("Teams"))]
    assert starts == sorted(starts)
    for s, start, end in zip(sections, starts, starts[1:], strict=False):
        part = text[start:end]
        assert s.month_text in part and s.month_text.startswith(f"Month to date {fmt.money(s.month.mtd)}")
        assert all(e.service in part for e in s.entries)
        assert (s.budget is not None) == ("Budget:" in part)
    # every dollar of the month has one owner
    assert sum(s.month.mtd for s in sections) == pytest.approx(dv.mtd_total)


def test_golden_index_from_three_manifest_rows():
    days = {"2026-11-23": {"total": 1190.5, "previous_day": 1201.0, "alerts": 1},
            "2026-11-24": {"total": 1210.27, "previous_day": 1190.5, "alerts": 0},
            "2026-11-25": {"total": 1184.48, "previous_day": 1210.27, "alerts": 5}}
    html = pages.index_page(site.index_rows(list(days), days, lambda d: f"{d}/index.html"))
    check_golden("site_index.html", html)
    assert "Wednesday, November 25, 2026 $1,184.48 -$25.79 (-2.1%) 5" in Page(html).text


def test_month_start_page_says_how_last_month_closed_after_the_totals():
    from dataclasses import replace as dc_replace

    from _util.forecast import LastMonth

    dv = demo_view()
    assert "closed at" not in render(dv)
    r = LastMonth("2026-10", 20100.0, 2, date(2026, 10, 14), 19290.0, 18900.0, 19700.0, 0.8, "model")
    dv = dc_replace(dv, forecast=dc_replace(dv.forecast, last_month=r))
    html = render(dv)
    assert f'<p class="last-month">{dv.last_month_text}</p>' in html
    assert html.index("<h2>Totals</h2>") < html.index("October closed at $20,100.00")
