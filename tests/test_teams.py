"""Teams file: parsing, each bad input named, first-match-wins ownership, overlaps warned once, unowned costs."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pytest

from _util.config import ConfigError
from _util.teams import UNOWNED, Team, load_teams, parse_teams

RDS = "Amazon Relational Database Service"
EC2 = "Amazon Elastic Compute Cloud - Compute"
S3 = "Amazon Simple Storage Service"

GOOD = f"""
[[team]]
name = "payments"
channel = "C0PAYMENTS"
mention = "S0PAYGROUP"
monthly_budget_usd = 12000
services = ["{RDS}"]
accounts = ["111122223333"]
tags = ["team$payments"]

[[team]]
name = "platform"
channel = "G0PLATFORM"
services = ["{EC2}"]
"""


@dataclass(frozen=True)
class Item:
    service: str
    breakdown: str = ""


def team_block(**keys) -> str:
    """One [[team]] table: a valid team, with keys replaced (None drops a key) or added."""
    base = {"name": '"data"', "channel": '"C0DATA"', "services": f'["{S3}"]'}
    base.update(keys)
    return "[[team]]\n" + "".join(f"{k} = {v}\n" for k, v in base.items() if v is not None)


def test_a_good_file_gives_its_teams_in_file_order(tmp_path):
    path = tmp_path / "teams.toml"
    path.write_text(GOOD, encoding="utf-8")
    teams = load_teams(path)
    assert [t.name for t in teams] == ["payments", "platform"]
    assert teams.get("payments") == Team(name="payments", channel="C0PAYMENTS", mention="S0PAYGROUP",
                                         monthly_budget_usd=12000.0, services=(RDS,),
                                         accounts=("111122223333",), tags=("team$payments",))
    platform = teams.get("platform")
    assert (platform.mention, platform.monthly_budget_usd, platform.accounts) == ("", None, ())


@pytest.mark.parametrize("block, names", [
    (team_block(budget="100"), ["data", "budget", "unknown key", "monthly_budget_usd"]),
    (team_block(channle='"C0DATA"'), ["data", "channle", "did you mean channel"]),
    (team_block(channel='"#data-team"'), ["data", "channel", "'#data-team'", "not a Slack channel id"]),
    (team_block(channel='"D0DIRECT"'), ["data", "channel", "not a Slack channel id"]),
    (team_block(channel=None), ["data", "channel", "missing"]),
    (team_block(mention='"@alice"'), ["data", "mention", "not a Slack user"]),
    (team_block(mention='"C0DATA"'), ["data", "mention", "not a Slack user"]),
    (team_block(monthly_budget_usd="0"), ["data", "monthly_budget_usd", "> 0"]),
    (team_block(monthly_budget_usd="-5.5"), ["data", "monthly_budget_usd", "> 0"]),
    (team_block(monthly_budget_usd='"12000"'), ["data", "monthly_budget_usd", "a number"]),
    (team_block(monthly_budget_usd="nan"), ["data", "monthly_budget_usd", "finite"]),
    (team_block(services=None), ["data", "owns nothing"]),
    (team_block(services="[]", accounts="[]", tags="[]"), ["data", "owns nothing"]),
    (team_block(services=f'"{S3}"'), ["data", "services", "must be a list"]),
    (team_block(accounts="[111122223333]"), ["data", "accounts", "quote account ids"]),
    (team_block(accounts='["1111"]'), ["data", "accounts", "12-digit"]),
    (team_block(tags='["payments"]'), ["data", "tags", "team$payments"]),
    (team_block(name=None), ["team #1", "name", "missing"]),
    (team_block(name='"unowned"'), ["name", "reserved"]),
    (team_block() + team_block(channel='"C0OTHER"'), ["'data'", "name", "duplicate"]),
    ("[teams]\nname = 'x'\n", ["unknown key 'teams'", "did you mean team"]),
    ("", ["no team"]),
    ("[[team]\nname = 'x'\n", ["not valid TOML"]),
], ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None)
def test_each_bad_input_names_the_file_the_team_and_the_key(block, names):
    with pytest.raises(ConfigError) as err:
        parse_teams(block, "conf/teams.toml")
    message = str(err.value)
    assert message.startswith("conf/teams.toml: ")
    for name in names:
        assert name in message


def test_a_missing_file_is_a_config_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml"):
        load_teams(tmp_path / "nope.toml")


@pytest.mark.parametrize("item, group_by, owner", [
    (Item(RDS), "", "payments"),
    (Item(EC2), "", "platform"),
    (Item(S3), "", None),
    (Item(S3, "111122223333"), "LINKED_ACCOUNT", "payments"),
    (Item(S3, "111122223333"), "TAG:team", None),  # an account id matches only a LINKED_ACCOUNT breakdown
    (Item(S3, "team$payments"), "TAG:team", "payments"),
    (Item(S3, "team$payments"), "LINKED_ACCOUNT", None),
    (Item(S3, "team$search"), "TAG:team", None),
    (Item("Amazon Relational Database"), "", None),  # services match exactly
])
def test_owner_matches_services_accounts_and_tags(item, group_by, owner):
    teams = parse_teams(GOOD)
    found = teams.owner(item.service, item.breakdown, group_by)
    assert (found.name if found else None) == owner


def test_the_first_team_in_the_file_wins_and_the_overlap_is_warned_about_once():
    # platform owns EC2 by service; payments owns the account: an EC2 row of that account matches both.
    text = GOOD.replace('name = "platform"', 'name = "platform"\naccounts = ["999988887777"]')
    teams = parse_teams(text, "teams.toml")
    with pytest.warns(UserWarning) as caught:
        first = teams.owner(EC2, "111122223333", "LINKED_ACCOUNT")
        again = teams.owner(EC2, "111122223333", "LINKED_ACCOUNT")
    assert first.name == again.name == "payments"
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "'payments'" in message and "'platform'" in message and "'payments' gets it" in message

    reordered = parse_teams(text.split("[[team]]")[0] + "[[team]]" + text.split("[[team]]")[2]
                            + "[[team]]" + text.split("[[team]]")[1])
    with pytest.warns(UserWarning, match="'platform' gets it"):
        assert reordered.owner(EC2, "111122223333", "LINKED_ACCOUNT").name == "platform"


def test_a_service_listed_by_two_teams_is_warned_about_when_read():
    text = GOOD + team_block(name='"dba"', channel='"C0DBA"', services=f'["{RDS}"]')
    with pytest.warns(UserWarning, match="'payments' and 'dba' both own Amazon Relational"):
        teams = parse_teams(text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # already reported: not again when an item is attributed
        assert teams.owner(RDS).name == "payments"


def test_attribute_puts_each_item_with_its_owner_and_the_rest_as_unowned():
    teams = parse_teams(GOOD)
    items = [Item(RDS), Item(S3, "team$payments"), Item(S3, "team$search"), Item(EC2), Item("Tax")]
    by_team = teams.attribute(items, group_by="TAG:team")
    assert list(by_team) == ["payments", "platform", UNOWNED]
    assert by_team == {"payments": [items[0], items[1]], "platform": [items[3]], UNOWNED: [items[2], items[4]]}


def test_attribute_keeps_a_key_for_a_team_that_owns_none_of_the_items():
    by_team = parse_teams(GOOD).attribute([Item("Tax")])
    assert by_team == {"payments": [], "platform": [], UNOWNED: [Item("Tax")]}



def test_without_a_toml_parser_python_3_10_is_told_what_to_install(tmp_path, monkeypatch):
    import _util.teams

    path = tmp_path / "teams.toml"
    path.write_text(GOOD, encoding="utf-8")
    monkeypatch.setattr(_util.teams, "tomllib", None)
    with pytest.raises(ConfigError, match=r"Python >= 3.11 .*pip install tomli"):
        load_teams(path)
