"""Teams: who owns which cost (TEAMS_FILE, TOML), and the rule that attributes an item to one team.

Ownership rule (README "Settings", TEAMS_FILE): the FIRST team in file order that matches an item owns it. A team
matches a (service, breakdown) when the service is one of its `services` (exact name), or COST_GROUP_BY=LINKED_ACCOUNT
and the breakdown is one of its `accounts`, or COST_GROUP_BY=TAG:<key> and the breakdown (as stored:
"team$payments") is one of its `tags`. Items no team matches are "unowned".
"""

from __future__ import annotations

import difflib
import math
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import ConfigError

try:
    import tomllib  # Python >= 3.11
except ModuleNotFoundError:  # Python 3.10: tomli is the same parser, when installed
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

UNOWNED = "unowned"
TEAM_KEYS = ("name", "channel", "mention", "monthly_budget_usd", "services", "accounts", "tags")
# Slack ids: channels C… (public) or G… (private, older workspaces); mentions a user U…/W… or a user group S….
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")
_MENTION_ID = re.compile(r"[USW][A-Z0-9]{2,}")
_ACCOUNT_ID = re.compile(r"\d{12}")


@dataclass(frozen=True)
class Team:
    """One team of the teams file: where its messages go and what it owns."""

    name: str
    channel: str  # Slack channel id
    mention: str = ""  # Slack user (U…/W…) or user-group (S…) id; "" = none
    monthly_budget_usd: float | None = None  # USD per calendar month; None = no budget
    services: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()  # 12-digit linked account ids (breakdown with COST_GROUP_BY=LINKED_ACCOUNT)
    tags: tuple[str, ...] = ()  # breakdown values of COST_GROUP_BY=TAG:<key>, as stored: "team$payments"

    def matches(self, service: str, breakdown: str = "", group_by: str = "") -> bool:
        """True when this team owns the (service, breakdown) row grouped by group_by (COST_GROUP_BY)."""
        if service in self.services:
            return True
        if not breakdown:
            return False
        if group_by == "LINKED_ACCOUNT":
            return breakdown in self.accounts
        if group_by.startswith("TAG:"):
            return breakdown in self.tags
        return False


@dataclass
class Teams:
    """The teams of one file, in file order (the order decides ownership)."""

    teams: tuple[Team, ...]
    path: Path | None = None
    # Overlapping pairs already reported, (winner, loser): each pair is warned about once.
    _reported: set[tuple[str, str]] = field(default_factory=set, repr=False, compare=False)

    def __iter__(self):
        return iter(self.teams)

    def __len__(self) -> int:
        return len(self.teams)

    def get(self, name: str) -> Team | None:
        """The team called name, or None."""
        return next((t for t in self.teams if t.name == name), None)

    def owner(self, service: str, breakdown: str = "", group_by: str = "") -> Team | None:
        """The team owning (service, breakdown): the first in file order that matches; None = unowned."""
        found = [t for t in self.teams if t.matches(service, breakdown, group_by)]
        if len(found) > 1:
            what = f"{service} / {breakdown}" if breakdown else service
            for other in found[1:]:
                self._overlap(found[0].name, other.name, what)
        return found[0] if found else None

    def attribute(self, items: Iterable[Any], group_by: str = "") -> dict[str, list[Any]]:
        """Items (anything with .service and optionally .breakdown) per owning team name, in file order, then
        "unowned"; every team has its key, possibly with an empty list."""
        out: dict[str, list[Any]] = {t.name: [] for t in self.teams}
        out[UNOWNED] = []
        for item in items:
            team = self.owner(item.service, getattr(item, "breakdown", "") or "", group_by)
            out[team.name if team else UNOWNED].append(item)
        return out

    def _overlap(self, winner: str, loser: str, what: str) -> None:
        key = (winner, loser)
        if key in self._reported:
            return
        self._reported.add(key)
        where = f"{self.path}: " if self.path else ""
        warnings.warn(f"{where}teams {winner!r} and {loser!r} both own {what}: {winner!r} gets it "
                      "(the first team in the file wins)", stacklevel=3)


def load_teams(path: Path) -> Teams:
    """Read and check a teams file; a bad one is a ConfigError naming the file, the team and the key."""
    if tomllib is None:
        raise ConfigError(f"TEAMS_FILE {path}: reading TOML needs Python >= 3.11 (tomllib) or, on Python 3.10, "
                          "the tomli package: pip install tomli")
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"TEAMS_FILE {path}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"TEAMS_FILE {path}: is not UTF-8 text") from None
    return parse_teams(text, path)


