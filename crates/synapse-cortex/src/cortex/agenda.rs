//! Cron jobs: Storm queries the Cortex runs at scheduled times (the reference's
//! `synapse.lib.agenda`).
//!
//! A job ("appointment") has one or more records, each a set of fixed time fields (the
//! `reqdict`: year, month, day of month or week, hour, minute) and, for a recurring job, an
//! increment (a unit and a count). The next run of a job is the soonest next time of its
//! records, computed in UTC as the reference does (seconds dropped, the fractional second of
//! the previous time kept). A scheduler task runs due jobs as their creator in their view and
//! records the start and finish times, the result and the last errors; jobs are persisted in
//! `automation.lmdb` and survive a restart. Each job has an auth gate of type `cronjob`
//! whose admin is its creator.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use futures::StreamExt;
use indexmap::IndexMap;
use rmpv::Value;
use synapse_cell::{Error, Result};

use super::autostore::{AutoStore, Table};
use super::{Cortex, StormCall};

fn poisoned<T>(err: std::sync::PoisonError<T>) -> T {
    err.into_inner()
}

fn bad_time(mesg: &str) -> Error {
    Error::named("BadTime", mesg)
}

// ----- calendar arithmetic (proleptic Gregorian, UTC) -----

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in a month (1-12).
pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A UTC date and time with microseconds (what the reference's `datetime` holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Dt {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    micro: u32,
}

impl Dt {
    /// From epoch seconds.
    pub(crate) fn from_ts(ts: f64) -> Dt {
        let micros = (ts * 1e6).round() as i64;
        let secs = micros.div_euclid(1_000_000);
        let micro = micros.rem_euclid(1_000_000) as u32;
        let days = secs.div_euclid(86400);
        let rem = secs.rem_euclid(86400);
        let (year, month, day) = civil_from_days(days);
        Dt {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
            micro,
        }
    }

    /// Epoch seconds.
    pub(crate) fn ts(&self) -> f64 {
        let days = days_from_civil(self.year, self.month, self.day);
        let secs = days * 86400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        secs as f64 + f64::from(self.micro) / 1e6
    }

    /// Monday is 0.
    fn weekday(&self) -> i64 {
        (days_from_civil(self.year, self.month, self.day) + 3).rem_euclid(7)
    }

    fn plus_minutes(&self, minutes: i64) -> Dt {
        let micros = (self.ts() * 1e6).round() as i64 + minutes * 60_000_000;
        Dt::from_ts(micros as f64 / 1e6)
    }

    fn set(&mut self, field: Unit, valu: i64) {
        match field {
            Unit::Year => self.year = valu,
            Unit::Month => self.month = valu as u32,
            Unit::Hour => self.hour = valu as u32,
            Unit::Minute => self.minute = valu as u32,
            _ => self.day = valu as u32,
        }
    }

    /// `datetime.replace(**vals)`: all at once, later values of a field win; invalid dates
    /// are clamped to the month.
    fn replace(&self, vals: &[(Unit, i64)]) -> Dt {
        let mut out = *self;
        for (field, valu) in vals {
            out.set(*field, *valu);
        }
        out.day = out.day.clamp(1, days_in_month(out.year, out.month));
        out
    }
}

/// `(year, month, day, hour, minute)` in UTC of epoch seconds.
pub(crate) fn cron_fields(ts: f64) -> (i64, i64, i64, i64, i64) {
    let dt = Dt::from_ts(ts);
    (
        dt.year,
        i64::from(dt.month),
        i64::from(dt.day),
        i64::from(dt.hour),
        i64::from(dt.minute),
    )
}

/// A valid day of a month for a wanted day: negative counts back from the end (-1 is the
/// last day), out of range values are clamped.
fn dayofmonth(hardday: i64, month: u32, year: i64) -> i64 {
    let dim = i64::from(days_in_month(year, month));
    let day = if hardday < 0 {
        dim + hardday + 1
    } else {
        hardday
    };
    day.clamp(1, dim)
}

/// The reference's `TimeUnit`, with its ordering (bigger units first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unit {
    /// A year.
    Year = 1,
    /// A month.
    Month = 2,
    /// A day of the month (fixed fields only).
    DayOfMonth = 3,
    /// A day of the week (Monday is 0).
    DayOfWeek = 4,
    /// A day (increments only).
    Day = 5,
    /// An hour.
    Hour = 6,
    /// A minute.
    Minute = 7,
    /// Right away (one-shot jobs).
    Now = 8,
}

impl Unit {
    /// From the reference's lowercase name.
    pub fn from_name(name: &str) -> Option<Unit> {
        Some(match name {
            "year" => Unit::Year,
            "month" => Unit::Month,
            "dayofmonth" => Unit::DayOfMonth,
            "dayofweek" => Unit::DayOfWeek,
            "day" => Unit::Day,
            "hour" => Unit::Hour,
            "minute" => Unit::Minute,
            "now" => Unit::Now,
            _ => return None,
        })
    }

    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Year => "year",
            Unit::Month => "month",
            Unit::DayOfMonth => "dayofmonth",
            Unit::DayOfWeek => "dayofweek",
            Unit::Day => "day",
            Unit::Hour => "hour",
            Unit::Minute => "minute",
            Unit::Now => "now",
        }
    }

    /// Valid `(required, increment)` ranges.
    fn bounds(self) -> ((i64, i64), (i64, i64)) {
        match self {
            Unit::Year => ((2000, 2999), (1, 5)),
            Unit::Month => ((1, 12), (1, 60)),
            Unit::DayOfMonth => ((-31, 31), (-31, 31)),
            Unit::DayOfWeek => ((0, 6), (0, 6)),
            Unit::Day => ((0, 0), (1, 365 * 5)),
            Unit::Hour => ((0, 23), (1, 1000)),
            Unit::Minute => ((0, 59), (1, 60 * 60 * 24 * 30)),
            Unit::Now => ((0, 0), (0, 0)),
        }
    }

    /// The next bigger unit a fixed field repeats in (`None` for a year).
    fn next(self) -> Option<Unit> {
        match self {
            Unit::Month => Some(Unit::Year),
            Unit::Hour => Some(Unit::Day),
            Unit::Minute => Some(Unit::Hour),
            Unit::DayOfMonth => Some(Unit::Month),
            Unit::DayOfWeek => Some(Unit::DayOfWeek),
            _ => None,
        }
    }
}

