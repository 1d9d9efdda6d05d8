//! Scans: what to iterate ([`Scan`]) and the cursor iterator over a transaction ([`Iter`]).

use lmdb::{Cursor, RoCursor};
use lmdb_sys as ffi;

use crate::error::Result;
use crate::txn::{Item, cursor_op};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Full,
    Prefix(Vec<u8>),
    Range {
        min: Option<Vec<u8>>,
        max: Option<Vec<u8>>,
    },
    Dups(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Start {
    Default,
    At(Vec<u8>, Option<Vec<u8>>),
    After(Vec<u8>, Option<Vec<u8>>),
}

/// What a scan visits, in which direction, and from where. Build one with a constructor, then
/// adjust it with the chaining methods.
///
/// The ranges keep the reference's semantics:
///
/// * [`Scan::prefix`]: keys starting with the prefix;
/// * [`Scan::range`]: forward from the first key `>= min`, stopping after keys whose first
///   `max.len()` bytes exceed `max` (so keys that *start with* `max` are included);
/// * [`Scan::range_back`]: backward from `max` if it exists exactly, else from the greatest
///   key `< max` (keys that merely start with `max` are excluded), stopping before keys
///   `< min` (full-key comparison);
/// * [`Scan::dups`]: the values of one key.
///
/// Every scan can resume after an item it already yielded ([`Scan::after`]): this is how
/// [`crate::Slab::scan`] streams in batches without holding a transaction open, and it never
/// re-yields or skips rows when rows are deleted or added between batches (rows added ahead of
/// the position are seen, rows added behind are not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    kind: Kind,
    back: bool,
    nodup: bool,
    start: Start,
}

impl Scan {
    fn new(kind: Kind) -> Self {
        Self {
            kind,
            back: false,
            nodup: false,
            start: Start::Default,
        }
    }

    /// Every row.
    pub fn full() -> Self {
        Self::new(Kind::Full)
    }

    /// Rows whose key starts with `prefix`.
    pub fn prefix(prefix: &[u8]) -> Self {
        Self::new(Kind::Prefix(prefix.to_vec()))
    }

    /// Forward from `min`, up to keys whose first `max.len()` bytes equal `max`.
    pub fn range(min: &[u8], max: Option<&[u8]>) -> Self {
        Self::new(Kind::Range {
            min: Some(min.to_vec()),
            max: max.map(<[u8]>::to_vec),
        })
    }

    /// Backward from `max` (or the end) down to `min` (inclusive), as the reference's
    /// `scanByRangeBack(lmax, lmin)`.
    pub fn range_back(max: Option<&[u8]>, min: Option<&[u8]>) -> Self {
        Self {
            back: true,
            ..Self::new(Kind::Range {
                min: min.map(<[u8]>::to_vec),
                max: max.map(<[u8]>::to_vec),
            })
        }
    }

    /// The values of `key` (one row for a non-dupsort database).
    pub fn dups(key: &[u8]) -> Self {
        Self::new(Kind::Dups(key.to_vec()))
    }

    /// Reverse the direction. A backward [`Scan::range`] follows the reference's backward
    /// semantics (see [`Scan::range_back`]).
    pub fn back(mut self) -> Self {
        self.back = !self.back;
        self
    }

    /// Yield each key once, skipping the extra values of dupsort keys (the value yielded is the
    /// key's first value going forward, its last going backward).
    pub fn nodup(mut self) -> Self {
        self.nodup = true;
        self
    }

    /// Start at `key` (inclusive; and for dupsort databases at value `val` of that exact key),
    /// as the reference's `scanByPref(startkey=, startvalu=)` with the prefix included in
    /// `key`.
    pub fn start_at(mut self, key: &[u8], val: Option<&[u8]>) -> Self {
        self.start = Start::At(key.to_vec(), val.map(<[u8]>::to_vec));
        self
    }

    /// Resume after the row `(key, val)` (the value matters only for dupsort databases).
    pub fn after(mut self, key: &[u8], val: &[u8]) -> Self {
        self.start = Start::After(key.to_vec(), Some(val.to_vec()));
        self
    }

    /// Resume after every row of `key`.
    pub fn after_key(mut self, key: &[u8]) -> Self {
        self.start = Start::After(key.to_vec(), None);
        self
    }

    /// True for a backward scan.
    pub fn is_back(&self) -> bool {
        self.back
    }

    /// True if each key is yielded once.
    pub fn is_nodup(&self) -> bool {
        self.nodup
    }

