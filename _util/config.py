"""Settings: one frozen object from defaults < .env < environment < CLI flags."""

from __future__ import annotations

import argparse
import difflib
import io
import os
import re
import stat
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from dotenv.parser import parse_stream

SOURCES = ("ce", "athena", "export", "sample", "file")
EXPORT_FORMATS = ("focus", "cur2")  # AWS Data Exports tables: FOCUS 1.x, CUR 2.0 (export_sql)
PLOT_LINK_MODES = ("public", "presigned")
FORECAST_SOURCES = ("model", "ce")
BUDGETS_SOURCES = ("settings", "aws")
# GetCostAndUsage's cost metrics (UsageQuantity and NormalizedUsageAmount measure usage, not money).
COST_METRICS = ("AmortizedCost", "BlendedCost", "NetAmortizedCost", "NetUnblendedCost", "UnblendedCost")
USAGE_METRICS = ("NormalizedUsageAmount", "UsageQuantity")
# The DIMENSION keys GetCostAndUsage documents for GroupBy, but SERVICE (always the first key). REGION is not among
# them (it filters); TAG:<key> and COST_CATEGORY:<name> are the other two GroupBy types.
GROUP_BY_DIMENSIONS = ("AZ", "INSTANCE_TYPE", "INVOICING_ENTITY", "LEGAL_ENTITY_NAME", "LINKED_ACCOUNT", "OPERATION",
                       "PLATFORM", "PURCHASE_TYPE", "RECORD_TYPE", "TENANCY", "USAGE_TYPE")
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4 presigned URLs cannot outlive 7 days


DEMO_TEAMS_FILE = Path(__file__).resolve().parent.parent / "docs" / "teams.example.toml"  # --demo's teams
DEMO_BUDGET_USD = 35000.0  # --demo's monthly budget unless MONTHLY_BUDGET_USD is set
DEMO_DATE = date(2026, 11, 25)  # --demo's report date unless --date is given (sample data is anchored on d)


def yesterday_utc() -> date:
    """Yesterday's UTC date (the default report date)."""
    return datetime.now(timezone.utc).date() - timedelta(days=1)


class ConfigError(ValueError):
    """A setting has a bad value; the message names the setting."""


class Secret(str):
    """A string that never shows its value in repr/str formatting of the settings."""

    def __repr__(self) -> str:
        return "'***'" if self else "''"


