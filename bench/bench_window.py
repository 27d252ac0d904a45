#!/usr/bin/env python3
"""Time and peak memory of reading the analysis window and analysing it: 20,000 series x 400 days by default.

The database is built once (setup, not measured): SQLite in a temp folder and, with --db-url, MySQL/MariaDB
(LOAD DATA LOCAL INFILE). Series are (service, breakdown) pairs stored with COST_GROUP_BY=LINKED_ACCOUNT
(--services x --breakdowns = --series), amounts with 10 decimals as Cost Explorer gives them, each day fetched the
morning after (cost_day stamped). The history ends yesterday; "today's run" then stores day d and re-fetches the
5 Estimated days before it (db.store_costs replacing them: new amounts), as the daily run does.

Each mode runs in a fresh interpreter (3 runs, median; peak = the child's peak RSS, interpreter and imports included):
  before  today's code path before this change: metrics.analyse(db.load_costs(window)) (long frame)
  cold    stages.load_day, no cache: the whole window read into the days x series matrix
  warm    stages.load_day with yesterday's cache (made before today's ingest): only the changed days are read
Target (issue 14): the daily run's window (warm) in <= 5 s and <= 1 GB on both databases.

    python -m bench.bench_window [--db-url mysql+pymysql://root@127.0.0.1:3306/h_perf] [--series N] [--days D]
                                 [--breakdowns B] [--profile] [--work-dir DIR] [--skip-before]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
D = date(2026, 11, 25)  # today's report date
GROUP_BY = "LINKED_ACCOUNT"
METRIC = "UnblendedCost"
ESTIMATED_REFETCHED = 5  # days before d re-fetched by today's run (still Estimated)
TARGET_S, TARGET_MB = 5.0, 1024.0


# --- setup ----------------------------------------------------------------------------------------------------------

def shape(series: int, breakdowns: int) -> tuple[list[str], list[str]]:
    """Service names and 12-digit account ids (series = services x accounts)."""
    services = [f"Amazon Service {i:05d}" for i in range(max(series // breakdowns, 1))]
    accounts = [f"{100000000000 + 7919 * i:012d}" for i in range(breakdowns)]
    return services, accounts


def day_amounts(n: int, day: date, rng_seed: int, version: int = 0):
    """The day's amounts (exact text, 10 decimals) of n series; version > 0: a re-fetched Estimated day's new ones."""
    import numpy as np

    base = np.random.default_rng(12345).lognormal(1.0, 2.0, n)  # each series' level (same every day)
    rng = np.random.default_rng([rng_seed, day.toordinal(), version])
    weekly = 1.0 + 0.2 * (day.weekday() < 5)
    values = base * weekly * rng.lognormal(0.0, 0.1, n)
    values[rng.random(n) < 0.002] *= 5  # a few spikes
    values[rng.random(n) < 0.01] = 0.0  # and days without cost
    return [f"{v:.10f}" for v in values]


def fetched(day: date) -> datetime:
    """When the day was fetched: the next morning."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time()) + timedelta(hours=6)


def build(url: str, series: int, days: int, breakdowns: int, workdir: Path) -> None:
    """The history [d - days, d - 1] stored with COST_GROUP_BY (fast bulk insert; setup, not measured)."""
    from _util import db, migrate

    engine = db.make_engine(url)
    services, accounts = shape(series, breakdowns)
    keys = [(s, a) for s in services for a in accounts]
    first = D - timedelta(days=days)
    started = time.perf_counter()
    with engine.begin() as conn:
        for table in ("daily_cost", "cost_day", "slack_post", "run", "root_cause", "schema_version"):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    migrate.upgrade(engine)
    day_list = [first + timedelta(days=i) for i in range(days)]
    estimated = {D - timedelta(days=k) for k in range(1, ESTIMATED_REFETCHED + 1)}
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        cur = raw.cursor()
        cur.execute("PRAGMA synchronous = OFF")
        sql = ("INSERT INTO daily_cost (usage_date, service, breakdown, amount, unit, estimated, fetched_at) "
               "VALUES (?, ?, ?, ?, 'USD', ?, ?)")
        for day in day_list:
            stamp = fetched(day).strftime("%Y-%m-%d %H:%M:%S.%f")
            est = int(day in estimated)
            cur.executemany(sql, [(day.isoformat(), s, a, amount, est, stamp)
                                  for (s, a), amount in zip(keys, day_amounts(len(keys), day, 1), strict=True)])
        raw.commit()
        raw.close()
    else:
        import pymysql

        u = engine.url
        conn = pymysql.connect(host=u.host, port=u.port or 3306, user=u.username, password=u.password or "",
                               database=u.database, local_infile=True, charset="utf8mb4")
        tsv = workdir / "rows.tsv"
        with conn.cursor() as cur:
            for start in range(0, len(day_list), 50):
                with tsv.open("w", encoding="utf-8") as out:
                    for day in day_list[start:start + 50]:
                        stamp = fetched(day).isoformat(sep=" ")
                        est = int(day in estimated)
                        iso = day.isoformat()
                        out.writelines(f"{iso}\t{s}\t{a}\t{amount}\tUSD\t{est}\t{stamp}\n"
                                       for (s, a), amount in zip(keys, day_amounts(len(keys), day, 1), strict=True))
                cur.execute(f"LOAD DATA LOCAL INFILE '{tsv}' INTO TABLE daily_cost CHARACTER SET utf8mb4 "
                            "(usage_date, service, breakdown, amount, unit, estimated, fetched_at)")
                conn.commit()
        conn.close()
        tsv.unlink()
    with engine.begin() as conn:
        conn.execute(db.cost_day.insert(), [{"usage_date": day, "estimated": day in estimated, "metric": METRIC,
                                             "group_by": GROUP_BY, "fetched_at": fetched(day)} for day in day_list])
    engine.dispose()
    print(f"  built {url.split('@')[-1]}: {len(keys) * days:,} rows in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)


def _still_built(url: str, days: int) -> bool:
    """Whether the database still holds the built history and today's ingest (a test run may have dropped it)."""
    from sqlalchemy import func, select

    from _util import db

    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(db.cost_day)).scalar() == days + 1
    except Exception:
        return False
    finally:
        engine.dispose()