/// The order `nexttime` applies fixed fields in.
const REQ_ORDER: [Unit; 6] = [
    Unit::Year,
    Unit::Month,
    Unit::Hour,
    Unit::Minute,
    Unit::DayOfMonth,
    Unit::DayOfWeek,
];

/// One record of a job: fixed fields and an optional increment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApptRec {
    reqdict: Vec<(Unit, i64)>,
    incunit: Option<Unit>,
    incval: Option<i64>,
}

impl ApptRec {
    /// A record, checked as the reference (`BadTime`).
    pub(crate) fn new(reqs: &[(Unit, i64)], incunit: Option<Unit>, incval: i64) -> Result<ApptRec> {
        let has = |u: Unit| reqs.iter().any(|(k, _)| *k == u);
        if reqs.is_empty() && incunit.is_none() {
            return Err(bad_time(
                "reqdict must be nonempty or incunit must be non-None",
            ));
        }
        if has(Unit::Day) {
            return Err(bad_time("Must not specify day as requirement"));
        }
        if has(Unit::DayOfMonth) && has(Unit::DayOfWeek) {
            return Err(bad_time(
                "Both day of month and day of week must not both be requirements",
            ));
        }
        if has(Unit::DayOfWeek) && incunit.is_some() {
            return Err(bad_time(
                "Day of week requirement not supported with a recurrence",
            ));
        }
        if incunit == Some(Unit::DayOfMonth) {
            return Err(bad_time("Day of month not a valid incunit"));
        }
        if let Some(unit) = incunit {
            let (lo, hi) = unit.bounds().1;
            if !(lo..=hi).contains(&incval) {
                return Err(bad_time("Out of bounds incval"));
            }
        }
        for (unit, valu) in reqs {
            let (lo, hi) = unit.bounds().0;
            if !(lo..=hi).contains(valu) {
                return Err(bad_time("Out of bounds reqdict value"));
            }
            if let Some(inc) = incunit
                && *unit <= inc
            {
                return Err(bad_time(
                    "Must not have fixed unit equal to or greater than recurrence unit",
                ));
            }
        }
        let mut reqdict = Vec::new();
        for unit in REQ_ORDER {
            if let Some((_, v)) = reqs.iter().rev().find(|(k, _)| *k == unit) {
                reqdict.push((unit, *v));
            }
        }
        Ok(ApptRec {
            reqdict,
            incunit,
            incval: incunit.map(|_| incval),
        })
    }

    fn req(&self, unit: Unit) -> Option<i64> {
        self.reqdict
            .iter()
            .find(|(k, _)| *k == unit)
            .map(|(_, v)| *v)
    }

    /// `(reqdict, incunit, incval)` as stored and shown.
    pub(crate) fn pack(&self) -> Value {
        Value::Array(vec![
            Value::Map(
                self.reqdict
                    .iter()
                    .map(|(k, v)| (Value::from(k.name()), Value::from(*v)))
                    .collect(),
            ),
            self.incunit.map_or(Value::Nil, |u| Value::from(u.name())),
            self.incval.map_or(Value::Nil, Value::from),
        ])
    }

    fn unpack(valu: &Value) -> Result<ApptRec> {
        let bad = || Error::named("BadStorageVersion", "bad stored cron record");
        let parts = valu.as_array().ok_or_else(bad)?;
        let [reqs, incunit, incval] = parts.as_slice() else {
            return Err(bad());
        };
        let mut reqdict = Vec::new();
        for (k, v) in reqs.as_map().ok_or_else(bad)? {
            let unit = k.as_str().and_then(Unit::from_name).ok_or_else(bad)?;
            reqdict.push((unit, v.as_i64().ok_or_else(bad)?));
        }
        let incunit = match incunit.as_str() {
            Some(name) => Some(Unit::from_name(name).ok_or_else(bad)?),
            None => None,
        };
        ApptRec::new(&reqdict, incunit, incval.as_i64().unwrap_or(1))
    }

    /// The next time after `lastts` meeting the record (epoch seconds), or 0.0 when there is
    /// none (a fixed year already past).
    pub(crate) fn nexttime(&self, lastts: f64) -> f64 {
        let lastdt = Dt::from_ts(lastts);
        let mut newdt = lastdt;
        newdt.second = 0;
        let mut pending: Vec<(Unit, i64)> = Vec::new();
        for (unit, valu) in &self.reqdict {
            match unit {
                Unit::DayOfWeek => {
                    newdt = newdt.replace(&pending);
                    pending.clear();
                    let mut day =
                        i64::from(newdt.day) + (6 + valu - newdt.weekday()).rem_euclid(7) + 1;
                    if day > i64::from(days_in_month(newdt.year, newdt.month)) {
                        day -= 7;
                    }
                    pending.push((Unit::Day, day));
                }
                Unit::Year => {
                    let day = dayofmonth(i64::from(newdt.day), newdt.month, *valu);
                    pending.push((Unit::Day, day));
                    pending.push((Unit::Year, *valu));
                }
                Unit::Month => {
                    newdt = newdt.replace(&pending);
                    pending.clear();
                    let day = dayofmonth(i64::from(newdt.day), *valu as u32, newdt.year);
                    pending.push((Unit::Day, day));
                    pending.push((Unit::Month, *valu));
                }
                Unit::DayOfMonth => {
                    newdt = newdt.replace(&pending);
                    pending.clear();
                    pending.push((Unit::Day, dayofmonth(*valu, newdt.month, newdt.year)));
                }
                other => pending.push((*other, *valu)),
            }
        }
        newdt = newdt.replace(&pending);
        let offweek = self.incunit == Some(Unit::DayOfWeek) && Some(newdt.weekday()) != self.incval;
        if newdt <= lastdt || offweek {
            let (unit, incval) = match self.incunit {
                None => {
                    let Some(largest) = self.reqdict.iter().map(|(k, _)| *k).min() else {
                        return 0.0;
                    };
                    let Some(unit) = largest.next() else {
                        return 0.0;
                    };
                    (unit, self.req(Unit::DayOfWeek).unwrap_or(1))
                }
                Some(unit) => (unit, self.incval.unwrap_or(1)),
            };
            newdt = self.inc(unit, incval, newdt);
        }
        newdt.ts()
    }

