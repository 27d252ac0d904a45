"""Settings: defaults < .env < environment < flags; bad values named; secrets never shown."""

from __future__ import annotations

import argparse
import dataclasses
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from _util.cli import add_common_arguments
from _util.config import ConfigError, Settings, load_settings

DATA = Path(__file__).parent / "data" / "ce"
TOKEN = "xoxb-1234567890-abcdefghijkl"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Run in an empty folder, so no ./.env of the developer is read."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def flags(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_common_arguments(parser)
    return parser.parse_args(list(argv))


def env_file(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_defaults():
    s = load_settings(flags(), environ={})
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    assert s == Settings(report_date=yesterday)  # d is fixed when the settings load, not on each read
    assert (s.database_url, s.cost_source, s.cost_metric) == ("sqlite:///data/costs.sqlite", "ce", "UnblendedCost")
    assert s.exclude_record_types == ("Credit", "Refund") and s.group_by == "" and s.lookback_days == 365
    assert s.day == datetime.now(timezone.utc).date() - timedelta(days=1)


@pytest.fixture
def clock(monkeypatch):
    """config's clock, frozen at 23:59:59 UTC on 2026-11-26; set `clock.now_value` to move it."""
    import _util.config as config

    class Clock(datetime):
        now_value = datetime(2026, 11, 26, 23, 59, 59, tzinfo=timezone.utc)

        @classmethod
        def now(cls, tz=None):
            return cls.now_value

    monkeypatch.setattr(config, "datetime", Clock)
    return Clock


def test_the_report_date_does_not_change_when_the_clock_passes_midnight(clock):
    """A run started at 23:59:59 UTC keeps its d: it must not post one day's report and record the next."""
    s = load_settings(flags(), environ={})
    clock.now_value = datetime(2026, 11, 27, 0, 0, 1, tzinfo=timezone.utc)
    assert s.day == date(2026, 11, 25)


def test_settings_built_without_a_date_fix_d_when_built_not_when_read(clock):
    """Settings() made in code (tests, tools) also fix d once: `day` only returns it."""
    s = Settings()
    clock.now_value = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
    assert s.day == s.report_date == date(2026, 11, 25)


def _loaded_with_other_defaults(monkeypatch, module: str, **defaults):
    """A fresh copy of _util/<module>.py, imported while config.Settings has other defaults: what it takes from the
    settings follows them; a default written a second time there would not."""
    import importlib.util
    import sys

    import _util.config as config

    other = dataclasses.make_dataclass(
        "Settings", [(name, type(value), dataclasses.field(default=value)) for name, value in defaults.items()],
        bases=(Settings,), frozen=True)
    monkeypatch.setattr(config, "Settings", other)
    name = f"_util._probe_{module}"
    spec = importlib.util.spec_from_file_location(name, Path(config.__file__).with_name(f"{module}.py"))
    probe = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, probe)
    spec.loader.exec_module(probe)
    return probe


def test_the_alert_thresholds_have_one_definition_the_settings(monkeypatch):
    from _util.model import AlertParams

    shared = [f.name for f in dataclasses.fields(AlertParams)]
    # Each shared setting gets a value no default has (bools flipped).
    changed = {n: (not getattr(Settings, n)) if isinstance(getattr(Settings, n), bool) else getattr(Settings, n) + 7
               for n in shared}
    probe = _loaded_with_other_defaults(monkeypatch, "model", **changed)
    assert dataclasses.asdict(probe.AlertParams()) == changed
    assert dataclasses.asdict(AlertParams()) == {n: getattr(Settings(), n) for n in shared}


def test_the_cost_explorer_bounds_have_one_definition_the_settings(monkeypatch):
    probe = _loaded_with_other_defaults(monkeypatch, "costexplorer", ce_max_pages=11, ce_timeout_seconds=3.5,
                                        ce_max_attempts=2)
    assert (probe.CE_MAX_PAGES, probe.CE_TIMEOUT_SECONDS, probe.CE_MAX_ATTEMPTS) == (11, 3.5, 2)


def test_the_database_timeouts_have_one_definition_the_settings(monkeypatch):
    import inspect

    probe = _loaded_with_other_defaults(monkeypatch, "db", db_connect_timeout_seconds=3, db_timeout_seconds=9)
    params = inspect.signature(probe.make_engine).parameters
    assert (params["connect_timeout"].default, params["timeout"].default) == (3, 9)


