"""The analysis window as a days x series matrix, read straight into numpy and kept in a cache on local disk.

A daily run reads [d - LOOKBACK_DAYS, d]: 20,000 series x 366 days are 7.3M stored rows, and reading them as
SQLAlchemy rows (a Decimal and three strings each) then pivoting took ~50 s and ~4 GB. Here the rows come from the
DBAPI cursor (amounts as exact text, parsed once to float64), the series are integer-coded, and the matrix of the
last window is cached (OUTPUT_DIR/cache). The next run re-reads only the days whose stored state changed since:

- each day's cost_day record (Estimated flag, COST_METRIC, COST_GROUP_BY, fetched_at) is the day's version:
  db.store_costs stamps every day it writes, db.forget_days deletes it; a day whose record differs from the cached
  one, or has none, or was written in the seconds before the cache was made (fetched_at has 1 s resolution), is
  read again whole;
- the report day d is always read again (the day that changes most, and the one an edit would target).

So the cached matrix equals a full read as long as daily_cost is written through db.store_costs/forget_days (a
hand edit of an older day's rows in SQL is not seen: delete OUTPUT_DIR/cache after one). A cache that cannot be
read (missing, corrupt, another format) is rebuilt; one that cannot be written costs speed only (logged once).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from . import db
from .model import CostMatrix

log = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when the file's layout or meaning changes: older files are then ignored
RECENT_SECONDS = 5  # a day stamped this close to the cache's making may have changed within the same second
_EPOCH = date(1970, 1, 1)
_warned_unwritable: set[str] = set()


# --- reading rows -------------------------------------------------------------------------------------------------

def _ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Sorted days as contiguous [first, last] stretches."""
    out: list[list[date]] = []
    for d in sorted(days):
        if out and (d - out[-1][1]).days == 1:
            out[-1][1] = d
        else:
            out.append([d, d])
    return [(a, b) for a, b in out]


def _row_query(dialect: str) -> str:
    """Service, breakdown and the exact amount as text of one day's rows."""
    if dialect == "sqlite":  # amounts are exact text there (db.ExactAmount)
        return "SELECT service, breakdown, amount FROM daily_cost WHERE usage_date BETWEEN ? AND ?"
    return "SELECT service, breakdown, CAST(amount AS CHAR) FROM daily_cost WHERE usage_date BETWEEN %s AND %s"


SEP = "\x1f"  # ASCII unit separator between the fields of a day's packed rows (a name holding it: read row by row)


def _packed_query(dialect: str) -> str:
    """One row per day of [?, ?]: its row count, lowest and highest unit, any Estimated, and every row packed in one
    text (service SEP breakdown SEP exact amount, SEP between rows): the database does the per-row work in C, and
    the client gets one string per day instead of four Python objects per row (PyMySQL parses rows in Python)."""
    if dialect == "sqlite":
        return (f"SELECT usage_date, COUNT(*), MIN(unit), MAX(unit), MAX(estimated), "  # noqa: S608
                f"group_concat(service || '{SEP}' || breakdown || '{SEP}' || amount, '{SEP}') "
                "FROM daily_cost WHERE usage_date BETWEEN ? AND ? GROUP BY usage_date")
    return (f"SELECT usage_date, COUNT(*), MIN(unit), MAX(unit), MAX(estimated), "  # noqa: S608
            f"GROUP_CONCAT(service, '{SEP}', breakdown, '{SEP}', CAST(amount AS CHAR) SEPARATOR '{SEP}') "
            "FROM daily_cost WHERE usage_date BETWEEN %s AND %s GROUP BY usage_date")


def _units_query(dialect: str) -> str:
    """The units of one day (a day whose lowest and highest unit differ)."""
    mark = "?" if dialect == "sqlite" else "%s"
    return f"SELECT DISTINCT unit FROM daily_cost WHERE usage_date = {mark}"  # noqa: S608


@dataclass
class _Rows:
    """Rows read for some days: day offsets from the window start, series keys, amounts."""

    day: np.ndarray  # int64 offsets
    keys: list[tuple[str, str]]  # (service, breakdown)
    code: np.ndarray  # index into keys per row
    amount: np.ndarray  # float64
    units: dict[date, set[str]]
    estimated: set[date]