    fn in_bounds(&self, key: &[u8]) -> bool {
        match &self.kind {
            Kind::Full => true,
            Kind::Prefix(prefix) => key.starts_with(prefix),
            Kind::Dups(want) => key == want.as_slice(),
            Kind::Range { min, max } => {
                if self.back {
                    min.as_deref().is_none_or(|min| key >= min)
                } else {
                    max.as_deref()
                        .is_none_or(|max| &key[..key.len().min(max.len())] <= max)
                }
            }
        }
    }
}

/// The smallest byte string greater than every string starting with `prefix` (trailing `0xff`
/// bytes dropped, then the last byte incremented); `None` when `prefix` is empty or all
/// `0xff`.
///
/// The reference seeks to `int(prefix) + 1` at the same length instead, which misses rows
/// when a shorter key sorts between (prefix `fe ff` with a key `ff`).
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut next = prefix.to_vec();
    while let Some(last) = next.pop() {
        if last != 0xff {
            next.push(last + 1);
            return Some(next);
        }
    }
    None
}

/// An iterator over rows of a transaction, made by [`crate::Txn::scan`].
pub struct Iter<'t> {
    cursor: RoCursor<'t>,
    scan: Scan,
    dupsort: bool,
    started: bool,
    done: bool,
    step: ffi::MDB_cursor_op,
}