    fn inc(&self, unit: Unit, incval: i64, dt: Dt) -> Dt {
        match unit {
            Unit::Year => {
                let mut out = dt;
                out.year += incval;
                out.day = out.day.min(days_in_month(out.year, out.month));
                out
            }
            Unit::Month => {
                let absmonth = i64::from(dt.month) + incval - 1;
                let month = absmonth.rem_euclid(12) as u32 + 1;
                let year = dt.year + absmonth.div_euclid(12);
                let day = match self.req(Unit::DayOfMonth) {
                    Some(req) => dayofmonth(req, month, year) as u32,
                    None => dt.day.min(days_in_month(year, month)),
                };
                Dt {
                    year,
                    month,
                    day,
                    ..dt
                }
            }
            Unit::Day => dt.plus_minutes(incval * 1440),
            Unit::DayOfWeek => {
                let days = (6 + incval - dt.weekday()).rem_euclid(7) + 1;
                dt.plus_minutes(days * 1440)
            }
            Unit::Hour => dt.plus_minutes(incval * 60),
            _ => dt.plus_minutes(incval),
        }
    }
}

/// One requirement set before the product of its multi-valued fields.
pub type ReqSpec = Vec<(Unit, Vec<i64>)>;

/// The product of the multi-valued fields of a requirement set.
fn dictproduct(spec: &ReqSpec) -> Vec<Vec<(Unit, i64)>> {
    let mut out: Vec<Vec<(Unit, i64)>> = vec![Vec::new()];
    for (unit, vals) in spec {
        let mut next = Vec::new();
        for prefix in &out {
            for v in vals {
                let mut item = prefix.clone();
                item.push((*unit, *v));
                next.push(item);
            }
        }
        out = next;
    }
    out
}

/// Records, a `now` run time and whether the job recurs (the reference's
/// `_processPeriodParams`).
pub(crate) fn period_recs(
    reqs: &[ReqSpec],
    incunit: Option<Unit>,
    incvals: &[i64],
    now: f64,
) -> Result<(Vec<ApptRec>, Option<f64>, bool)> {
    if reqs.iter().all(Vec::is_empty) && incunit.is_none() {
        return Err(Error::bad_arg(
            "at least one of reqs and incunit must be non-empty",
        ));
    }
    if incunit.is_some() && incvals.is_empty() {
        return Err(Error::bad_arg(
            "incvals must be non-None if incunit is non-None",
        ));
    }
    let mut recs = Vec::new();
    let mut nexttime = None;
    let empty: Vec<ReqSpec> = vec![Vec::new()];
    let reqs = if reqs.is_empty() { &empty[..] } else { reqs };
    for req in reqs {
        if req.iter().any(|(u, _)| *u == Unit::Now) {
            if incunit.is_some() {
                return Err(Error::bad_arg(
                    "Recurring jobs may not be scheduled to run 'now'",
                ));
            }
            nexttime = Some(now);
            continue;
        }
        let incs: Vec<i64> = if incvals.is_empty() {
            vec![1]
        } else {
            incvals.to_vec()
        };
        for rd in dictproduct(req) {
            for v in &incs {
                recs.push(ApptRec::new(&rd, incunit, *v)?);
            }
        }
    }
    Ok((recs, nexttime, incunit.is_some()))
}

/// A cron job.
#[derive(Debug, Clone)]
pub(crate) struct Appt {
    pub(crate) iden: String,
    recur: bool,
    indx: u64,
    query: String,
    creator: String,
    recs: Vec<ApptRec>,
    recidx: Option<usize>,
    nexttime: Option<f64>,
    view: Option<String>,
    created: Option<i64>,
    pool: bool,
    affinity: Option<String>,
    loglevel: String,
    doc: String,
    name: String,
    isrunning: bool,
    startcount: u64,
    errcount: u64,
    lasterrs: Vec<String>,
    laststarttime: Option<f64>,
    lastfinishtime: Option<f64>,
    lastresult: Option<String>,
    enabled: bool,
}

fn opt_f64(v: Option<f64>) -> Value {
    v.map_or(Value::Nil, Value::from)
}

fn opt_str(v: &Option<String>) -> Value {
    v.as_deref().map_or(Value::Nil, Value::from)
}

impl Appt {
    /// The stored and shown form (the reference's `_Appt.pack()`).
    pub(crate) fn pack(&self) -> Value {
        let items: Vec<(&str, Value)> = vec![
            ("ver", Value::from(1)),
            ("doc", Value::from(self.doc.as_str())),
            ("name", Value::from(self.name.as_str())),
            ("pool", Value::from(self.pool)),
            ("affinity", opt_str(&self.affinity)),
            ("enabled", Value::from(self.enabled)),
            ("recur", Value::from(self.recur)),
            ("iden", Value::from(self.iden.as_str())),
            ("view", opt_str(&self.view)),
            ("indx", Value::from(self.indx)),
            ("query", Value::from(self.query.as_str())),
            ("creator", Value::from(self.creator.as_str())),
            ("created", self.created.map_or(Value::Nil, Value::from)),
            (
                "recs",
                Value::Array(self.recs.iter().map(ApptRec::pack).collect()),
            ),
            ("nexttime", opt_f64(self.nexttime)),
            ("startcount", Value::from(self.startcount)),
            ("errcount", Value::from(self.errcount)),
            ("isrunning", Value::from(self.isrunning)),
            ("laststarttime", opt_f64(self.laststarttime)),
            ("lastfinishtime", opt_f64(self.lastfinishtime)),
            ("lastresult", opt_str(&self.lastresult)),
            (
                "lasterrs",
                Value::Array(
                    self.lasterrs
                        .iter()
                        .take(5)
                        .map(|e| Value::from(e.as_str()))
                        .collect(),
                ),
            ),
            ("loglevel", Value::from(self.loglevel.as_str())),
        ];
        Value::Map(
            items
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        )
    }