class _Collector:
    """Accumulates rows as integer codes and float64 amounts (names numbered once, amounts parsed once)."""

    def __init__(self) -> None:
        self.services: dict[str, int] = {}
        self.breakdowns: dict[str, int] = {}
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._last: tuple[list, list, np.ndarray, np.ndarray] | None = None

    def add(self, day: int, services: list[str], breakdowns: list[str], amounts: list[str]) -> None:
        """One day's rows (day: offset from the window start)."""
        last = self._last
        if last is not None and services == last[0] and breakdowns == last[1]:
            s, b = last[2], last[3]  # the same series in the same order as the day before: the usual case
        else:
            s, b = _code(services, self.services), _code(breakdowns, self.breakdowns)
            self._last = (services, breakdowns, s, b)
        self.parts.append((np.full(len(s), day, dtype=np.int64), s, b, np.array(amounts, dtype=np.float64)))

    def rows(self, units: dict[date, set[str]], estimated: set[date]) -> _Rows:
        if self.parts:
            day, s, b, amount = (np.concatenate(x) for x in zip(*self.parts, strict=True))
        else:
            day = s = b = np.zeros(0, np.int64)
            amount = np.zeros(0, np.float64)
        n_b = max(len(self.breakdowns), 1)
        pair_codes, pairs = pd.factorize(s * n_b + b)
        s_names, b_names = list(self.services), list(self.breakdowns)
        keys = [(s_names[p // n_b], b_names[p % n_b]) for p in pairs.tolist()]  # one per series, not per row
        return _Rows(day, keys, pair_codes.astype(np.int64), amount, units, estimated)


def read_rows(engine: Engine, start: date, days: Iterable[date]) -> _Rows:
    """Every daily_cost row of `days` (day offsets from start): one packed text per day (_packed_query), parsed with
    str.split; a day whose text does not split into its row count (a name holding SEP, a server-side length cap)
    is read row by row instead."""
    stretches = _ranges(days)
    dialect = engine.dialect.name
    out = _Collector()
    units: dict[date, set[str]] = {}
    estimated: set[date] = set()
    by_row: list[date] = []
    raw = engine.raw_connection()
    try:
        cursor = _cursor(raw, dialect)
        try:
            if dialect in ("mysql", "mariadb"):
                cursor.execute("SET SESSION group_concat_max_len = 4294967295")
            for first, last in stretches:
                cursor.execute(_packed_query(dialect), (first.isoformat(), last.isoformat()))
                mixed = []
                for day, count, low, high, est, text in cursor:
                    key = db._as_date(day)
                    units[key] = {low} if low == high else set()
                    if low != high:
                        mixed.append(key)
                    if est:
                        estimated.add(key)
                    fields = text.split(SEP) if text else []
                    if len(fields) != 3 * count:
                        by_row.append(key)
                        continue
                    out.add((key - start).days, fields[0::3], fields[1::3], fields[2::3])
                for key in mixed:
                    cursor.execute(_units_query(dialect), (key.isoformat(),))
                    units[key] = {unit for (unit,) in cursor.fetchall()}
            for key in by_row:
                cursor.execute(_row_query(dialect), (key.isoformat(), key.isoformat()))
                found = cursor.fetchall()
                out.add((key - start).days, [r[0] for r in found], [r[1] for r in found], [r[2] for r in found])
        finally:
            cursor.close()
        raw.commit()  # end the read transaction (MySQL REPEATABLE READ would keep its snapshot)
    finally:
        raw.close()
    return out.rows(units, estimated)


def _cursor(raw, dialect: str):
    """An unbuffered cursor where the driver has one (PyMySQL would otherwise hold every row at once)."""
    if dialect in ("mysql", "mariadb"):
        import pymysql.cursors

        return raw.driver_connection.cursor(pymysql.cursors.SSCursor)
    return raw.cursor()


def _code(names: list[str], seen: dict[str, int]) -> np.ndarray:
    """Integer codes of names, numbering new ones after those already seen (hashing in pandas, not per row)."""
    codes, uniques = pd.factorize(np.array(names, dtype=object))
    lookup = np.array([seen.setdefault(str(u), len(seen)) for u in uniques], dtype=np.int64)
    return lookup[codes] if len(codes) else np.zeros(0, np.int64)


# --- the window ---------------------------------------------------------------------------------------------------

def _day_records(engine: Engine, start: date, end: date) -> dict[date, str]:
    """Each day's cost_day record in [start, end] as one comparable text (its version)."""
    t = db.cost_day
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.usage_date, t.c.estimated, t.c.metric, t.c.group_by, t.c.fetched_at)
                            .where(t.c.usage_date.between(start, end))).all()
    return {db._as_date(d): f"{int(bool(e))}|{m}|{g}|{f.isoformat() if isinstance(f, datetime) else f}"
            for d, e, m, g, f in rows}


def _stamp_time(record: str) -> datetime | None:
    try:
        return datetime.fromisoformat(record.rsplit("|", 1)[1].replace(" ", "T"))
    except ValueError:
        return None


def load_window(engine: Engine, start: date, end: date, *, cache_dir: Path | None = None) -> CostMatrix:
    """The stored costs of [start, end] as a CostMatrix; with cache_dir, only days changed since the cached window
    are read (see the module's docstring), and the cache is updated. Raise db.MixedCostsError as db.load_costs."""
    made_at = db.utcnow()
    records = _day_records(engine, start, end)
    cache = _read_cache(cache_dir, engine) if cache_dir is not None else None
    all_days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    reuse: set[date] = set()
    if cache is not None:
        for day in all_days:
            old = cache["records"].get(day)
            if day != end and old is not None and old == records.get(day) and day in cache["units"]:
                reuse.add(day)
    fresh = [day for day in all_days if day not in reuse]
    rows = read_rows(engine, start, fresh)

    n_days = len(all_days)
    old_pairs: list[tuple[str, str]] = cache["pairs"] if cache is not None and reuse else []
    union = list(old_pairs)
    where = {pair: i for i, pair in enumerate(union)}
    for pair in rows.keys:  # one step per series read, not per row
        if pair not in where:
            where[pair] = len(union)
            union.append(pair)
    order = sorted(range(len(union)), key=union.__getitem__)  # (service, breakdown) as Python orders strings
    position = np.empty(len(union), dtype=np.int64)
    position[np.asarray(order, dtype=np.int64)] = np.arange(len(union))
    values = np.zeros((n_days, len(union)), dtype=np.float64)
    units: dict[date, set[str]] = {}
    estimated: set[date] = set()
    if old_pairs:
        shift = (start - cache["start"]).days
        for day in reuse:
            units[day] = cache["units"][day]
            if day in cache["estimated"]:
                estimated.add(day)
        rows_old = np.array(sorted((day - cache["start"]).days for day in reuse), dtype=np.int64)
        target = np.zeros((len(rows_old), len(union)))
        target[:, position[:len(old_pairs)]] = cache["values"][rows_old]
        values[rows_old - shift] = target
    if len(rows.code):
        read_pos = position[np.array([where[pair] for pair in rows.keys], dtype=np.int64)]
        values[rows.day, read_pos[rows.code]] = rows.amount  # one stored row per (day, service, breakdown)
    ordered = [union[i] for i in order]
    keys = pd.MultiIndex.from_arrays([np.array([p[0] for p in ordered], dtype=object),
                                      np.array([p[1] for p in ordered], dtype=object)],
                                     names=["service", "breakdown"])
    units.update({day: set() for day in fresh})  # a day read with no rows is known empty
    units.update(rows.units)
    estimated |= rows.estimated
    _check_units(units, start, end)
    with engine.connect() as conn:
        db.check_settings_uniform(conn, start, end)

    # Columns with no cost anywhere in the window carry nothing (the analysis drops them): not kept.
    keep = (values != 0).any(axis=0)
    if not keep.all():
        keys, values = keys[keep], values[:, keep]
    has_rows = np.array([bool(units.get(day)) for day in all_days], dtype=bool)
    matrix = CostMatrix(start, end, keys, values, has_rows, sorted(estimated), rows_read=len(rows.code))
    if cache_dir is not None:
        recent = {day for day, rec in records.items()
                  if (stamp := _stamp_time(rec)) is None or stamp >= made_at - timedelta(seconds=RECENT_SECONDS)}
        cached_records = {day: rec for day, rec in records.items() if day not in recent}
        _write_cache(cache_dir, engine, matrix, cached_records, units)
    return matrix


def _check_units(units: dict[date, set[str]], start: date, end: date) -> None:
    """db.check_uniform's currency rule on the per-day units (MixedCostsError, the same line)."""
    spans: dict[str, list[date]] = {}
    for day, names in units.items():
        for unit in names:
            span = spans.setdefault(unit, [day, day])
            span[0], span[1] = min(span[0], day), max(span[1], day)
    if len(spans) > 1:
        db.raise_mixed_units(start, end, sorted(((u, a, b) for u, (a, b) in spans.items()), key=lambda x: (x[1], x[0])))


# --- the cache file -----------------------------------------------------------------------------------------------

def cache_path(cache_dir: Path, engine: Engine) -> Path:
    """The cache file of this database (one per database URL, password left out)."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        ident = "sqlite:" + str(Path(url.database).expanduser().resolve())
    else:
        ident = url.render_as_string(hide_password=True)
    digest = hashlib.sha256(ident.encode()).hexdigest()[:16]
    return Path(cache_dir) / f"window-{digest}.npz"


def _read_cache(cache_dir: Path, engine: Engine) -> dict | None:
    path = cache_path(cache_dir, engine)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != CACHE_FORMAT:
                return None
            start = _EPOCH + timedelta(days=int(data["start"]))
            values = data["values"]
            keys = list(zip(data["services"].tolist(), data["breakdowns"].tolist(), strict=True))
            if values.ndim != 2 or values.shape[1] != len(keys):
                raise ValueError("matrix and keys disagree")
            rec_days = [_EPOCH + timedelta(days=int(x)) for x in data["record_days"]]
            records = dict(zip(rec_days, data["records"].tolist(), strict=True))
            unit_days = [_EPOCH + timedelta(days=int(x)) for x in data["unit_days"]]
            units: dict[date, set[str]] = {day: set() for day in unit_days}
            for day, unit in zip(unit_days, data["unit_names"].tolist(), strict=True):
                if unit:
                    units[day].add(unit)
            estimated = {_EPOCH + timedelta(days=int(x)) for x in data["estimated"]}
        if any(not 0 <= (day - start).days < values.shape[0] for day in records):
            raise ValueError("a day outside the matrix")
        return {"start": start, "values": values, "pairs": keys, "records": records, "units": units,
                "estimated": estimated}
    except Exception as exc:  # corrupt, truncated, another layout: rebuilt from the database
        log.warning("window cache %s unreadable (%s): reading the whole window", path, exc)
        return None


def _write_cache(cache_dir: Path, engine: Engine, matrix: CostMatrix, records: dict[date, str],
                 units: dict[date, set[str]]) -> None:
    path = cache_path(cache_dir, engine)
    unit_days, unit_names = [], []
    for day, names in sorted(units.items()):
        for unit in sorted(names) or [""]:  # "" keeps a day with no rows known
            unit_days.append((day - _EPOCH).days)
            unit_names.append(unit)
    fields = dict(format=np.int64(CACHE_FORMAT), start=np.int64((matrix.start - _EPOCH).days),
                  values=matrix.values,
                  services=np.array(matrix.keys.get_level_values(0).astype(str), dtype=str),
                  breakdowns=np.array(matrix.keys.get_level_values(1).astype(str), dtype=str),
                  record_days=np.array([(d - _EPOCH).days for d in records], dtype=np.int64),
                  records=np.array(list(records.values()), dtype=str),
                  unit_days=np.array(unit_days, dtype=np.int64), unit_names=np.array(unit_names, dtype=str),
                  estimated=np.array([(d - _EPOCH).days for d in matrix.estimated_dates], dtype=np.int64))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                np.savez(out, **fields)
            # Atomic (a reader sees the old file or the new one). No fsync: a file torn by a power cut reads as
            # corrupt and is rebuilt, so the cache needs no durability of its own.
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        if str(path) not in _warned_unwritable:
            _warned_unwritable.add(str(path))
            log.warning("window cache %s cannot be written (%s): each run reads the whole window",
                        path, exc.strerror or exc)


__all__ = ["CostMatrix", "cache_path", "load_window", "read_rows"]