def test_precedence_defaults_dotenv_environment_flags(in_tmp):
    path = env_file(in_tmp / "settings.env",
                    "COST_METRIC=AmortizedCost\nLOOKBACK_DAYS=100\nCOST_SOURCE=sample\n"
                    "DATABASE_URL=sqlite:///from-dotenv.sqlite\n")
    environ = {"LOOKBACK_DAYS": "200", "COST_SOURCE": "file", "DATABASE_URL": "sqlite:///from-env.sqlite"}
    s = load_settings(flags("--env-file", str(path), "--source", "ce", "--db-url", "sqlite:///from-flag.sqlite"),
                      environ=environ)
    assert s.macd_fast == 12  # default
    assert s.cost_metric == "AmortizedCost"  # .env over default
    assert s.lookback_days == 200  # environment over .env
    assert s.cost_source == "ce"  # flag over environment
    assert s.database_url == "sqlite:///from-flag.sqlite"


def test_dotenv_in_the_working_folder_is_read_by_default(in_tmp):
    env_file(in_tmp / ".env", "COST_GROUP_BY=linked_account\nCOST_EXCLUDE_RECORD_TYPES=\n")
    s = load_settings(flags(), environ={})
    assert s.group_by == "LINKED_ACCOUNT" and s.exclude_record_types == ()


def test_env_file_argument_is_used_when_no_flag(in_tmp):
    path = env_file(in_tmp / "other.env", "LOOKBACK_DAYS=90\n")
    assert load_settings(flags(), environ={}, env_file=path).lookback_days == 90


def test_missing_env_file_is_named(in_tmp):
    with pytest.raises(ConfigError, match="--env-file .*nope.env: no such file"):
        load_settings(flags("--env-file", str(in_tmp / "nope.env")), environ={})


def test_world_readable_env_file_warns(in_tmp):
    path = in_tmp / ".env"
    path.write_text("LOOKBACK_DAYS=90\n")
    path.chmod(0o644)
    with pytest.warns(UserWarning, match="readable by other users"):
        load_settings(flags(), environ={})


def test_a_misspelt_setting_in_env_file_warns_with_the_right_name(in_tmp, recwarn):
    env_file(in_tmp / ".env", "SPIKE_Z_THRESHHOLD=9\nAWS_PROFILE=costs\nMY_OWN_VAR=1\n")
    s = load_settings(flags(), environ={})
    assert s.spike_z_threshold == 2.75  # not applied: the warning says so
    messages = [str(w.message) for w in recwarn]
    assert messages == [".env: SPIKE_Z_THRESHHOLD is not a setting (did you mean SPIKE_Z_THRESHOLD?); "
                        "it is ignored"]


def test_a_channel_name_instead_of_an_id_warns(recwarn):
    load_settings(flags(), environ={"SLACK_CHANNEL_ID": "#general"})
    assert [str(w.message).split(":")[0] for w in recwarn] == ["SLACK_CHANNEL_ID=#general is a channel name"]
    load_settings(flags(), environ={"SLACK_CHANNEL_ID": "C0123ABCD"})
    assert len(recwarn) == 1


def test_flags_left_out_do_not_override():
    s = load_settings(flags(), environ={"COST_SOURCE": "sample", "OUTPUT_DIR": "/tmp/o"})
    assert s.cost_source == "sample" and s.output_dir == Path("/tmp/o") and not s.dry_run


@pytest.mark.parametrize(("raw", "expected"), [
    ("Credit,Refund", ("Credit", "Refund")),
    (" Credit , Refund ,, Tax ", ("Credit", "Refund", "Tax")),
    ("", ()),
])
def test_exclude_record_types(raw, expected):
    assert load_settings(flags(), environ={"COST_EXCLUDE_RECORD_TYPES": raw}).exclude_record_types == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("", ""), ("linked_account", "LINKED_ACCOUNT"), ("USAGE_TYPE", "USAGE_TYPE"),
    ("TAG:team", "TAG:team"), ("tag:Cost Center", "TAG:Cost Center"),
    ("COST_CATEGORY:Teams", "COST_CATEGORY:Teams"), ("cost_category:Business Unit", "COST_CATEGORY:Business Unit"),
    ("az", "AZ"), ("INSTANCE_TYPE", "INSTANCE_TYPE"), ("LEGAL_ENTITY_NAME", "LEGAL_ENTITY_NAME"),
    ("INVOICING_ENTITY", "INVOICING_ENTITY"), ("OPERATION", "OPERATION"), ("PLATFORM", "PLATFORM"),
    ("PURCHASE_TYPE", "PURCHASE_TYPE"), ("TENANCY", "TENANCY"), ("RECORD_TYPE", "RECORD_TYPE"),
])
def test_group_by(raw, expected):
    assert load_settings(flags(), environ={"COST_GROUP_BY": raw}).group_by == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("UnblendedCost", "UnblendedCost"), ("unblendedcost", "UnblendedCost"), (" AMORTIZEDCOST ", "AmortizedCost"),
    ("BlendedCost", "BlendedCost"), ("netamortizedcost", "NetAmortizedCost"), ("NetUnblendedCost", "NetUnblendedCost"),
])
def test_cost_metric_is_a_cost_explorer_cost_metric_stored_by_its_canonical_name(raw, expected):
    assert load_settings(flags(), environ={"COST_METRIC": raw}).cost_metric == expected