    fn unpack(valu: &Value) -> Result<Appt> {
        let get = |k: &str| crate::layer::map_get(valu, k);
        let text = |k: &str| get(k).and_then(Value::as_str).map(str::to_owned);
        let float =
            |k: &str| get(k).and_then(|v| v.as_f64().or_else(|| v.as_i64().map(|i| i as f64)));
        let bad = || Error::named("BadStorageVersion", "bad stored cron job");
        if get("ver").and_then(Value::as_i64) != Some(1) {
            return Err(bad());
        }
        let mut recs = Vec::new();
        for rec in get("recs").and_then(Value::as_array).ok_or_else(bad)? {
            recs.push(ApptRec::unpack(rec)?);
        }
        Ok(Appt {
            iden: text("iden").ok_or_else(bad)?,
            recur: get("recur").and_then(Value::as_bool).unwrap_or(false),
            indx: get("indx").and_then(Value::as_u64).unwrap_or(0),
            query: text("query").ok_or_else(bad)?,
            creator: text("creator").ok_or_else(bad)?,
            recs,
            recidx: None,
            nexttime: float("nexttime"),
            view: text("view"),
            created: get("created").and_then(Value::as_i64),
            pool: get("pool").and_then(Value::as_bool).unwrap_or(false),
            affinity: text("affinity"),
            loglevel: text("loglevel").unwrap_or_else(|| "WARNING".into()),
            doc: text("doc").unwrap_or_default(),
            name: text("name").unwrap_or_default(),
            isrunning: get("isrunning").and_then(Value::as_bool).unwrap_or(false),
            startcount: get("startcount").and_then(Value::as_u64).unwrap_or(0),
            errcount: get("errcount").and_then(Value::as_u64).unwrap_or(0),
            lasterrs: get("lasterrs")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            laststarttime: float("laststarttime"),
            lastfinishtime: float("lastfinishtime"),
            lastresult: text("lastresult"),
            enabled: get("enabled").and_then(Value::as_bool).unwrap_or(true),
        })
    }

    /// Move to the next run time after `now` (dropping a one-shot record that just ran);
    /// `None` when the job will not run again.
    fn update_nexttime(&mut self, now: f64) -> Option<f64> {
        if let Some(idx) = self.recidx
            && !self.recur
            && idx < self.recs.len()
        {
            self.recs.remove(idx);
        }
        while !self.recs.is_empty() && self.nexttime.is_some_and(|t| t <= now) {
            let base = self.nexttime.unwrap_or(now);
            let times: Vec<f64> = self.recs.iter().map(|r| r.nexttime(base)).collect();
            let mut kept = Vec::new();
            let mut low: Option<(f64, usize)> = None;
            for (rec, t) in self.recs.drain(..).zip(times) {
                if t == 0.0 {
                    tracing::warn!(rec = ?rec, "Missed an appointment");
                    continue;
                }
                if low.is_none_or(|(lt, _)| t < lt) {
                    low = Some((t, kept.len()));
                }
                kept.push(rec);
            }
            self.recs = kept;
            let Some((t, idx)) = low else { break };
            self.recidx = Some(idx);
            self.nexttime = Some(t);
        }
        if self.recs.is_empty() {
            self.recidx = None;
            self.nexttime = None;
        }
        self.nexttime
    }
}

/// Scheduling input of a new or changed job (the reference's cdef).
#[derive(Debug, Clone, Default)]
pub struct CronDef {
    /// A fixed iden (else a random one).
    pub iden: Option<String>,
    /// The query.
    pub storm: String,
    /// Requirement sets (each field with one or more values).
    pub reqs: Vec<ReqSpec>,
    /// The recurrence unit (`None`: one-shot).
    pub incunit: Option<Unit>,
    /// The recurrence counts.
    pub incvals: Vec<i64>,
    /// The creator (the user the job runs as).
    pub creator: String,
    /// The view iden.
    pub view: Option<String>,
    /// Mirror pool use (kept, not used).
    pub pool: bool,
    /// AHA service affinity (kept, not used).
    pub affinity: Option<String>,
    /// Log level of the job's warnings.
    pub loglevel: String,
    /// Documentation.
    pub doc: String,
}

/// The running state of jobs.
pub(crate) struct Agenda {
    store: Arc<AutoStore>,
    appts: Mutex<IndexMap<String, Appt>>,
    next_indx: AtomicU64,
    wake: Arc<tokio::sync::Notify>,
    running: Mutex<HashMap<String, tokio::sync::oneshot::Sender<()>>>,
}

fn now_secs() -> f64 {
    synapse_base::now_ms() as f64 / 1000.0
}

impl Agenda {
    /// Load the stored jobs (bad ones are logged and left out).
    pub(crate) async fn load(store: Arc<AutoStore>) -> Result<Agenda> {
        let mut appts = IndexMap::new();
        let mut next = 0;
        for (iden, valu) in store.rows(Table::Crons).await? {
            match Appt::unpack(&valu) {
                Ok(appt) if appt.iden == iden => {
                    next = next.max(appt.indx + 1);
                    appts.insert(iden, appt);
                }
                Ok(_) => tracing::warn!(iden = %iden, "cron job iden inconsistency"),
                Err(err) => {
                    tracing::warn!(iden = %iden, cause = %err, "Invalid appointment found in storage")
                }
            }
        }
        appts.sort_by(|_, a, _, b| a.indx.cmp(&b.indx));
        Ok(Agenda {
            store,
            appts: Mutex::new(appts),
            next_indx: AtomicU64::new(next),
            wake: Arc::new(tokio::sync::Notify::new()),
            running: Mutex::new(HashMap::new()),
        })
    }

    async fn save(&self, appt: &Appt) -> Result<()> {
        self.store.put(Table::Crons, &appt.iden, &appt.pack()).await
    }

    fn get(&self, iden: &str) -> Option<Appt> {
        self.appts
            .lock()
            .unwrap_or_else(poisoned)
            .get(iden)
            .cloned()
    }

    /// Apply a change to a job and persist it; the changed job.
    async fn edit(&self, iden: &str, func: impl FnOnce(&mut Appt) -> Result<()>) -> Result<Appt> {
        let appt = {
            let mut appts = self.appts.lock().unwrap_or_else(poisoned);
            let appt = appts.get_mut(iden).ok_or_else(|| no_such_cron(iden))?;
            func(appt)?;
            appt.clone()
        };
        self.save(&appt).await?;
        Ok(appt)
    }
}

fn no_such_cron(iden: &str) -> Error {
    Error::named("NoSuchIden", format!("No cron job with iden: {iden}")).with("iden", iden)
}

