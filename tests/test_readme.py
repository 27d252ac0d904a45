"""The README says what the code does: every setting is documented, the grants cover what a schema upgrade uses,
and the deploy steps and the failure statement of issue 10 (items 18, 19) stay true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from _util.config import ENV
from _util.preflight import SCHEMA_PRIVILEGES

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


@pytest.mark.parametrize("name", sorted(ENV))
def test_every_setting_has_a_row_in_the_settings_table(name):
    assert re.search(rf"^\|[^|\n]*`{name}`", section("Settings"), re.MULTILINE), f"{name} is not in README Settings"


def test_every_grant_statement_covers_what_a_schema_upgrade_uses():
    grants = re.findall(r"GRANT ([A-Z, ]+) ON", README)
    assert grants, "no GRANT statement in the README"
    for grant in grants:
        have = {p.strip() for p in grant.split(",")}
        assert set(SCHEMA_PRIVILEGES) | {"SELECT", "INSERT", "UPDATE", "DELETE"} <= have, grant


def test_a_failed_run_is_described_as_it_behaves():
    deploy = section("Running it unattended")
    assert "leaves the database as it was" not in README  # untrue: fetched days are kept (they are true figures)
    assert "are kept when a later stage fails" in deploy
    assert "its `run` row says `failed`" in deploy


@pytest.mark.parametrize("needle", [
    "sudo dnf install -y python3.11",              # a supported Python on Amazon Linux 2023
    "deadsnakes",                                  # … and on older Ubuntu
    "useradd --system",                            # the service user
    "chown costs:",                                # … owns the install directory
    "security group",                              # EC2 -> RDS
    "management (payer) account",                  # Organizations
    "AWS_DEFAULT_REGION",
    "dnf install -y cronie",                       # no cron on Amazon Linux 2023
    "`CRON_TZ` is honoured by cronie",             # … and ignored elsewhere
    "python -m _util.migrate",                     # how to upgrade the schema by hand
    ".backup",                                     # the SQLite backup
    "HEARTBEAT_URL",                               # a run that never happens
])
def test_the_deploy_section_covers_the_first_contact_steps(needle):
    assert needle in section("Running it unattended"), needle