@pytest.mark.parametrize(("name", "raw", "message"), [
    ("COST_METRIC", "UnblendedCosts", "did you mean UnblendedCost?"),
    ("COST_METRIC", "Amortized", "did you mean AmortizedCost?"),
    ("COST_METRIC", "net_unblended_cost", "did you mean NetUnblendedCost?"),
    ("COST_METRIC", "UsageQuantity", "COST_METRIC UsageQuantity measures usage, not cost"),
    ("COST_METRIC", "NormalizedUsageAmount", "COST_METRIC NormalizedUsageAmount measures usage, not cost"),
    ("COST_METRIC", "", "COST_METRIC must be one of AmortizedCost, BlendedCost"),
    ("COST_GROUP_BY", "LINKED-ACCOUNT", "did you mean LINKED_ACCOUNT?"),
    ("COST_GROUP_BY", "LINKED_ACOUNT", "did you mean LINKED_ACCOUNT?"),
    ("COST_GROUP_BY", "USAGETYPE", "did you mean USAGE_TYPE?"),
    ("COST_GROUP_BY", "INSTANCE_TYPES", "did you mean INSTANCE_TYPE?"),
    ("COST_GROUP_BY", "TAGS:team", "did you mean TAG:team?"),
    ("COST_GROUP_BY", "COSTCATEGORY:Teams", "did you mean COST_CATEGORY:Teams?"),
    ("COST_GROUP_BY", "COST_CATEGORY:", "COST_GROUP_BY COST_CATEGORY: needs a cost category name"),
])
def test_a_typo_in_metric_or_grouping_is_a_usage_error_suggesting_the_closest_value(capsys, name, raw, message,
                                                                                   restore_logging):
    import procAmzData
    from tests.cli_helpers import error_lines, run_cli

    with pytest.raises(ConfigError, match=message.replace("?", r"\?").replace("(", r"\(")):
        load_settings(flags(), environ={name: raw})
    # the job: exit 2 with that one line, before anything is fetched or stored
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(name, raw)
        code, out, err = run_cli(capsys, procAmzData.main, "--source", "sample")
    assert (code, out) == (2, "")
    lines = error_lines(err)
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith(f"error: {name} "), err