impl Cortex {
    /// Add a cron job (the reference's `addCronJob`): the job runs `def.storm` as
    /// `def.creator` in `def.view` (else the creator's default view). Returns the packed job
    /// with `username`.
    pub async fn add_cron_job(&self, def: CronDef) -> Result<Value> {
        let iden = def.iden.clone().unwrap_or_else(crate::model::guid_random);
        if self.agenda.get(&iden).is_some() {
            return Err(Error::named(
                "DupIden",
                format!("Duplicate cron iden ({iden})"),
            ));
        }
        let creator = self.user(&def.creator)?;
        let view = self.view_for(def.view.as_deref(), Some(&creator))?;
        if self.cell().auth().gate(&iden).is_some() {
            return Err(Error::named(
                "DupIden",
                format!("An AuthGate already exists with iden: {iden}"),
            )
            .with("iden", iden.as_str()));
        }
        if !["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "NOTSET"]
            .contains(&def.loglevel.as_str())
        {
            return Err(Error::named(
                "BadArg",
                format!("Invalid loglevel: {}", def.loglevel),
            ));
        }
        if def.affinity.is_some() && def.pool {
            return Err(Error::named(
                "BadConfValu",
                "Cron jobs may not have both affinity and pool set.",
            ));
        }
        if def.storm.is_empty() {
            return Err(Error::bad_arg(
                "\"query\" key of cdef parameter is not present or empty",
            ));
        }
        self.req_valid_query(&def.storm)?;
        let now = now_secs();
        let (recs, nexttime, recur) = period_recs(&def.reqs, def.incunit, &def.incvals, now)?;
        if recur && recs.is_empty() {
            return Err(bad_time("A recurrent appointment with no records"));
        }
        let indx = self.agenda.next_indx.fetch_add(1, Ordering::SeqCst);
        let mut appt = Appt {
            iden: iden.clone(),
            recur,
            indx,
            query: def.storm.clone(),
            creator: creator.iden.clone(),
            recs,
            recidx: None,
            nexttime,
            view: Some(view.iden()),
            created: Some(synapse_base::now_ms()),
            pool: def.pool,
            affinity: def.affinity.clone(),
            loglevel: def.loglevel.clone(),
            doc: def.doc.clone(),
            name: String::new(),
            isrunning: false,
            startcount: 0,
            errcount: 0,
            lasterrs: Vec::new(),
            laststarttime: None,
            lastfinishtime: None,
            lastresult: None,
            enabled: true,
        };
        if nexttime.is_none() && !appt.recs.is_empty() {
            appt.nexttime = Some(now);
            if appt.update_nexttime(now).is_none() {
                return Err(bad_time("Appointment is in the past"));
            }
        }
        self.agenda.save(&appt).await?;
        self.agenda
            .appts
            .lock()
            .unwrap_or_else(poisoned)
            .insert(iden.clone(), appt.clone());
        let auth = self.cell().auth();
        auth.add_auth_gate(&iden, "cronjob").await?;
        auth.set_user_admin(&creator.iden, true, Some(&iden))
            .await?;
        self.agenda.wake.notify_one();
        Ok(self.cron_pack(&appt))
    }

    fn cron_pack(&self, appt: &Appt) -> Value {
        let mut out = appt.pack();
        if let Some(user) = self.cell().auth().user(&appt.creator)
            && let Value::Map(items) = &mut out
        {
            items.push((Value::from("username"), Value::from(user.name.as_str())));
        }
        out
    }

    /// Every cron job, packed with `username`, oldest first.
    pub fn list_cron_jobs(&self) -> Vec<Value> {
        let appts: Vec<Appt> = self
            .agenda
            .appts
            .lock()
            .unwrap_or_else(poisoned)
            .values()
            .cloned()
            .collect();
        appts.iter().map(|a| self.cron_pack(a)).collect()
    }

    /// A cron job, packed.
    pub fn get_cron_job(&self, iden: &str) -> Result<Value> {
        let appt = self.agenda.get(iden).ok_or_else(|| no_such_cron(iden))?;
        Ok(self.cron_pack(&appt))
    }

    /// Delete a cron job (killing a running one) and its auth gate.
    pub async fn del_cron_job(&self, iden: &str) -> Result<()> {
        self.kill_cron_task(iden);
        let found = self
            .agenda
            .appts
            .lock()
            .unwrap_or_else(poisoned)
            .shift_remove(iden)
            .is_some();
        let stored = self.agenda.store.delete(Table::Crons, iden).await?;
        if !found && !stored {
            return Ok(());
        }
        if self.cell().auth().gate(iden).is_some() {
            self.cell().auth().del_auth_gate(iden).await?;
        }
        self.agenda.wake.notify_one();
        Ok(())
    }

    /// Change a job's query and/or schedule (the reference's `updateCronJob`).
    pub async fn update_cron_job(
        &self,
        iden: &str,
        query: Option<String>,
        sched: Option<(Vec<ReqSpec>, Option<Unit>, Vec<i64>)>,
    ) -> Result<()> {
        if let Some(q) = &query {
            if q.is_empty() {
                return Err(Error::bad_arg("empty query"));
            }
            self.req_valid_query(q)?;
        }
        let now = now_secs();
        let sched = match sched {
            Some((reqs, incunit, incvals)) => Some(period_recs(&reqs, incunit, &incvals, now)?),
            None => None,
        };
        self.agenda
            .edit(iden, |appt| {
                if let Some(q) = query {
                    appt.query = q;
                }
                if let Some((recs, nexttime, recur)) = sched {
                    let finished = appt.nexttime.is_none();
                    appt.recs = recs;
                    appt.recur = recur;
                    appt.nexttime = nexttime;
                    appt.recidx = None;
                    if appt.nexttime.is_none() && !appt.recs.is_empty() {
                        appt.nexttime = Some(now);
                        appt.update_nexttime(now);
                    }
                    if appt.nexttime.is_none() {
                        return Err(bad_time("Appointment is in the past"));
                    }
                    if finished {
                        return Err(Error::named(
                            "BadConfValu",
                            "Cannot modify the schedule of a finished non-recurring cron job.",
                        ));
                    }
                }
                Ok(())
            })
            .await?;
        self.agenda.wake.notify_one();
        Ok(())
    }

    /// Enable or disable a job (disabling kills a running one).
    pub async fn set_cron_enabled(&self, iden: &str, enabled: bool) -> Result<()> {
        if enabled && let Some(appt) = self.agenda.get(iden) {
            self.req_valid_query(&appt.query)?;
        }
        self.agenda
            .edit(iden, |appt| {
                appt.enabled = enabled;
                Ok(())
            })
            .await?;
        if !enabled {
            self.kill_cron_task(iden);
        }
        self.agenda.wake.notify_one();
        Ok(())
    }

    /// Move a job to another view.
    pub async fn move_cron_job(&self, useriden: &str, iden: &str, view: &str) -> Result<String> {
        let user = self.user(useriden)?;
        let view = self.view_for(Some(view), Some(&user))?;
        let appt = self.agenda.get(iden).ok_or_else(|| {
            Error::named("NoSuchIden", format!("No cron job with iden: {iden}")).with("iden", iden)
        })?;
        if appt.view.as_deref() == Some(view.iden().as_str()) {
            return Ok(iden.to_owned());
        }
        self.agenda
            .edit(iden, |appt| {
                appt.view = Some(view.iden());
                Ok(())
            })
            .await?;
        Ok(iden.to_owned())
    }

    /// Edit `creator`, `name`, `doc`, `pool` or `affinity` of a job; the packed job.
    pub async fn edit_cron_job(&self, iden: &str, name: &str, valu: Value) -> Result<Value> {
        if name == "creator" {
            self.user(valu.as_str().unwrap_or_default())?;
        }
        let text = |v: &Value| match v {
            Value::String(s) => s.as_str().unwrap_or_default().to_owned(),
            other => other.to_string(),
        };
        let appt = self
            .agenda
            .edit(iden, |appt| {
                match name {
                    "creator" => appt.creator = text(&valu),
                    "name" => appt.name = text(&valu),
                    "doc" => appt.doc = text(&valu),
                    "pool" => {
                        let on = !matches!(valu, Value::Nil | Value::Boolean(false));
                        if on && appt.affinity.is_some() {
                            return Err(Error::named(
                                "BadConfValu",
                                "Cron jobs may not have both affinity and pool set.",
                            ));
                        }
                        appt.pool = on;
                    }
                    "affinity" => {
                        if !valu.is_nil() && appt.pool {
                            return Err(Error::named(
                                "BadConfValu",
                                "Cron jobs may not have both affinity and pool set.",
                            ));
                        }
                        appt.affinity = (!valu.is_nil()).then(|| text(&valu));
                    }
                    _ => {
                        return Err(Error::bad_arg(format!(
                            "editCronJob name {name} is not supported for editing."
                        )));
                    }
                }
                Ok(())
            })
            .await?;
        Ok(appt.pack())
    }

    /// Cancel a running job's query; whether one was running.
    pub fn kill_cron_task(&self, iden: &str) -> bool {
        match self
            .agenda
            .running
            .lock()
            .unwrap_or_else(poisoned)
            .remove(iden)
        {
            Some(kill) => kill.send(()).is_ok(),
            None => false,
        }
    }

    /// Start the scheduler (in the cell's task set).
    pub(crate) fn start_agenda(self: &Arc<Self>) {
        let core = Arc::downgrade(self);
        if self.cell().base().spawn(runloop(core)).is_err() {
            tracing::warn!("the cortex is shutting down: cron jobs will not run");
        }
    }
}

/// Mark jobs that were running when the Cortex stopped as aborted.
async fn clear_running(core: &Cortex) {
    let idens: Vec<String> = core
        .agenda
        .appts
        .lock()
        .unwrap_or_else(poisoned)
        .values()
        .filter(|a| a.isrunning)
        .map(|a| a.iden.clone())
        .collect();
    for iden in idens {
        let res = core
            .agenda
            .edit(&iden, |appt| {
                appt.isrunning = false;
                appt.lastfinishtime = Some(now_secs());
                let keep = appt.lasterrs.len().saturating_sub(4);
                let mut errs = vec!["aborted".to_owned()];
                errs.extend(appt.lasterrs[keep..].iter().cloned());
                appt.lasterrs = errs;
                Ok(())
            })
            .await;
        if let Err(err) = res {
            tracing::warn!(cause = %err, "cannot clear a cron job's running flag");
        }
    }
}

/// The scheduler: sleep until the next job is due (or a change wakes it), run due jobs.
async fn runloop(core: Weak<Cortex>) {
    if let Some(cortex) = core.upgrade() {
        clear_running(&cortex).await;
    }
    loop {
        let Some(cortex) = core.upgrade() else { return };
        let wake = Arc::clone(&cortex.agenda.wake);
        let notified = wake.notified();
        let next = cortex
            .agenda
            .appts
            .lock()
            .unwrap_or_else(poisoned)
            .values()
            .filter_map(|a| a.nexttime.map(|t| (t, a.indx)))
            .min_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        let now = now_secs();
        if let Some((t, _)) = next
            && t <= now
        {
            run_due(&cortex, now).await;
            continue;
        }
        drop(cortex);
        match next {
            Some((t, _)) => {
                let wait = std::time::Duration::from_secs_f64((t - now).clamp(0.001, 86400.0));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = notified => {}
                }
            }
            None => notified.await,
        }
    }
}