def todays_ingest(url: str, series: int, breakdowns: int) -> int:
    """Today's run: day d stored and the Estimated days before it re-fetched (replaced whole, new amounts)."""
    from decimal import Decimal

    from _util import db
    from _util.model import CostRow

    engine = db.make_engine(url)
    services, accounts = shape(series, breakdowns)
    keys = [(s, a) for s in services for a in accounts]
    days = {D - timedelta(days=k): True for k in range(ESTIMATED_REFETCHED + 1)}
    rows = [CostRow(day, s, a, Decimal(amount), "USD", True)
            for day in sorted(days) for (s, a), amount in zip(keys, day_amounts(len(keys), day, 1, version=1),
                                                              strict=True)]
    n = db.store_costs(engine, rows, days, metric=METRIC, group_by=GROUP_BY, fetched_at=db.utcnow())
    engine.dispose()
    return n


def settings(url: str, out: Path, report_date: date, days: int):
    from _util.config import Settings

    return Settings(database_url=url, output_dir=out, report_date=report_date, lookback_days=days - 1,
                    group_by=GROUP_BY)


# --- one measured run (child) ---------------------------------------------------------------------------------------

def child(mode: str, url: str, out: str, days: int, profile: bool) -> None:
    import cProfile
    import pstats
    import resource

    from _util import db, metrics, stages, window
    from _util.model import AlertParams

    s = settings(url, Path(out), D, days)
    engine = db.make_engine(url)
    read: list[int] = []
    original = window.load_window

    def counted(*args, **kwargs):
        matrix = original(*args, **kwargs)
        read.append(matrix.rows_read)
        return matrix

    window.load_window = counted

    def work():
        if mode == "before":
            costs = db.load_costs(engine, D - timedelta(days=s.lookback_days), D)
            read.append(len(costs))
            return metrics.analyse(costs, D, AlertParams.from_settings(s))
        return stages.load_day(s, engine)

    prof = cProfile.Profile() if profile else None
    cpu = time.process_time()
    started = time.perf_counter()
    if prof:
        prof.enable()
    analysis = work()
    if prof:
        prof.disable()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if prof:
        stats = pstats.Stats(prof, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(14)
    print(json.dumps({"s": seconds, "cpu": cpu, "mb": peak, "rows": read[0] if read else 0, "alerts": analysis.alerts,
                      "series": int(analysis.series.shape[1]), "digest": digest(analysis)}))


def digest(analysis) -> str:
    """A fingerprint of the Analysis (alerts, totals, series bit for bit): every path must give the same."""
    import hashlib

    h = hashlib.sha256(repr((analysis.spikes, analysis.trends, analysis.first_seen, analysis.summary,
                             analysis.mtd_by_service, analysis.daily_totals, analysis.estimated_dates)).encode())
    h.update(analysis.series.to_numpy().tobytes())
    h.update(repr(list(analysis.series.columns)).encode())
    return h.hexdigest()[:12]


def measure(mode: str, url: str, out: Path, days: int, profile: bool = False) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "bench.bench_window", "--child", mode, url, str(out), str(days),
                           "1" if profile else "0"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{mode} run failed:\n{done.stderr[-3000:]}")
    if profile:
        print(f"\n--- cProfile, {mode} (top by own time) ---\n" + _trim(done.stderr))
    return json.loads(done.stdout.strip().splitlines()[-1])


def _trim(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if "function calls" in line), 0)
    return "\n".join(line[:150] for line in lines[start:start + 20])