@pytest.mark.parametrize(("name", "raw", "message"), [
    ("LOOKBACK_DAYS", "a year", "LOOKBACK_DAYS must be an integer, got 'a year'"),
    ("LOOKBACK_DAYS", "7", "LOOKBACK_DAYS must be between 30 and 3650, got 7"),
    ("COST_SOURCE", "bigquery", "COST_SOURCE must be one of ce, athena, export, sample, file, got 'bigquery'"),
    ("COST_GROUP_BY", "REGION", "COST_GROUP_BY cannot be REGION"),
    ("COST_GROUP_BY", "SERVICE", "COST_GROUP_BY cannot be SERVICE"),
    ("COST_GROUP_BY", "TAG:", "COST_GROUP_BY TAG: needs a tag key"),
    ("COST_GROUP_BY", "LINKED-ACCOUNT", "COST_GROUP_BY must be TAG:<key>, COST_CATEGORY:<name> or a Cost Explorer "
                                        "dimension"),
    ("CE_MAX_PAGES", "0", "CE_MAX_PAGES must be >= 1, got 0"),
    ("CE_MAX_PAGES", "many", "CE_MAX_PAGES must be an integer, got 'many'"),
    ("CE_TIMEOUT_SECONDS", "0", "CE_TIMEOUT_SECONDS must be a finite number >= 0.1"),
    ("CE_MAX_ATTEMPTS", "0", "CE_MAX_ATTEMPTS must be between 1 and 20, got 0"),
    ("DATABASE_URL", "not a url", "DATABASE_URL is not a valid SQLAlchemy URL"),
    ("DATABASE_URL", "postgresql://u@h/db", "DATABASE_URL must be a sqlite:// or mysql+pymysql:// URL"),
    ("SPIKE_Z_THRESHOLD", "high", "SPIKE_Z_THRESHOLD must be a number, got 'high'"),
    ("SPIKE_Z_THRESHOLD", "nan", "SPIKE_Z_THRESHOLD must be a finite number >= 0.0"),
    ("SPIKE_MIN_DELTA_USD", "-5", "SPIKE_MIN_DELTA_USD must be a finite number >= 0.0"),
    ("MIN_DAILY_COST_USD", "inf", "MIN_DAILY_COST_USD must be a finite number"),
    ("MIN_HISTORY_DAYS", "1", "MIN_HISTORY_DAYS must be >= 2, got 1"),
    ("MACD_FAST", "0", "MACD_FAST must be >= 1, got 0"),
    ("MACD_FAST", "30", "MACD_FAST (30) must be smaller than MACD_SLOW (26)"),
    ("TREND_FILTER", "maybe", "TREND_FILTER must be on or off, got 'maybe'"),
    ("MONTHLY_CHARGE_FILTER", "sometimes", "MONTHLY_CHARGE_FILTER must be on or off, got 'sometimes'"),
    ("PLOT_BASE_URL", "ftp://x", "PLOT_BASE_URL must start with http:// or https://"),
    ("PLOT_LINKS", "private", "PLOT_LINKS must be one of public, presigned"),
    ("PLOT_LINKS", "presigned", "PLOT_LINKS=presigned needs PLOTS_DESTINATION=s3://"),
    ("PLOTS_DESTINATION", "s3://", "PLOTS_DESTINATION s3:// needs a bucket name"),
    ("PLOT_URL_EXPIRY_SECONDS", "999999999", "PLOT_URL_EXPIRY_SECONDS must be between 60 and 604800"),
    ("SLACK_API_URL", "slack.com/api", "SLACK_API_URL must start with http:// or https://"),
    ("SLACK_BOT_TOKEN", TOKEN, "SLACK_CHANNEL_ID is required when SLACK_BOT_TOKEN is set"),
])
def test_bad_values_name_the_setting(name, raw, message):
    with pytest.raises(ConfigError) as err:
        load_settings(flags(), environ={name: raw})
    assert message in str(err.value)
    assert TOKEN not in str(err.value)


def test_bad_value_in_dotenv_is_named_too(in_tmp):
    env_file(in_tmp / ".env", "LOOKBACK_DAYS=soon\n")
    with pytest.raises(ConfigError, match="LOOKBACK_DAYS must be an integer, got 'soon'"):
        load_settings(flags(), environ={})


def test_bad_db_url_flag_is_named():
    with pytest.raises(ConfigError, match="DATABASE_URL is not a valid SQLAlchemy URL"):
        load_settings(flags("--db-url", "::"), environ={})


def test_bad_value_overridden_by_a_flag_is_still_rejected():
    """A bad environment value is an error even when a flag overrides it (it would bite the next run)."""
    with pytest.raises(ConfigError, match="COST_SOURCE"):
        load_settings(flags("--source", "sample"), environ={"COST_SOURCE": "bogus"})


def test_future_date_is_rejected():
    tomorrow = datetime.now(timezone.utc).date() + timedelta(days=1)
    with pytest.raises(ConfigError, match=f"--date {tomorrow} is in the future"):
        load_settings(flags("--date", tomorrow.isoformat()), environ={})


def test_malformed_date_flag_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        flags("--date", "2026-02-30")
    assert exc.value.code == 2
    assert "--date must be YYYY-MM-DD, got '2026-02-30'" in capsys.readouterr().err


def test_input_implies_file_source_and_must_exist(in_tmp):
    s = load_settings(flags("--input", str(DATA / "tag_team.json")), environ={})
    assert s.cost_source == "file" and s.input_files == (DATA / "tag_team.json",)
    with pytest.raises(ConfigError, match=r"--input .*missing\.json: no such file"):
        load_settings(flags("--input", str(DATA / "tag_team.json"), str(in_tmp / "missing.json")), environ={})
    with pytest.raises(ConfigError, match="COST_SOURCE=file needs --input"):
        load_settings(flags("--source", "file"), environ={})