async fn run_due(core: &Arc<Cortex>, now: f64) {
    let mut due: Vec<(f64, u64, String)> = core
        .agenda
        .appts
        .lock()
        .unwrap_or_else(poisoned)
        .values()
        .filter_map(|a| {
            a.nexttime
                .filter(|t| *t <= now)
                .map(|t| (t, a.indx, a.iden.clone()))
        })
        .collect();
    due.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    for (_, _, iden) in due {
        let appt = match core
            .agenda
            .edit(&iden, |appt| {
                appt.update_nexttime(now);
                Ok(())
            })
            .await
        {
            Ok(appt) => appt,
            Err(err) => {
                tracing::warn!(iden = %iden, cause = %err, "cannot reschedule a cron job");
                continue;
            }
        };
        if !appt.enabled {
            continue;
        }
        if appt.isrunning {
            tracing::warn!(iden = %iden, "Appointment is still running from previous time when scheduled to run. Skipping.");
            continue;
        }
        start_job(core, appt).await;
    }
}

async fn mark_failed(core: &Cortex, iden: &str, reason: &str) {
    let now = now_secs();
    let res = core
        .agenda
        .edit(iden, |appt| {
            appt.laststarttime = Some(now);
            appt.lastfinishtime = Some(now);
            appt.startcount += 1;
            appt.isrunning = false;
            appt.lastresult = Some(format!("Failed due to {reason}"));
            Ok(())
        })
        .await;
    if let Err(err) = res {
        tracing::warn!(cause = %err, "cannot record a cron job failure");
    }
}