# --- the table ------------------------------------------------------------------------------------------------------

def bench_database(label: str, url: str, args, work: Path) -> list[tuple]:
    from _util import db, window

    out = work / label
    yesterday_cache = work / f"{label}-yesterday-cache"
    stamp = work / f"{label}.stamp"
    wanted = json.dumps([url, args.series, args.days, args.breakdowns])
    if not (stamp.is_file() and stamp.read_text() == wanted and yesterday_cache.is_dir()
            and _still_built(url, args.days)):
        stamp.unlink(missing_ok=True)
        build(url, args.series, args.days, args.breakdowns, work)
        # Yesterday's run made the cache (setup): the window ending d - 1, before today's ingest.
        shutil.rmtree(yesterday_cache, ignore_errors=True)
        engine = db.make_engine(url)
        window.load_window(engine, D - timedelta(days=args.days), D - timedelta(days=1), cache_dir=yesterday_cache)
        engine.dispose()
        stored = todays_ingest(url, args.series, args.breakdowns)
        print(f"  {label}: today's ingest stored {stored:,} rows (d and {ESTIMATED_REFETCHED} re-fetched Estimated "
              "days)", file=sys.stderr)
        stamp.write_text(wanted)
    else:
        print(f"  {label}: database of an earlier run reused ({stamp})", file=sys.stderr)
    rows = []
    modes = ("cold", "warm") if args.skip_before else ("before", "cold", "warm")
    for mode in modes:
        results = []
        for _ in range(args.before_runs if mode == "before" and args.before_runs else args.runs):
            cache = out / "cache"
            shutil.rmtree(cache, ignore_errors=True)
            if mode == "warm":
                shutil.copytree(yesterday_cache, cache)
            results.append(measure(mode, url, out, args.days))
        if args.profile:
            shutil.rmtree(out / "cache", ignore_errors=True)
            if mode == "warm":
                shutil.copytree(yesterday_cache, out / "cache")
            measure(mode, url, out, args.days, profile=True)
        seconds = statistics.median(r["s"] for r in results)
        cpu = statistics.median(r.get("cpu", float("nan")) for r in results)
        peak = statistics.median(r["mb"] for r in results)
        ok = seconds <= TARGET_S and peak <= TARGET_MB
        rows.append((label, mode, seconds, cpu, [r["s"] for r in results], peak, results[0]["rows"],
                     results[0]["alerts"], "PASS" if ok else "FAIL", results[0]["digest"]))
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        child(argv[1], argv[2], argv[3], int(argv[4]), argv[5] == "1")
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.bench_window", description=__doc__.split("\n")[0])
    parser.add_argument("--db-url", help="also measure this MySQL/MariaDB database (its tables are replaced)")
    parser.add_argument("--series", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=400, help="days in the window (LOOKBACK_DAYS = days - 1)")
    parser.add_argument("--breakdowns", type=int, default=10, help="accounts per service")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top entries of each mode")
    parser.add_argument("--skip-before", action="store_true", help="measure the new path only")
    parser.add_argument("--before-runs", type=int, help="runs of the (slow) before path (default: --runs)")
    parser.add_argument("--only-mysql", action="store_true", help="with --db-url: skip SQLite")
    parser.add_argument("--work-dir", type=Path, help="folder for the SQLite file and caches (default: a temp one)")
    args = parser.parse_args(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench_window-"))
    work.mkdir(parents=True, exist_ok=True)
    targets = [] if args.only_mysql and args.db_url else [("sqlite", f"sqlite:///{work / 'costs.sqlite'}")]
    if args.db_url:
        targets.append(("mariadb" if "mysql" in args.db_url or "maria" in args.db_url else "db", args.db_url))
    rows = []
    try:
        for label, url in targets:
            rows += bench_database(label, url, args, work)
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{args.series:,} series ({args.series // args.breakdowns:,} services x {args.breakdowns} accounts) x "
          f"{args.days} days, COST_GROUP_BY={GROUP_BY}; medians of {args.runs} runs; target <= {TARGET_S:g} s and "
          f"<= {TARGET_MB:g} MB (the daily run: warm)")
    print("| database | path | seconds (median) | runs | CPU s | peak RSS MB | rows read | alerts | target |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, mode, seconds, cpu, runs, peak, read, alerts, verdict, _ in rows:
        print(f"| {label} | {mode} | {seconds:.2f} | {', '.join(f'{x:.2f}' for x in runs)} | {cpu:.2f} | "
              f"{peak:,.0f} | {read:,} | {alerts} | {verdict} |")
    print(f"(load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; CPU s = the "
          "child's own process time)")
    same = len({row[-1] for row in rows}) == 1
    print("every path gave the same Analysis (alerts, totals, series bit for bit)" if same else
          "DIFFERENT Analyses: " + ", ".join(f"{r[0]}/{r[1]} {r[-1]}" for r in rows))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