@dataclass(frozen=True)
class Settings:
    """Every setting of one run (see README "Settings")."""

    database_url: str = field(default="sqlite:///data/costs.sqlite", repr=False)
    cost_source: str = "ce"
    input_files: tuple[Path | str, ...] = ()  # local paths; COST_SOURCE=export also s3://bucket/prefix (str)
    cost_metric: str = "UnblendedCost"
    exclude_record_types: tuple[str, ...] = ("Credit", "Refund")
    group_by: str = ""  # "" | "TAG:<key>" | CE dimension such as LINKED_ACCOUNT
    export_format: str = ""  # COST_SOURCE=export: focus | cur2; "" = told by the files' columns
    lookback_days: int = 365
    # Every default is written here once: model.AlertParams, costexplorer's CE_* and db.make_engine read theirs
    # from these class attributes (why these values: see costexplorer and db).
    ce_max_pages: int = 300
    ce_timeout_seconds: float = 20.0
    ce_max_attempts: int = 5
    spike_z_threshold: float = 2.75
    spike_min_delta_usd: float = 5.0
    min_history_days: int = 14
    min_daily_cost_usd: float = 0.01
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 18
    trend_filter: bool = True
    trend_min_delta_usd: float = 1.0
    monthly_charge_filter: bool = True
    # Root causes and first-seen alerts (README "Settings"); AlertParams.first_seen_min_usd reads the last one.
    drilldown: bool = True
    drilldown_max_requests: int = 20  # Cost Explorer requests (USD 0.01 each) per report date for root causes
    first_seen_min_usd: float = 10.0
    # Budgets and teams (README "Settings"): the account's monthly budget (USD; None = none) and the teams file.
    monthly_budget_usd: float | None = None
    teams_file: Path | None = None
    # The month-end forecast of the total: the project's model, or Cost Explorer's GetCostForecast (USD 0.01/call).
    forecast_source: str = "model"
    # Where budgets come from: MONTHLY_BUDGET_USD + the teams file, or AWS Budgets (DescribeBudgets).
    budgets_source: str = "settings"
    budgets_account_id: str = ""  # AWS Budgets' AccountId ("" = the caller's, from STS GetCallerIdentity)
    budgets_overall_name: str = ""  # the AWS budget that is the account's overall one ("" = the unfiltered one)
    plots_destination: str = "output/site"  # load_settings: OUTPUT_DIR/site when PLOTS_DESTINATION is unset
    plot_base_url: str = ""
    plot_links: str = "public"
    plot_url_expiry_seconds: int = MAX_PRESIGN_SECONDS
    slack_bot_token: Secret = field(default=Secret(""), repr=False)
    slack_channel_id: str = ""
    slack_api_url: str = "https://slack.com/api/"
    output_dir: Path = Path("output")
    log_file: Path | None = None
    lock_file: Path | None = None
    # d is fixed once, when the settings are built: a run crossing midnight UTC must not post one day and record
    # another.
    report_date: date = field(default_factory=yesterday_utc)
    dry_run: bool = False
    demo: bool = False
    force: bool = False
    verbose: int = 0
    # Deadlines (README "Running it unattended"): the whole run, and each network call.
    run_timeout_seconds: int = 1800
    db_connect_timeout_seconds: int = 10
    db_timeout_seconds: int = 60
    s3_timeout_seconds: int = 30
    heartbeat_url: str = field(default="", repr=False)
    # COST_SOURCE=athena (README "Athena"): the export's table, the workgroup, its result location, the query's limit.
    athena_database: str = ""
    athena_table: str = ""
    athena_workgroup: str = "primary"
    athena_output_location: str = ""  # "" = the workgroup's own result location
    # A daily query over one or two billing periods takes seconds to a minute; a 13-month backfill of a large
    # organisation's export a few minutes. 600 s leaves two thirds of RUN_TIMEOUT_SECONDS' default to the rest.
    athena_timeout_seconds: int = 600

    @property
    def day(self) -> date:
        """The report date d, fixed when the settings were built (default: yesterday, UTC — Cost Explorer's days
        are UTC dates)."""
        return self.report_date

    @property
    def log_path(self) -> Path:
        return self.log_file or self.output_dir / "cost_reporting.log"

    @property
    def lock_path(self) -> Path:
        return self.lock_file or self.output_dir / "cost_reporting.lock"

    @property
    def post_to_slack(self) -> bool:
        """True when a message is really sent (token present, not a dry run)."""
        return bool(self.slack_bot_token) and not self.dry_run

    def public(self) -> dict[str, Any]:
        """Non-secret settings for report.json and logs (DB password masked, token omitted)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("slack_bot_token", "verbose", "force", "report_date", "heartbeat_url"):
                continue
            value = getattr(self, f.name)
            if f.name == "database_url":
                value = mask_url(value)
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = [str(v) for v in value]
            out[f.name] = value
        return out


# env var -> (field, parser)
def _int(name: str, lo: int = 0, hi: int | None = None):
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
        if value < lo or (hi is not None and value > hi):
            bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
            raise ConfigError(f"{name} must be {bound}, got {value}")
        return value

    return parse


def _float(name: str, lo: float = 0.0):
    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if not value >= lo or value != value or value in (float("inf"),):
            raise ConfigError(f"{name} must be a finite number >= {lo}, got {raw!r}")
        return value

    return parse


def _choice(name: str, choices: tuple[str, ...]):
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
        return value

    return parse


def _bool(name: str):
    def parse(raw: str) -> bool:
        value = raw.strip().lower()
        if value in ("1", "on", "true", "yes"):
            return True
        if value in ("0", "off", "false", "no"):
            return False
        raise ConfigError(f"{name} must be on or off, got {raw!r}")

    return parse


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _str(raw: str) -> str:
    return raw.strip()


def _did_you_mean(raw: str, choices: list[str] | tuple[str, ...]) -> str:
    near = difflib.get_close_matches(raw, choices, n=1, cutoff=0.6)
    return f" — did you mean {near[0]}?" if near else ""


def _cost_metric(raw: str) -> str:
    value = raw.strip()
    canonical = {m.lower(): m for m in COST_METRICS + USAGE_METRICS}.get(value.lower())
    if canonical in USAGE_METRICS:
        raise ConfigError(f"COST_METRIC {canonical} measures usage, not cost: use one of {', '.join(COST_METRICS)}")
    if canonical is None:
        # compared without case and separators: "net_unblended_cost" is NetUnblendedCost
        squashed = {m.lower(): m for m in COST_METRICS}
        near = difflib.get_close_matches(value.lower().replace("_", "").replace("-", ""), squashed, n=1, cutoff=0.6)
        hint = f" — did you mean {squashed[near[0]]}?" if near else ""
        raise ConfigError(f"COST_METRIC must be one of {', '.join(COST_METRICS)} (Cost Explorer's cost metrics), "
                          f"got {raw!r}{hint}")
    return canonical


def _group_by(raw: str) -> str:
    value = raw.strip()
    if not value:
        return ""
    kind, sep, key = value.partition(":")
    if sep:
        kinds = ("TAG", "COST_CATEGORY")
        if kind.upper() in kinds:
            if not key:
                what = "a tag key, e.g. TAG:team" if kind.upper() == "TAG" else "a cost category name"
                raise ConfigError(f"COST_GROUP_BY {kind.upper()}: needs {what}")
            return f"{kind.upper()}:{key}"
        near = difflib.get_close_matches(kind.upper(), kinds, n=1, cutoff=0.6)
        hint = f" — did you mean {near[0]}:{key}?" if near else ""
        raise ConfigError(f"COST_GROUP_BY must be TAG:<key>, COST_CATEGORY:<name> or a Cost Explorer dimension, "
                          f"got {raw!r}{hint}")
    value = value.upper()
    if value == "SERVICE":
        raise ConfigError("COST_GROUP_BY cannot be SERVICE (SERVICE is always grouped)")
    if value == "REGION":
        return value  # export sources group by region; validate refuses it for Cost Explorer
    if value not in GROUP_BY_DIMENSIONS:
        raise ConfigError(f"COST_GROUP_BY must be TAG:<key>, COST_CATEGORY:<name> or a Cost Explorer dimension "
                          f"({', '.join(GROUP_BY_DIMENSIONS)}), got {raw!r}"
                          f"{_did_you_mean(value.replace('-', '_'), GROUP_BY_DIMENSIONS)}")
    return value


def _export_format(raw: str) -> str:
    value = raw.strip().lower()
    if value and value not in EXPORT_FORMATS:
        raise ConfigError(f"EXPORT_FORMAT must be one of {', '.join(EXPORT_FORMATS)} (or unset: told by the "
                          f"columns), got {raw!r}{_did_you_mean(value, EXPORT_FORMATS)}")
    return value


def _budget(raw: str) -> float | None:
    value = raw.strip()
    if not value:
        return None
    try:
        budget = float(value)
    except ValueError:
        raise ConfigError(f"MONTHLY_BUDGET_USD must be a number of USD, got {raw!r}") from None
    if not budget > 0 or budget == float("inf"):
        raise ConfigError(f"MONTHLY_BUDGET_USD must be a finite number > 0 (unset = no budget), got {raw!r}")
    return budget


def _account_id(raw: str) -> str:
    value = raw.strip()
    if value and not (len(value) == 12 and value.isascii() and value.isdigit()):
        raise ConfigError(f"BUDGETS_ACCOUNT_ID must be a 12-digit AWS account id, got {raw!r}")
    return value


def _url(name: str):
    def parse(raw: str) -> str:
        value = raw.strip()
        if value and not value.startswith(("http://", "https://")):
            raise ConfigError(f"{name} must start with http:// or https://, got {raw!r}")
        return value

    return parse


def _athena_name(name: str, pattern: str = r"[A-Za-z0-9_][A-Za-z0-9_-]{0,254}", allowed: str = "_ and -"):
    """A Glue/Athena identifier (interpolated into SQL: nothing but letters, digits and `allowed`)."""
    def parse(raw: str) -> str:
        value = raw.strip()
        if value and not re.fullmatch(pattern, value):
            raise ConfigError(f"{name} must be a name of letters, digits, {allowed}, got {raw!r}")
        return value

    return parse


def _s3_url(name: str):
    def parse(raw: str) -> str:
        value = raw.strip()
        if value and not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/\S*)?", value):
            raise ConfigError(f"{name} must be an s3://bucket/prefix/ URL, got {raw!r}")
        return value

    return parse


def _database_url(raw: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    value = raw.strip()
    try:
        url = make_url(value)
    except ArgumentError:
        raise ConfigError(f"DATABASE_URL is not a valid SQLAlchemy URL: {mask_url(value)!r}") from None
    if url.get_backend_name() not in ("sqlite", "mysql", "mariadb"):
        raise ConfigError(f"DATABASE_URL must be a sqlite:// or mysql+pymysql:// URL, got {url.drivername}://…")
    if url.get_backend_name() in ("mysql", "mariadb") and url.get_driver_name() != "pymysql":
        # SQLAlchemy's default MySQL driver is MySQLdb (a C extension), which is not installed: PyMySQL is.
        raise ConfigError(f"DATABASE_URL {url.drivername}://… needs the PyMySQL driver: write "
                          f"{url.get_backend_name()}+pymysql://… (the rest of the URL unchanged)")
    return value


def _destination(raw: str) -> str:
    value = raw.strip()
    if value.startswith("s3://") and len(value.rstrip("/")) <= len("s3://"):
        raise ConfigError("PLOTS_DESTINATION s3:// needs a bucket name, e.g. s3://my-bucket/costs")
    return value  # "" = OUTPUT_DIR/site (load_settings)


ENV: dict[str, tuple[str, Any]] = {
    "DATABASE_URL": ("database_url", _database_url),
    "COST_SOURCE": ("cost_source", _choice("COST_SOURCE", SOURCES)),
    "COST_METRIC": ("cost_metric", _cost_metric),
    "COST_EXCLUDE_RECORD_TYPES": ("exclude_record_types", _csv),
    "COST_GROUP_BY": ("group_by", _group_by),
    "EXPORT_FORMAT": ("export_format", _export_format),
    "LOOKBACK_DAYS": ("lookback_days", _int("LOOKBACK_DAYS", 30, 3650)),
    "CE_MAX_PAGES": ("ce_max_pages", _int("CE_MAX_PAGES", 1)),
    "CE_TIMEOUT_SECONDS": ("ce_timeout_seconds", _float("CE_TIMEOUT_SECONDS", 0.1)),
    "CE_MAX_ATTEMPTS": ("ce_max_attempts", _int("CE_MAX_ATTEMPTS", 1, 20)),
    "SPIKE_Z_THRESHOLD": ("spike_z_threshold", _float("SPIKE_Z_THRESHOLD", 0.0)),
    "SPIKE_MIN_DELTA_USD": ("spike_min_delta_usd", _float("SPIKE_MIN_DELTA_USD", 0.0)),
    "MIN_HISTORY_DAYS": ("min_history_days", _int("MIN_HISTORY_DAYS", 2)),
    "MIN_DAILY_COST_USD": ("min_daily_cost_usd", _float("MIN_DAILY_COST_USD", 0.0)),
    "MACD_FAST": ("macd_fast", _int("MACD_FAST", 1)),
    "MACD_SLOW": ("macd_slow", _int("MACD_SLOW", 1)),
    "MACD_SIGNAL": ("macd_signal", _int("MACD_SIGNAL", 1)),
    "TREND_FILTER": ("trend_filter", _bool("TREND_FILTER")),
    "TREND_MIN_DELTA_USD": ("trend_min_delta_usd", _float("TREND_MIN_DELTA_USD", 0.0)),
    "MONTHLY_CHARGE_FILTER": ("monthly_charge_filter", _bool("MONTHLY_CHARGE_FILTER")),
    "DRILLDOWN": ("drilldown", _bool("DRILLDOWN")),
    "DRILLDOWN_MAX_REQUESTS": ("drilldown_max_requests", _int("DRILLDOWN_MAX_REQUESTS", 0)),
    "FIRST_SEEN_MIN_USD": ("first_seen_min_usd", _float("FIRST_SEEN_MIN_USD", 0.01)),
    "MONTHLY_BUDGET_USD": ("monthly_budget_usd", _budget),
    "FORECAST_SOURCE": ("forecast_source", _choice("FORECAST_SOURCE", FORECAST_SOURCES)),
    "BUDGETS_SOURCE": ("budgets_source", _choice("BUDGETS_SOURCE", BUDGETS_SOURCES)),
    "BUDGETS_ACCOUNT_ID": ("budgets_account_id", _account_id),
    "BUDGETS_OVERALL_NAME": ("budgets_overall_name", _str),
    "TEAMS_FILE": ("teams_file", lambda raw: Path(raw.strip()) if raw.strip() else None),
    "PLOTS_DESTINATION": ("plots_destination", _destination),
    "PLOT_BASE_URL": ("plot_base_url", _url("PLOT_BASE_URL")),
    "PLOT_LINKS": ("plot_links", _choice("PLOT_LINKS", PLOT_LINK_MODES)),
    "PLOT_URL_EXPIRY_SECONDS": ("plot_url_expiry_seconds", _int("PLOT_URL_EXPIRY_SECONDS", 60, MAX_PRESIGN_SECONDS)),
    "SLACK_BOT_TOKEN": ("slack_bot_token", lambda raw: Secret(raw.strip())),
    "SLACK_CHANNEL_ID": ("slack_channel_id", _str),
    "SLACK_API_URL": ("slack_api_url", _url("SLACK_API_URL")),
    "OUTPUT_DIR": ("output_dir", lambda raw: Path(raw.strip() or "output")),
    "LOG_FILE": ("log_file", lambda raw: Path(raw.strip()) if raw.strip() else None),
    "LOCK_FILE": ("lock_file", lambda raw: Path(raw.strip()) if raw.strip() else None),
    "RUN_TIMEOUT_SECONDS": ("run_timeout_seconds", _int("RUN_TIMEOUT_SECONDS", 1, 24 * 3600)),
    "DB_CONNECT_TIMEOUT_SECONDS": ("db_connect_timeout_seconds", _int("DB_CONNECT_TIMEOUT_SECONDS", 1, 3600)),
    "DB_TIMEOUT_SECONDS": ("db_timeout_seconds", _int("DB_TIMEOUT_SECONDS", 2, 3600)),
    "S3_TIMEOUT_SECONDS": ("s3_timeout_seconds", _int("S3_TIMEOUT_SECONDS", 1, 3600)),
    "HEARTBEAT_URL": ("heartbeat_url", _url("HEARTBEAT_URL")),
    "ATHENA_DATABASE": ("athena_database", _athena_name("ATHENA_DATABASE")),
    "ATHENA_TABLE": ("athena_table", _athena_name("ATHENA_TABLE")),
    "ATHENA_WORKGROUP": ("athena_workgroup", _athena_name("ATHENA_WORKGROUP", r"[A-Za-z0-9._-]{1,128}",
                                                                  "., _ and -")),
    "ATHENA_OUTPUT_LOCATION": ("athena_output_location", _s3_url("ATHENA_OUTPUT_LOCATION")),
    "ATHENA_TIMEOUT_SECONDS": ("athena_timeout_seconds", _int("ATHENA_TIMEOUT_SECONDS", 1, 24 * 3600)),
}


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable url>"


def load_settings(args: argparse.Namespace | None = None, environ: Mapping[str, str] | None = None,
                  env_file: Path | None = None) -> Settings:
    """Build the settings: defaults < .env < environment < CLI flags; raise ConfigError naming a bad one."""
    environ = os.environ if environ is None else environ
    args = args or argparse.Namespace()
    env_file = getattr(args, "env_file", None) or env_file
    explicit_env_file = env_file is not None
    env_file = env_file or Path(".env")
    values: dict[str, str] = {}
    if env_file.is_file():
        _warn_if_world_readable(env_file)
        from_file = read_env_file(env_file)
        _warn_about_typos(env_file, from_file)
        values.update(from_file)
    elif explicit_env_file and env_file.is_dir():
        raise ConfigError(f"--env-file {env_file} is a directory, not a settings file")
    elif explicit_env_file:
        raise ConfigError(f"--env-file {env_file}: no such file")
    # A ./.env folder (`python -m venv .env`) is not a settings file: it is left alone, as a missing one.
    values.update({k: v for k, v in environ.items() if k in ENV})

    kwargs: dict[str, Any] = {}
    for name, raw in values.items():
        if name in ENV:
            attr, parse = ENV[name]
            kwargs[attr] = parse(raw)

    flag_map = {"date": "report_date", "source": "cost_source", "db_url": "database_url",
                "output_dir": "output_dir", "dry_run": "dry_run", "demo": "demo", "force": "force",
                "verbose": "verbose"}
    for flag, attr in flag_map.items():
        value = getattr(args, flag, None)
        if value not in (None, False):
            kwargs[attr] = _database_url(value) if attr == "database_url" else value
    inputs = getattr(args, "input", None)
    if inputs:
        kwargs["input_files"] = tuple(inputs)
        if getattr(args, "source", None) is None and kwargs.get("cost_source") != "export":
            kwargs["cost_source"] = "file"

    out = Path(kwargs.get("output_dir", Settings.output_dir))
    if kwargs.get("demo"):
        out = out / "demo"  # the demo's reports, site and database never mix with real runs
        kwargs.update(cost_source="sample", dry_run=True, output_dir=out)
        kwargs.setdefault("report_date", DEMO_DATE)  # the same report for everyone; --date picks another day
        kwargs.setdefault("monthly_budget_usd", DEMO_BUDGET_USD)  # so the demo shows a budget line and chart
        if getattr(args, "db_url", None) is None:
            # One database per demo date: the sample world is anchored on d, so two dates' histories differ.
            name = f"costs-{kwargs['report_date']}.sqlite"
            kwargs["database_url"] = f"sqlite:///{out / name}"
        # Its own local site with file links, whatever the real site is (S3, presigned, a public URL).
        kwargs.update(plots_destination=str(out / "site"), plot_links="public", plot_base_url="")
        if kwargs.get("teams_file") is None:  # a team's message in the preview, unless TEAMS_FILE says otherwise
            kwargs["teams_file"] = DEMO_TEAMS_FILE
    if not kwargs.get("plots_destination"):
        kwargs["plots_destination"] = str(out / "site")  # the site lives with the run's other outputs
    settings = Settings(**kwargs)
    validate(settings)
    if settings.cost_source == "export" and "report_date" not in kwargs:
        settings = _export_report_date(settings)
    return settings


def _export_report_date(settings: Settings) -> Settings:
    """COST_SOURCE=export without --date: d is the last day the export covers (yesterday is usually not in it yet,
    and an old export's days would be outside the window); ingest logs the export's days beside d."""
    from dataclasses import replace

    from .exports import last_day

    last = last_day(settings.input_files, settings.export_format)
    if last is None:
        return settings
    last = min(last, settings.report_date)  # never after yesterday: today's export rows are partial
    return replace(settings, report_date=last)


def read_env_file(path: Path) -> dict[str, str]:
    """The settings in a .env file; a file that cannot be read whole and exactly is a ConfigError naming it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if b"\x00" in data:  # text files never hold NUL; this is a binary (or UTF-16) file given by mistake
        raise ConfigError(f"{path}: is binary, not a settings file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: is not UTF-8 text (line {line})") from None
    # python-dotenv logs and skips what it cannot parse; an unclosed quote would swallow every later line.
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            raise ConfigError(f"{path}: line {binding.original.line} cannot be parsed (an unclosed quote?)")
    return {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}


def validate(s: Settings) -> None:
    """Cross-field checks; raise ConfigError naming the setting."""
    if s.cost_source == "file" and not s.input_files:
        raise ConfigError("COST_SOURCE=file needs --input FILE…")
    if s.group_by == "REGION" and s.cost_source not in ("export", "athena"):
        raise ConfigError("COST_GROUP_BY cannot be REGION (REGION is filter-only in Cost Explorer; "
                          "COST_SOURCE=export and athena group by it)")
    if s.cost_source == "export" and not s.input_files:
        raise ConfigError("COST_SOURCE=export needs --input FILE|FOLDER|s3://bucket/prefix…")
    for path in s.input_files:
        if s.cost_source == "export":
            if not str(path).startswith("s3://") and not Path(path).exists():
                raise ConfigError(f"--input {path}: no such file or folder")
        elif str(path).startswith("s3://"):
            raise ConfigError(f"--input {path}: s3:// inputs are for COST_SOURCE=export")
        elif not Path(path).is_file():
            raise ConfigError(f"--input {path}: no such file")
    if s.cost_source == "athena":
        for name, value in (("ATHENA_DATABASE", s.athena_database), ("ATHENA_TABLE", s.athena_table),
                            ("ATHENA_WORKGROUP", s.athena_workgroup)):
            if not value:
                raise ConfigError(f"COST_SOURCE=athena needs {name} (README \"Athena\")")
    if s.teams_file is not None and not s.teams_file.is_file():
        raise ConfigError(f"TEAMS_FILE {s.teams_file}: no such file")
    if s.teams_file is not None:
        from .teams import load_teams

        # A bad teams file stops the run now, before anything is fetched or paid for; its overlap warnings are
        # given once, where the day's view reads it.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load_teams(s.teams_file)
    if s.forecast_source == "ce":
        from .ce_forecast import forecast_metric

        forecast_metric(s.cost_metric)  # a metric GetCostForecast does not take: said now, not at 7am
    if s.macd_fast >= s.macd_slow:
        raise ConfigError(f"MACD_FAST ({s.macd_fast}) must be smaller than MACD_SLOW ({s.macd_slow})")
    if s.plot_links == "presigned" and not s.plots_destination.startswith("s3://"):
        raise ConfigError("PLOT_LINKS=presigned needs PLOTS_DESTINATION=s3://bucket/prefix")
    if s.slack_channel_id.startswith("#"):
        warnings.warn(f"SLACK_CHANNEL_ID={s.slack_channel_id} is a channel name: it stops working when the channel "
                      "is renamed; use the channel ID (C…, at the bottom of the channel's About tab)", stacklevel=2)
    if s.slack_bot_token and not s.demo and not s.slack_channel_id:  # a dry run checks what the real run needs
        raise ConfigError("SLACK_CHANNEL_ID is required when SLACK_BOT_TOKEN is set")
    if s.report_date > datetime.now(timezone.utc).date():
        raise ConfigError(f"--date {s.report_date} is in the future")


def _warn_about_typos(path: Path, keys: dict[str, str]) -> None:
    """Warn about a .env key that is not a setting but close to one (SPIKE_Z_THRESHHOLD): it would be ignored."""
    for key in keys:
        if key not in ENV:
            near = difflib.get_close_matches(key.upper(), ENV, n=1, cutoff=0.8)
            if near:
                warnings.warn(f"{path}: {key} is not a setting (did you mean {near[0]}?); it is ignored", stacklevel=3)


def _warn_if_world_readable(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        warnings.warn(f"{path} is readable by other users; it may hold secrets: chmod 600 {path}",
                      stacklevel=3)