impl std::fmt::Debug for Iter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iter")
            .field("scan", &self.scan)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<'t> Iter<'t> {
    pub(crate) fn new(cursor: RoCursor<'t>, scan: Scan, dupsort: bool) -> Self {
        let mut iter = Self {
            cursor,
            scan,
            dupsort,
            started: false,
            done: false,
            step: ffi::MDB_NEXT,
        };
        iter.step = iter.step_op();
        iter
    }

    fn op(
        &self,
        key: Option<&[u8]>,
        val: Option<&[u8]>,
        op: ffi::MDB_cursor_op,
    ) -> Result<Item<'t>> {
        cursor_op(&self.cursor, key, val, op)
    }

    fn step_op(&self) -> ffi::MDB_cursor_op {
        let dups_only = self.dupsort && matches!(self.scan.kind, Kind::Dups(_));
        match (self.scan.back, dups_only, self.scan.nodup) {
            (false, true, _) => ffi::MDB_NEXT_DUP,
            (true, true, _) => ffi::MDB_PREV_DUP,
            (false, false, true) => ffi::MDB_NEXT_NODUP,
            (false, false, false) => ffi::MDB_NEXT,
            (true, false, true) => ffi::MDB_PREV_NODUP,
            (true, false, false) => ffi::MDB_PREV,
        }
    }

    /// Seek with `MDB_SET_RANGE`; an empty key means the first row.
    fn set_range(&self, key: &[u8]) -> Result<Item<'t>> {
        if key.is_empty() {
            return self.op(None, None, ffi::MDB_FIRST);
        }
        self.op(Some(key), None, ffi::MDB_SET_RANGE)
    }

    fn last(&self) -> Result<Item<'t>> {
        self.op(None, None, ffi::MDB_LAST)
    }

    /// Move to the last value of the current key (dupsort databases).
    fn last_dup(&self, item: Item<'t>) -> Result<Item<'t>> {
        match item {
            Some(_) if self.dupsort => self.op(None, None, ffi::MDB_LAST_DUP),
            other => Ok(other),
        }
    }

    /// Forward: the first row after every row of `key`.
    fn after_key(&self, key: &[u8]) -> Result<Item<'t>> {
        match self.set_range(key)? {
            Some((found, _)) if found == key => self.op(None, None, ffi::MDB_NEXT_NODUP),
            other => Ok(other),
        }
    }

    /// Backward: the greatest row before every row of `key`.
    fn before_key(&self, key: &[u8]) -> Result<Item<'t>> {
        if key.is_empty() {
            return Ok(None);
        }
        match self.op(Some(key), None, ffi::MDB_SET_RANGE)? {
            None => self.last(),
            Some(_) => self.op(None, None, ffi::MDB_PREV),
        }
    }

    /// Backward start at `key` if it exists exactly (at its last value), else at the greatest
    /// row before it: the reference's `ScanBack.set_range`.
    fn back_from(&self, key: &[u8]) -> Result<Item<'t>> {
        if key.is_empty() {
            return self.last();
        }
        match self.op(Some(key), None, ffi::MDB_SET_RANGE)? {
            None => self.last(),
            Some((found, val)) if found == key => self.last_dup(Some((found, val))),
            Some(_) => self.op(None, None, ffi::MDB_PREV),
        }
    }

    /// Position just after, in scan order, the row `(key, val)` (or every row of `key`).
    fn resume(&self, key: &[u8], val: Option<&[u8]>) -> Result<Item<'t>> {
        let pair = match val {
            Some(val) if self.dupsort && !self.scan.nodup && !key.is_empty() => Some(val),
            _ => None,
        };
        if pair.is_some_and(<[u8]>::is_empty) {
            // Every value sorts after the empty one: resume at the key's first value.
            return if self.scan.back {
                self.before_key(key)
            } else {
                self.set_range(key)
            };
        }
        let Some(val) = pair else {
            return if self.scan.back {
                self.before_key(key)
            } else {
                self.after_key(key)
            };
        };
        let found = self.op(Some(key), Some(val), ffi::MDB_GET_BOTH_RANGE)?;
        if !self.scan.back {
            return match found {
                Some((_, data)) if data == val => self.op(None, None, ffi::MDB_NEXT),
                Some(item) => Ok(Some(item)),
                None => self.after_key(key),
            };
        }
        if found.is_some() {
            return self.op(None, None, ffi::MDB_PREV);
        }
        match self.op(Some(key), None, ffi::MDB_SET_RANGE)? {
            None => self.last(),
            Some((found, data)) if found == key => self.last_dup(Some((found, data))),
            Some(_) => self.op(None, None, ffi::MDB_PREV),
        }
    }

    fn first(&self) -> Result<Item<'t>> {
        let scan = &self.scan;
        match &scan.start {
            Start::After(key, val) => return self.resume(key, val.as_deref()),
            Start::At(key, _) if scan.back => return self.back_from(key),
            Start::At(key, Some(val)) if self.dupsort && !key.is_empty() && !val.is_empty() => {
                return match self.op(Some(key), Some(val), ffi::MDB_GET_BOTH_RANGE)? {
                    Some(item) => Ok(Some(item)),
                    None => self.after_key(key),
                };
            }
            Start::At(key, _) => return self.set_range(key),
            Start::Default => {}
        }
        match (&scan.kind, scan.back) {
            (Kind::Full, false) => self.op(None, None, ffi::MDB_FIRST),
            (Kind::Full, true) => self.last(),
            (Kind::Prefix(prefix), false) => self.set_range(prefix),
            (Kind::Prefix(prefix), true) => match prefix_successor(prefix) {
                None => self.last(),
                Some(next) => self.before_key(&next),
            },
            (Kind::Range { min, .. }, false) => self.set_range(min.as_deref().unwrap_or_default()),
            (Kind::Range { max, .. }, true) => match max {
                None => self.last(),
                Some(max) => self.back_from(max),
            },
            (Kind::Dups(key), _) if key.is_empty() => Ok(None),
            (Kind::Dups(key), false) => self.op(Some(key), None, ffi::MDB_SET_KEY),
            (Kind::Dups(key), true) => {
                let item = self.op(Some(key), None, ffi::MDB_SET_KEY)?;
                self.last_dup(item)
            }
        }
    }

    /// The first positioning, kept out of line so that the per-row step stays small.
    #[cold]
    #[inline(never)]
    fn start(&mut self) -> Result<Item<'t>> {
        self.started = true;
        self.first()
    }

    #[inline]
    fn advance(&mut self) -> Result<Item<'t>> {
        if !self.started {
            return self.start();
        }
        // The steady state: one cursor step, which always returns the key.
        match self.cursor.get(None, None, self.step) {
            Ok((Some(key), val)) => Ok(Some((key, val))),
            Ok((None, _)) => self.op(None, None, ffi::MDB_GET_CURRENT),
            Err(lmdb::Error::NotFound) => Ok(None),
            Err(err) => Err(crate::error::lmdb(err)),
        }
    }
}

impl<'t> Iterator for Iter<'t> {
    type Item = Result<(&'t [u8], &'t [u8])>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.advance() {
            Ok(Some((key, val)))
                if matches!(self.scan.kind, Kind::Full) || self.scan.in_bounds(key) =>
            {
                Some(Ok((key, val)))
            }
            Ok(_) => {
                self.done = true;
                None
            }
            Err(err) => {
                self.done = true;
                Some(Err(err))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_carries() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xff, 0xff]), None);
        assert_eq!(prefix_successor(b""), None);
    }

    #[test]
    fn range_bounds_follow_the_reference() {
        let fwd = Scan::range(b"a2", Some(b"b"));
        assert!(fwd.in_bounds(b"b1"));
        assert!(fwd.in_bounds(b"b"));
        assert!(!fwd.in_bounds(b"c"));
        let back = Scan::range_back(Some(b"b"), Some(b"a2"));
        assert!(back.in_bounds(b"a2"));
        assert!(!back.in_bounds(b"a1"));
    }
}