def test_demo_uses_the_sample_a_dry_run_and_its_own_database_site_and_reports(in_tmp):
    """Everything the demo writes is under OUTPUT_DIR/demo/: it never touches the real database, site or reports,
    and a real set-up with presigned S3 links or a public site URL does not stop it."""
    real = {"DATABASE_URL": "mysql+pymysql://u:pw@db/costs", "PLOTS_DESTINATION": "s3://b/p",
            "PLOT_LINKS": "presigned", "PLOT_BASE_URL": "https://costs.example.com"}
    s = load_settings(flags("--demo", "--output-dir", str(in_tmp / "out")), environ=real)
    assert (s.cost_source, s.dry_run, s.demo) == ("sample", True, True)
    demo = in_tmp / "out" / "demo"
    assert s.output_dir == demo
    assert s.database_url == f"sqlite:///{demo / 'costs-2026-11-25.sqlite'}"
    assert (s.plots_destination, s.plot_links, s.plot_base_url) == (str(demo / "site"), "public", "")


@pytest.mark.parametrize("environ, site", [({}, "out/site"), ({"PLOTS_DESTINATION": ""}, "out/site"),
                                           ({"PLOTS_DESTINATION": "/srv/costs"}, "/srv/costs")])
def test_the_local_site_defaults_to_output_dir_site(environ, site):
    s = load_settings(flags("--output-dir", "out"), environ=environ)
    assert s.plots_destination == site


def test_settings_are_frozen():
    s = load_settings(flags(), environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.cost_source = "sample"  # type: ignore[misc]


def test_date_flag_sets_the_report_day():
    assert load_settings(flags("--date", "2026-11-25"), environ={}).day == date(2026, 11, 25)


# --- secrets -----------------------------------------------------------------------------------------------

def test_token_never_in_repr_str_or_public():
    s = load_settings(flags(), environ={"SLACK_BOT_TOKEN": TOKEN, "SLACK_CHANNEL_ID": "C0123"})
    assert s.slack_bot_token == TOKEN and s.post_to_slack
    for text in (repr(s), str(s), str(s.public()), repr(s.public())):
        assert TOKEN not in text
        assert "abcdefghijkl" not in text
    assert "slack_bot_token" not in s.public()


def test_database_password_masked_in_public():
    s = load_settings(flags(), environ={"DATABASE_URL": "mysql+pymysql://cost:Pa55-w0rd@db.internal:3306/costs"})
    assert s.database_url.endswith("@db.internal:3306/costs")  # the engine still gets the real URL
    public = s.public()
    assert public["database_url"] == "mysql+pymysql://cost:***@db.internal:3306/costs"
    assert "Pa55-w0rd" not in str(public)


def test_public_is_json_ready():
    import json

    s = load_settings(flags("--input", str(DATA / "tag_team.json")), environ={})
    public = json.loads(json.dumps(s.public()))
    assert public["input_files"] == [str(DATA / "tag_team.json")]
    assert public["output_dir"] == "output" and public["cost_source"] == "file"


def test_process_environment_is_the_default(monkeypatch):
    monkeypatch.setenv("LOOKBACK_DAYS", "45")
    assert load_settings(flags()).lookback_days == 45


# --- a bad settings file or URL: exit 2, one line naming it ----------------------------------------------------

@pytest.mark.parametrize("url", ["mysql://costs:pw@db:3306/costs", "mysql+mysqldb://costs:pw@db/costs",
                                 "mariadb://costs@db/costs"])
def test_a_mysql_url_without_the_pymysql_driver_says_what_to_write(url):
    """SQLAlchemy's default MySQL driver is MySQLdb, which is not installed: say mysql+pymysql:// instead."""
    with pytest.raises(ConfigError) as err:
        load_settings(flags(), environ={"DATABASE_URL": url})
    backend = url.split(":")[0].split("+")[0]
    assert f"write {backend}+pymysql://" in str(err.value) and "DATABASE_URL" in str(err.value)
    assert ":pw@" not in str(err.value)


def test_mysql_and_mariadb_pymysql_urls_are_accepted():
    for url in ("mysql+pymysql://u:pw@db/costs", "mariadb+pymysql://u:pw@db/costs"):
        assert load_settings(flags(), environ={"DATABASE_URL": url}).database_url == url


def test_env_file_that_is_a_directory_says_so(in_tmp):
    (in_tmp / "prod.env").mkdir()
    with pytest.raises(ConfigError, match=r"--env-file .*prod\.env is a directory, not a settings file"):
        load_settings(flags("--env-file", str(in_tmp / "prod.env")), environ={})


def test_a_default_dotenv_folder_is_not_a_settings_file(in_tmp):
    """`python -m venv .env` is a common habit: a ./.env folder is not read, and not an error."""
    (in_tmp / ".env").mkdir()
    assert load_settings(flags(), environ={}).lookback_days == 365


@pytest.mark.parametrize(("content", "why"), [
    (b"LOOKBACK_DAYS=90\n\x00\x01\x02\xff binary", "is binary, not a settings file"),
    (b"LOOKBACK_DAYS=90\nCOST_METRIC=Unblended\xe9Cost\n", "is not UTF-8 text (line 2)"),
    (b"LOOKBACK_DAYS=90\nSLACK_CHANNEL_ID=\"C0123\nCOST_METRIC=AmortizedCost\n",
     "line 2 cannot be parsed (an unclosed quote?)"),
])
def test_a_bad_settings_file_is_named_in_one_line(in_tmp, content, why):
    path = in_tmp / "prod.env"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(ConfigError) as err:
        load_settings(flags("--env-file", str(path)), environ={})
    assert str(err.value) == f"{path}: {why}"


def test_a_bad_default_dotenv_is_named_too(in_tmp):
    env_file(in_tmp / ".env", "")
    (in_tmp / ".env").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match=r"^\.env: is binary"):
        load_settings(flags(), environ={})


