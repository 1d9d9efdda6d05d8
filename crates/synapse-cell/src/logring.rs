//! The process's recent log records, for the CellApi `logs()` and `watch()` methods.
//!
//! The binary's log subscriber hands each event to [`log_record`]; the last
//! [`LOG_QUEUE_SIZE`] records are kept in the reference's shape
//! (`{"message", "logger": {"name", "func", "process", "thread"}, "level", "time", ...}`).

use std::collections::VecDeque;
use std::sync::{Mutex, OnceLock};

use rmpv::Value;
use tokio::sync::broadcast;

use crate::value::map;

/// How many records are kept (the reference's `LOG_QUEUE_SIZE`).
pub const LOG_QUEUE_SIZE: usize = 1000;

struct Ring {
    recent: Mutex<VecDeque<Value>>,
    tx: broadcast::Sender<Value>,
}

fn ring() -> &'static Ring {
    static RING: OnceLock<Ring> = OnceLock::new();
    RING.get_or_init(|| Ring {
        recent: Mutex::new(VecDeque::with_capacity(LOG_QUEUE_SIZE)),
        tx: broadcast::channel(10_000).0,
    })
}

/// The reference's log time: `YYYY-MM-DD HH:MM:SS,mmm` (UTC).
pub(crate) fn log_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02},{millis:03}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Record one log event. `level` is the reference's name (`DEBUG`, `INFO`, `WARNING`,
/// `ERROR`); `name` the logger (module path); `extra` more keys (structured fields).
pub fn log_record(level: &str, name: &str, func: &str, message: &str, extra: Vec<(String, Value)>) {
    let thread = std::thread::current();
    let mut record = map([
        ("message", Value::from(message)),
        (
            "logger",
            map([
                ("name", Value::from(name)),
                ("func", Value::from(func)),
                ("process", Value::from("MainProcess")),
                ("thread", Value::from(thread.name().unwrap_or("MainThread"))),
            ]),
        ),
        ("level", Value::from(level)),
        ("time", Value::from(log_time(synapse_base::now_ms()))),
    ]);
    if let Value::Map(items) = &mut record {
        for (key, valu) in extra {
            items.push((Value::from(key), valu));
        }
    }
    let ring = ring();
    {
        let mut recent = ring.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == LOG_QUEUE_SIZE {
            recent.pop_front();
        }
        recent.push_back(record.clone());
    }
    // Nobody watching is fine.
    let _ = ring.tx.send(record);
}

/// The last `last` records, oldest first.
pub fn recent_logs(last: usize) -> Vec<Value> {
    let recent = ring().recent.lock().unwrap_or_else(|e| e.into_inner());
    let skip = recent.len().saturating_sub(last);
    recent.iter().skip(skip).cloned().collect()
}

/// The last `last` records and a receiver of the ones that follow (no gap, no duplicate).
pub(crate) fn watch_logs(last: usize) -> (Vec<Value>, broadcast::Receiver<Value>) {
    let ring = ring();
    let recent = ring.recent.lock().unwrap_or_else(|e| e.into_inner());
    let rx = ring.tx.subscribe();
    let skip = recent.len().saturating_sub(last);
    (recent.iter().skip(skip).cloned().collect(), rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_like_python_logging() {
        assert_eq!(log_time(0), "1970-01-01 00:00:00,000");
        assert_eq!(log_time(1_795_618_196_514), "2026-11-25 14:49:56,514");
    }

    #[tokio::test]
    async fn records_are_kept_and_watched() {
        let marker = synapse_base::guid();
        let (_, mut rx) = watch_logs(0);
        log_record(
            "WARNING",
            "synapse.test",
            "f",
            &marker,
            vec![("k".into(), Value::from(1))],
        );
        let seen = loop {
            let rec = rx.recv().await.unwrap();
            if crate::value::map_get(&rec, "message").and_then(Value::as_str) == Some(&marker) {
                break rec;
            }
        };
        assert_eq!(
            crate::value::map_get(&seen, "level"),
            Some(&Value::from("WARNING"))
        );
        assert_eq!(crate::value::map_get(&seen, "k"), Some(&Value::from(1)));
        assert!(recent_logs(LOG_QUEUE_SIZE).contains(&seen));
        assert!(recent_logs(1).len() <= 1);
    }
}