async fn start_job(core: &Arc<Cortex>, appt: Appt) {
    let Some(user) = core.cell().auth().user(&appt.creator) else {
        tracing::warn!(iden = %appt.iden, user = %appt.creator, "Unknown user in stored appointment");
        mark_failed(core, &appt.iden, "unknown user").await;
        return;
    };
    if user.locked == Some(true) {
        tracing::warn!(iden = %appt.iden, "Cron failed because creator is locked");
        mark_failed(core, &appt.iden, "locked user").await;
        return;
    }
    if core.view_for(appt.view.as_deref(), Some(&user)).is_err() {
        tracing::warn!(iden = %appt.iden, "Unknown view in stored appointment");
        mark_failed(core, &appt.iden, "unknown view").await;
        return;
    }
    let started = now_secs();
    let res = core
        .agenda
        .edit(&appt.iden, |a| {
            a.isrunning = true;
            a.laststarttime = Some(started);
            a.startcount += 1;
            Ok(())
        })
        .await;
    if let Err(err) = res {
        tracing::warn!(cause = %err, "cannot start a cron job");
        return;
    }
    let iden = appt.iden.clone();
    let core2 = Arc::clone(core);
    let (killtx, killrx) = tokio::sync::oneshot::channel::<()>();
    core.agenda
        .running
        .lock()
        .unwrap_or_else(poisoned)
        .insert(iden.clone(), killtx);
    let job = async move {
        run_job(&core2, appt, user, killrx).await;
        core2
            .agenda
            .running
            .lock()
            .unwrap_or_else(poisoned)
            .remove(&iden);
    };
    if core.cell().base().spawn(job).is_err() {
        tracing::warn!("the cortex is shutting down: cron job not started");
    }
}

/// `str()` of an error message's `(name, info)` as the reference's exceptions show.
pub(crate) fn exc_str(err: &Value) -> String {
    let Some([name, info]) = err.as_array().map(Vec::as_slice) else {
        return err.to_string();
    };
    let mut items: Vec<(String, String)> = info
        .as_map()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    let k = k.as_str()?;
                    if k == "efile" || k == "eline" {
                        return None;
                    }
                    Some((k.to_owned(), crate::model::value::py_repr(v)))
                })
                .collect()
        })
        .unwrap_or_default();
    items.sort();
    let parts: Vec<String> = items.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{}: {}", name.as_str().unwrap_or("SynErr"), parts.join(" "))
}