def test_an_unreadable_settings_file_is_named(in_tmp, monkeypatch):
    path = env_file(in_tmp / "prod.env", "LOOKBACK_DAYS=90\n")
    real = Path.read_bytes

    def denied(self):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)  # the tests run as root, which reads anything
    with pytest.raises(ConfigError, match=r"prod\.env: cannot read it \(Permission denied\)"):
        load_settings(flags("--env-file", str(path)), environ={})


def test_a_binary_env_file_is_exit_2_with_one_line_naming_it(in_tmp, capsys, restore_logging):
    import runCostReporting

    path = in_tmp / "prod.env"
    path.write_bytes(bytes(range(256)) * 4)
    path.chmod(0o600)
    assert runCostReporting.main(["--dry-run", "--env-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {path}: is binary, not a settings file\n"


def test_mysql_url_without_driver_is_exit_2_with_one_line(capsys, restore_logging):
    import runCostReporting

    assert runCostReporting.main(["--dry-run", "--db-url", "mysql://costs:s3cret@db/costs"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mysql+pymysql://" in err and "s3cret" not in err


def test_budget_and_teams_file_are_unset_by_default():
    s = load_settings(flags(), environ={})
    assert (s.monthly_budget_usd, s.teams_file) == (None, None)


def test_budget_and_teams_file_are_read(in_tmp):
    (in_tmp / "teams.toml").write_text('[[team]]\nname = "web"\nchannel = "C0WEB"\nservices = ["Amazon CloudFront"]\n',
                                       encoding="utf-8")
    s = load_settings(flags(), environ={"MONTHLY_BUDGET_USD": "12000.50", "TEAMS_FILE": "teams.toml"})
    assert (s.monthly_budget_usd, s.teams_file) == (12000.5, Path("teams.toml"))
    assert load_settings(flags(), environ={"MONTHLY_BUDGET_USD": " "}).monthly_budget_usd is None


def test_a_bad_teams_file_stops_the_run_at_start_naming_it(in_tmp):
    """Before anything is fetched or paid for (drill-down requests, GetCostForecast), not after."""
    (in_tmp / "teams.toml").write_text('[[team]]\nname = "web"\nchannel = "C0WEB"\nowner = "me"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"teams.toml.*owner"):
        load_settings(flags(), environ={"TEAMS_FILE": "teams.toml"})


@pytest.mark.parametrize("raw", ["0", "-100", "lots", "inf", "nan"])
def test_a_budget_that_is_not_a_positive_number_is_refused(raw):
    with pytest.raises(ConfigError, match="MONTHLY_BUDGET_USD"):
        load_settings(flags(), environ={"MONTHLY_BUDGET_USD": raw})


def test_a_teams_file_that_does_not_exist_is_refused():
    with pytest.raises(ConfigError, match="TEAMS_FILE nope.toml: no such file"):
        load_settings(flags(), environ={"TEAMS_FILE": "nope.toml"})