def parse_teams(text: str, path: Path | str = "<teams>") -> Teams:
    """The teams of a TOML text (path only names it in errors); see load_teams."""
    path = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: is not valid TOML ({exc})") from None
    for key in data:
        if key != "team":
            raise ConfigError(f"{path}: unknown key {key!r}{_hint(key, ('team',))} (each team is a [[team]] table)")
    raw_teams = data.get("team")
    if not raw_teams:
        raise ConfigError(f"{path}: no team: write one [[team]] table per team")
    if not isinstance(raw_teams, list) or not all(isinstance(t, dict) for t in raw_teams):
        raise ConfigError(f"{path}: team must be [[team]] tables (an array of tables), one per team")
    teams: list[Team] = []
    seen: dict[str, str] = {}
    for number, raw in enumerate(raw_teams, start=1):
        team = _team(raw, path, number)
        if team.name.casefold() in seen:
            raise ConfigError(f"{path}: team {team.name!r}: name: duplicate team (team {seen[team.name.casefold()]!r}"
                              " is already defined)")
        seen[team.name.casefold()] = team.name
        teams.append(team)
    out = Teams(tuple(teams), path)
    _report_listed_overlaps(out)
    return out


def _team(raw: Mapping[str, Any], path: Path, number: int) -> Team:
    name = raw.get("name")
    where = f"{path}: team {name!r}" if isinstance(name, str) and name.strip() else f"{path}: team #{number}"

    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"{where}: {key}: {why}")

    for key in raw:
        if key not in TEAM_KEYS:
            raise bad(key, f"unknown key{_hint(key, TEAM_KEYS)} (keys: {', '.join(TEAM_KEYS)})")
    if not isinstance(name, str) or not name.strip():
        raise bad("name", "missing (every team needs a name)")
    if name.strip() != name:
        raise bad("name", "has leading or trailing spaces")
    if name.casefold() == UNOWNED:
        raise bad("name", f"{UNOWNED!r} is reserved for the costs no team owns")

    channel = raw.get("channel")
    if not isinstance(channel, str) or not channel:
        raise bad("channel", "missing (a Slack channel id such as C0123ABCD)")
    if not _CHANNEL_ID.fullmatch(channel):
        hint = (" — a channel name stops working when the channel is renamed; use its id (C…, at the bottom of "
                "the channel's About tab)" if channel.startswith("#") else "")
        raise bad("channel", f"{channel!r} is not a Slack channel id (C… or G…){hint}")

    mention = raw.get("mention", "")
    if not isinstance(mention, str) or (mention and not _MENTION_ID.fullmatch(mention)):
        hint = " — use the member or user-group id, not the @name" if str(mention).startswith("@") else ""
        raise bad("mention", f"{mention!r} is not a Slack user (U…, W…) or user-group (S…) id{hint}")

    budget = raw.get("monthly_budget_usd")
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, (int, float)):
            raise bad("monthly_budget_usd", f"must be a number of USD, got {budget!r}")
        if not math.isfinite(budget) or budget <= 0:
            raise bad("monthly_budget_usd", f"must be a finite number > 0, got {budget!r}")
        budget = float(budget)

    owned = {key: _names(raw, key, bad) for key in ("services", "accounts", "tags")}
    for account in owned["accounts"]:
        if not _ACCOUNT_ID.fullmatch(account):
            raise bad("accounts", f"{account!r} is not a 12-digit AWS account id")
    for tag in owned["tags"]:
        if "$" not in tag:
            raise bad("tags", f"{tag!r} is not a stored tag value: write <key>$<value>, e.g. \"team$payments\"")
    if not any(owned.values()):
        raise bad("services/accounts/tags", "the team owns nothing: list at least one service, account or tag")
    return Team(name=name, channel=channel, mention=mention, monthly_budget_usd=budget, **owned)


def _names(raw: Mapping[str, Any], key: str, bad) -> tuple[str, ...]:
    value = raw.get(key, [])
    if isinstance(value, str):
        raise bad(key, f"must be a list: {key} = [{value!r}]")
    if not isinstance(value, list):
        raise bad(key, f"must be a list of strings, got {value!r}")
    for v in value:
        if not isinstance(v, str) or not v.strip():
            quoted = " (quote account ids: a number loses leading zeros)" if key == "accounts" else ""
            raise bad(key, f"{v!r} is not a non-empty string{quoted}")
    return tuple(value)


def _hint(raw: str, choices: Iterable[str]) -> str:
    near = difflib.get_close_matches(raw, list(choices), n=1, cutoff=0.5)
    return f" — did you mean {near[0]}?" if near else ""


def _report_listed_overlaps(teams: Teams) -> None:
    """Warn (once each) about a service, account or tag listed by two teams: the first one wins."""
    for kind in ("services", "accounts", "tags"):
        first: dict[str, str] = {}
        for team in teams:
            for value in getattr(team, kind):
                if value in first and first[value] != team.name:
                    teams._overlap(first[value], team.name, value)
                first.setdefault(value, team.name)