async fn run_job(
    core: &Arc<Cortex>,
    appt: Appt,
    user: synapse_cell::User,
    mut kill: tokio::sync::oneshot::Receiver<()>,
) {
    let opts = Value::Map(vec![
        (Value::from("user"), Value::from(user.iden.as_str())),
        (Value::from("view"), opt_str(&appt.view)),
        (
            Value::from("vars"),
            Value::Map(vec![(
                Value::from("auto"),
                Value::Map(vec![
                    (Value::from("iden"), Value::from(appt.iden.as_str())),
                    (Value::from("type"), Value::from("cron")),
                ]),
            )]),
        ),
    ]);
    let call = StormCall {
        text: appt.query.clone(),
        opts,
        user,
    };
    let mut count = 0u64;
    let mut error = None;
    let mut cancelled = false;
    match core.storm(call) {
        Ok(mut mesgs) => loop {
            let mesg = tokio::select! {
                mesg = mesgs.next() => mesg,
                _ = &mut kill => {
                    cancelled = true;
                    None
                }
            };
            let Some(mesg) = mesg else { break };
            {
                let Some([kind, info]) = mesg.as_array().map(Vec::as_slice) else {
                    continue;
                };
                match kind.as_str() {
                    Some("node") => count += 1,
                    Some("warn") => {
                        let text = crate::layer::map_get(info, "mesg")
                            .and_then(Value::as_str)
                            .unwrap_or("<missing message>");
                        tracing::warn!(iden = %appt.iden, "Cron job issued warning: {text}");
                    }
                    Some("err") => error = Some(exc_str(info)),
                    _ => {}
                }
            }
        },
        Err(err) => error = Some(format!("{}: mesg='{}'", err.name(), err.mesg())),
    }
    let finished = now_secs();
    let result = match &error {
        _ if cancelled => "cancelled".to_owned(),
        Some(err) => format!("raised exception {err}"),
        None => format!("finished successfully with {count} nodes"),
    };
    let failed = cancelled || error.is_some();
    let res = core
        .agenda
        .edit(&appt.iden, |a| {
            if failed {
                a.lasterrs.push(result.clone());
                let keep = a.lasterrs.len().saturating_sub(5);
                a.lasterrs.drain(..keep);
                a.errcount += 1;
            }
            a.lastfinishtime = Some(finished);
            a.isrunning = false;
            a.lastresult = Some(result.clone());
            Ok(())
        })
        .await;
    if let Err(err) = res {
        tracing::warn!(cause = %err, "cannot record a cron job result");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(y: i64, mo: u32, d: u32, h: u32, mi: u32) -> f64 {
        Dt {
            year: y,
            month: mo,
            day: d,
            hour: h,
            minute: mi,
            second: 0,
            micro: 0,
        }
        .ts()
    }

    fn rec(reqs: &[(Unit, i64)], inc: Option<Unit>, val: i64) -> ApptRec {
        ApptRec::new(reqs, inc, val).unwrap()
    }

    #[test]
    fn civil_roundtrip() {
        for days in [-800_000i64, -1, 0, 1, 59, 365, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        // 2024-01-01 was a Monday
        assert_eq!(Dt::from_ts(ts(2024, 1, 1, 0, 0)).weekday(), 0);
        let t = 1_700_000_000.25;
        assert!((Dt::from_ts(t).ts() - t).abs() < 1e-6);
    }

    /// `(reqs, incunit, incval, from, expected)` computed with the reference's `ApptRec`.
    #[test]
    fn nexttime_table() {
        let cases: Vec<(ApptRec, f64, f64)> = vec![
            // every hour at minute 5
            (
                rec(&[(Unit::Minute, 5)], Some(Unit::Hour), 1),
                ts(2024, 3, 1, 10, 30),
                ts(2024, 3, 1, 11, 5),
            ),
            (
                rec(&[(Unit::Minute, 5)], Some(Unit::Hour), 1),
                ts(2024, 3, 1, 10, 2),
                ts(2024, 3, 1, 10, 5),
            ),
            // every day at 02:00
            (
                rec(&[(Unit::Hour, 2), (Unit::Minute, 0)], Some(Unit::Day), 1),
                ts(2024, 2, 28, 3, 0),
                ts(2024, 2, 29, 2, 0),
            ),
            // every month on the last day
            (
                rec(
                    &[(Unit::DayOfMonth, -1), (Unit::Hour, 0), (Unit::Minute, 0)],
                    Some(Unit::Month),
                    1,
                ),
                ts(2024, 1, 31, 1, 0),
                ts(2024, 2, 29, 0, 0),
            ),
            (
                rec(
                    &[(Unit::DayOfMonth, -1), (Unit::Hour, 0), (Unit::Minute, 0)],
                    Some(Unit::Month),
                    1,
                ),
                ts(2023, 1, 31, 1, 0),
                ts(2023, 2, 28, 0, 0),
            ),
            // every 15 minutes
            (
                rec(&[], Some(Unit::Minute), 15),
                ts(2024, 12, 31, 23, 50),
                ts(2025, 1, 1, 0, 5),
            ),
            // yearly on Feb 1 at 00:00
            (
                rec(
                    &[
                        (Unit::Month, 2),
                        (Unit::DayOfMonth, 1),
                        (Unit::Hour, 0),
                        (Unit::Minute, 0),
                    ],
                    Some(Unit::Year),
                    1,
                ),
                ts(2024, 3, 1, 0, 0),
                ts(2025, 2, 1, 0, 0),
            ),
            // one-shot fixed time
            (
                rec(
                    &[
                        (Unit::Year, 2030),
                        (Unit::Month, 6),
                        (Unit::DayOfMonth, 15),
                        (Unit::Hour, 12),
                        (Unit::Minute, 30),
                    ],
                    None,
                    1,
                ),
                ts(2024, 1, 1, 0, 0),
                ts(2030, 6, 15, 12, 30),
            ),
            // weekly on wednesday (2024-03-06 is a wednesday)
            (
                rec(
                    &[(Unit::Hour, 9), (Unit::Minute, 0)],
                    Some(Unit::DayOfWeek),
                    2,
                ),
                ts(2024, 3, 4, 12, 0),
                ts(2024, 3, 6, 9, 0),
            ),
            // fixed hour only, no increment: the next day
            (
                rec(&[(Unit::Hour, 3)], None, 1),
                ts(2024, 3, 4, 12, 0),
                ts(2024, 3, 5, 3, 0),
            ),
        ];
        for (i, (rec, from, want)) in cases.iter().enumerate() {
            let got = rec.nexttime(*from);
            assert_eq!(got, *want, "case {i}: {:?} got {:?}", rec, Dt::from_ts(got));
        }
        // a fixed year already past
        let past = rec(
            &[
                (Unit::Year, 2001),
                (Unit::Month, 1),
                (Unit::DayOfMonth, 1),
                (Unit::Hour, 0),
                (Unit::Minute, 0),
            ],
            None,
            1,
        );
        assert_eq!(past.nexttime(ts(2024, 1, 1, 0, 0)), 0.0);
    }

    #[test]
    fn fraction_of_second_is_kept() {
        let rec = rec(&[(Unit::Minute, 5)], Some(Unit::Hour), 1);
        let from = ts(2024, 3, 1, 10, 30) + 12.5;
        assert_eq!(rec.nexttime(from), ts(2024, 3, 1, 11, 5) + 0.5);
    }

    #[test]
    fn rec_checks() {
        assert!(ApptRec::new(&[], None, 1).is_err());
        assert!(ApptRec::new(&[(Unit::Hour, 24)], Some(Unit::Day), 1).is_err());
        assert!(ApptRec::new(&[(Unit::Day, 1)], None, 1).is_err());
        assert!(ApptRec::new(&[(Unit::Month, 2)], Some(Unit::Hour), 1).is_err());
        assert!(ApptRec::new(&[(Unit::DayOfWeek, 2)], Some(Unit::Day), 1).is_err());
        assert!(ApptRec::new(&[], Some(Unit::Minute), 0).is_err());
        let ok = ApptRec::new(&[(Unit::Minute, 0), (Unit::Hour, 1)], Some(Unit::Day), 1).unwrap();
        // stored largest unit first
        assert_eq!(ok.reqdict, vec![(Unit::Hour, 1), (Unit::Minute, 0)]);
        assert_eq!(ApptRec::unpack(&ok.pack()).unwrap(), ok);
    }

    #[test]
    fn one_shot_records_run_once_each() {
        let now = ts(2024, 1, 1, 0, 0);
        let reqs = vec![vec![
            (Unit::Year, vec![2024]),
            (Unit::Month, vec![1]),
            (Unit::DayOfMonth, vec![1]),
            (Unit::Hour, vec![0]),
            (Unit::Minute, vec![10, 20]),
        ]];
        let (recs, nexttime, recur) = period_recs(&reqs, None, &[], now).unwrap();
        assert_eq!(recs.len(), 2);
        assert!(!recur);
        assert!(nexttime.is_none());
        let mut appt = Appt::unpack(
            &Appt {
                iden: "a".repeat(32),
                recur,
                indx: 0,
                query: "".into(),
                creator: "b".into(),
                recs,
                recidx: None,
                nexttime: Some(now),
                view: None,
                created: None,
                pool: false,
                affinity: None,
                loglevel: "WARNING".into(),
                doc: String::new(),
                name: String::new(),
                isrunning: false,
                startcount: 0,
                errcount: 0,
                lasterrs: Vec::new(),
                laststarttime: None,
                lastfinishtime: None,
                lastresult: None,
                enabled: true,
            }
            .pack(),
        )
        .unwrap();
        assert_eq!(appt.update_nexttime(now), Some(ts(2024, 1, 1, 0, 10)));
        assert_eq!(
            appt.update_nexttime(ts(2024, 1, 1, 0, 10)),
            Some(ts(2024, 1, 1, 0, 20))
        );
        assert_eq!(appt.update_nexttime(ts(2024, 1, 1, 0, 20)), None);
        // `now`: runs once, no records
        let (recs, nexttime, _) =
            period_recs(&[vec![(Unit::Now, vec![1])]], None, &[], now).unwrap();
        assert!(recs.is_empty());
        assert_eq!(nexttime, Some(now));
        assert!(period_recs(&[vec![(Unit::Now, vec![1])]], Some(Unit::Day), &[1], now).is_err());
    }
}
