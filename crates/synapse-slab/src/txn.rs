//! [`Txn`]: the view of a slab that closures run on the slab thread receive.

use lmdb::{Cursor, Database, RoCursor, Transaction, WriteFlags};
use lmdb_sys as ffi;

use crate::error::{Error, Result, lmdb as lmdb_err};
use crate::scan::{Iter, Scan};

/// The longest key LMDB stores (its compiled `MDB_MAXKEYSIZE`), as the reference's
/// `MAX_MDB_KEYLEN`.
pub const MAX_KEY_LEN: usize = 511;

/// A handle on one named database of one slab, made by [`crate::Slab::initdb`].
///
/// It is a small `Copy` value: keep it in your structures and pass it to every call. Using it
/// with another slab fails with [`Error::BadArg`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Db {
    pub(crate) dbi: Database,
    pub(crate) dupsort: bool,
    pub(crate) slab: u64,
}

impl Db {
    /// True if the database keeps several values per key.
    pub fn is_dupsort(&self) -> bool {
        self.dupsort
    }
}

/// How to create a named database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbOptions {
    /// Several values per key, kept sorted (`MDB_DUPSORT`).
    pub dupsort: bool,
    /// Keys are native-endian machine integers (`MDB_INTEGERKEY`; the reference never uses it).
    pub integerkey: bool,
    /// All values of a dupsort database have the same size (`MDB_DUPFIXED`).
    pub dupfixed: bool,
}

impl DbOptions {
    /// Options for a dupsort database.
    pub fn dupsort() -> Self {
        Self {
            dupsort: true,
            ..Self::default()
        }
    }
}

/// How [`Txn::put_with`] writes, as the reference's `put` keyword arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutOptions {
    /// Replace an existing value (ignored for dupsort databases, which add a value). When
    /// false, a put of an existing key does nothing and returns false.
    pub overwrite: bool,
    /// For dupsort databases: when false, putting an existing key/value pair returns false
    /// (it never writes twice either way).
    pub dupdata: bool,
    /// Append: the key (or, for dupsort, key and value) must sort after every existing one,
    /// else nothing is written and false is returned. Much faster for ordered loads.
    pub append: bool,
}

impl Default for PutOptions {
    fn default() -> Self {
        Self {
            overwrite: true,
            dupdata: false,
            append: false,
        }
    }
}

impl PutOptions {
    /// Append mode.
    pub fn append() -> Self {
        Self {
            append: true,
            ..Self::default()
        }
    }

    /// Add-only mode: never replace an existing value.
    pub fn no_overwrite() -> Self {
        Self {
            overwrite: false,
            ..Self::default()
        }
    }

    pub(crate) fn flags(self, dupsort: bool) -> WriteFlags {
        let mut flags = WriteFlags::empty();
        if !self.overwrite {
            flags |= WriteFlags::NO_OVERWRITE;
        }
        if dupsort && !self.dupdata {
            flags |= WriteFlags::NO_DUP_DATA;
        }
        if self.append {
            flags |= if dupsort {
                WriteFlags::APPEND_DUP
            } else {
                WriteFlags::APPEND
            };
        }
        flags
    }
}

/// Statistics of one database, as LMDB's `stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DbStat {
    /// Page size.
    pub psize: u32,
    /// B-tree depth.
    pub depth: u32,
    /// Branch pages.
    pub branch_pages: usize,
    /// Leaf pages.
    pub leaf_pages: usize,
    /// Overflow pages.
    pub overflow_pages: usize,
    /// Number of rows (every value of a dupsort key counts).
    pub entries: usize,
}

/// Read access to an LMDB transaction (the write transaction or a read-only one).
pub(crate) trait RawRead {
    fn raw_get(&self, db: Database, key: &[u8]) -> lmdb::Result<&[u8]>;
    fn raw_cursor(&self, db: Database) -> lmdb::Result<RoCursor<'_>>;
    fn raw_stat(&self, db: Database) -> lmdb::Result<lmdb::Stat>;
}

impl<T: Transaction> RawRead for T {
    fn raw_get(&self, db: Database, key: &[u8]) -> lmdb::Result<&[u8]> {
        self.get(db, &key)
    }

    fn raw_cursor(&self, db: Database) -> lmdb::Result<RoCursor<'_>> {
        self.open_ro_cursor(db)
    }

    fn raw_stat(&self, db: Database) -> lmdb::Result<lmdb::Stat> {
        self.stat(db)
    }
}

/// Write access: implemented by the slab thread's writer, which logs each operation and grows
/// the map (replaying the log) when it fills.
pub(crate) trait RawWrite: RawRead {
    /// Put; `Ok(false)` when LMDB refused with "key exists" (the flags asked for that).
    fn raw_put(&mut self, db: Database, key: &[u8], val: &[u8], flags: WriteFlags) -> Result<bool>;
    /// Put every row in order through one cursor (fast for appends); stops at the first row
    /// LMDB refuses with "key exists" and returns how many were stored.
    fn raw_put_many(
        &mut self,
        db: Database,
        rows: &[(&[u8], &[u8])],
        flags: WriteFlags,
    ) -> Result<usize>;
    /// Delete a key (all its values) or one value; `Ok(false)` when absent.
    fn raw_del(&mut self, db: Database, key: &[u8], val: Option<&[u8]>) -> Result<bool>;
    /// Empty a database.
    fn raw_clear(&mut self, db: Database) -> Result<()>;
    /// The largest value accepted.
    fn max_value_size(&self) -> usize;
}

enum Raw<'a> {
    Read(&'a (dyn RawRead + 'a)),
    Write(&'a mut (dyn RawWrite + 'a)),
}

/// A transaction on a slab, lent to a closure that runs on the slab's thread.
///
/// Reads take `&self` and return slices that borrow the transaction; writes take `&mut self`.
/// In [`crate::Slab::write`] closures the transaction is the slab's pending write batch, so
/// reads see every earlier write, committed or not. Keys are limited to [`MAX_KEY_LEN`] bytes.
pub struct Txn<'a> {
    raw: Raw<'a>,
    slab: u64,
    generation: u64,
}

impl std::fmt::Debug for Txn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Txn")
            .field("write", &matches!(self.raw, Raw::Write(_)))
            .finish_non_exhaustive()
    }
}

/// Result of a cursor step: `None` at the end.
pub(crate) type Item<'t> = Option<(&'t [u8], &'t [u8])>;

/// One cursor operation, mapping "not found" to `None` and filling in the key when LMDB leaves
/// the caller's key in place.
pub(crate) fn cursor_op<'t>(
    cursor: &RoCursor<'t>,
    key: Option<&[u8]>,
    val: Option<&[u8]>,
    op: ffi::MDB_cursor_op,
) -> Result<Item<'t>> {
    match cursor.get(key, val, op) {
        Ok((Some(found), data)) => Ok(Some((found, data))),
        Ok((None, _)) => match cursor.get(None, None, ffi::MDB_GET_CURRENT) {
            Ok((Some(found), data)) => Ok(Some((found, data))),
            Ok((None, _)) => Err(Error::Lmdb("cursor returned no key".into())),
            Err(lmdb::Error::NotFound) => Ok(None),
            Err(err) => Err(lmdb_err(err)),
        },
        Err(lmdb::Error::NotFound) => Ok(None),
        Err(err) => Err(lmdb_err(err)),
    }
}

fn check_key(key: &[u8]) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(Error::BadKeySize {
            len: key.len(),
            max: MAX_KEY_LEN,
        });
    }
    Ok(())
}

fn key_can_exist(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN
}

impl<'a> Txn<'a> {
    pub(crate) fn read(raw: &'a (dyn RawRead + 'a), slab: u64, generation: u64) -> Self {
        Self {
            raw: Raw::Read(raw),
            slab,
            generation,
        }
    }

    pub(crate) fn write(raw: &'a mut (dyn RawWrite + 'a), slab: u64, generation: u64) -> Self {
        Self {
            raw: Raw::Write(raw),
            slab,
            generation,
        }
    }

    /// The slab's write generation when this transaction was lent out.
    pub(crate) fn write_gen(&self) -> u64 {
        self.generation
    }

    fn reader(&self) -> &dyn RawRead {
        match &self.raw {
            Raw::Read(raw) => *raw,
            Raw::Write(raw) => &**raw,
        }
    }

    fn writer(&mut self) -> Result<&mut (dyn RawWrite + 'a)> {
        match &mut self.raw {
            Raw::Read(_) => Err(Error::ReadOnly),
            Raw::Write(raw) => Ok(&mut **raw),
        }
    }

    fn check(&self, db: Db) -> Result<()> {
        if db.slab != self.slab {
            return Err(Error::BadArg(
                "database handle belongs to another slab".into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn cursor(&self, db: Db) -> Result<RoCursor<'_>> {
        self.check(db)?;
        self.reader().raw_cursor(db.dbi).map_err(lmdb_err)
    }

    // ----- reads -----

    /// The value of `key` (the first value for a dupsort database), or `None`.
    pub fn get(&self, db: Db, key: &[u8]) -> Result<Option<&[u8]>> {
        self.check(db)?;
        if !key_can_exist(key) {
            return Ok(None);
        }
        match self.reader().raw_get(db.dbi, key) {
            Ok(val) => Ok(Some(val)),
            Err(lmdb::Error::NotFound) => Ok(None),
            Err(err) => Err(lmdb_err(err)),
        }
    }

    /// True if `key` exists.
    pub fn has(&self, db: Db, key: &[u8]) -> Result<bool> {
        Ok(self.get(db, key)?.is_some())
    }

    /// True if the key/value pair exists (for dupsort databases; for others, if the key holds
    /// exactly that value).
    pub fn has_dup(&self, db: Db, key: &[u8], val: &[u8]) -> Result<bool> {
        if !db.dupsort {
            return Ok(self.get(db, key)? == Some(val));
        }
        if !key_can_exist(key) || !key_can_exist(val) {
            return Ok(false);
        }
        let cursor = self.cursor(db)?;
        Ok(cursor_op(&cursor, Some(key), Some(val), ffi::MDB_GET_BOTH)?.is_some())
    }

    /// The number of values of `key`: 0 when absent, 1 for a non-dupsort database.
    pub fn count(&self, db: Db, key: &[u8]) -> Result<usize> {
        if !db.dupsort {
            return Ok(usize::from(self.has(db, key)?));
        }
        let mut count = 0;
        for item in self.scan(db, Scan::dups(key))? {
            item?;
            count += 1;
        }
        Ok(count)
    }

    /// The number of rows (every dupsort value counts) whose key starts with `prefix`,
    /// stopping at `max` if given.
    pub fn count_prefix(&self, db: Db, prefix: &[u8], max: Option<usize>) -> Result<usize> {
        let mut count = 0;
        for item in self.scan(db, Scan::prefix(prefix))? {
            item?;
            count += 1;
            if max == Some(count) {
                break;
            }
        }
        Ok(count)
    }

    /// True if some key starts with `prefix`.
    pub fn prefix_exists(&self, db: Db, prefix: &[u8]) -> Result<bool> {
        Ok(self
            .scan(db, Scan::prefix(prefix))?
            .next()
            .transpose()?
            .is_some())
    }

    /// True if some key lies in the (prefix-inclusive) range, as the reference's
    /// `rangeexists`.
    pub fn range_exists(&self, db: Db, min: &[u8], max: Option<&[u8]>) -> Result<bool> {
        Ok(self
            .scan(db, Scan::range(min, max))?
            .next()
            .transpose()?
            .is_some())
    }

    /// The first row whose key is at least `key` (for dupsort, its first value), if any.
    pub fn seek(&self, db: Db, key: &[u8]) -> Result<Option<(&[u8], &[u8])>> {
        self.check(db)?;
        if !key_can_exist(key) {
            return Ok(None);
        }
        let cursor = self.cursor(db)?;
        cursor_op(&cursor, Some(key), None, ffi::MDB_SET_RANGE)
    }

    /// The first key, if any.
    pub fn first_key(&self, db: Db) -> Result<Option<&[u8]>> {
        let cursor = self.cursor(db)?;
        Ok(cursor_op(&cursor, None, None, ffi::MDB_FIRST)?.map(|(key, _)| key))
    }

    /// The last key, if any.
    pub fn last_key(&self, db: Db) -> Result<Option<&[u8]>> {
        Ok(self.last(db)?.map(|(key, _)| key))
    }

    /// The last row (for dupsort, the last value of the last key), if any.
    pub fn last(&self, db: Db) -> Result<Option<(&[u8], &[u8])>> {
        let cursor = self.cursor(db)?;
        cursor_op(&cursor, None, None, ffi::MDB_LAST)
    }

    /// The database's statistics.
    pub fn stat(&self, db: Db) -> Result<DbStat> {
        self.check(db)?;
        let stat = self.reader().raw_stat(db.dbi).map_err(lmdb_err)?;
        Ok(DbStat {
            psize: stat.page_size(),
            depth: stat.depth(),
            branch_pages: stat.branch_pages(),
            leaf_pages: stat.leaf_pages(),
            overflow_pages: stat.overflow_pages(),
            entries: stat.entries(),
        })
    }

    /// Iterate rows as `scan` describes (see [`Scan`]). Rows borrow the transaction.
    pub fn scan(&self, db: Db, scan: Scan) -> Result<Iter<'_>> {
        let cursor = self.cursor(db)?;
        Ok(Iter::new(cursor, scan, db.dupsort))
    }

    /// Keys under `prefix` at most `depth` separators deep (below the prefix), skipping deeper
    /// subtrees with seeks: the reference's `scanKeysByHierPref`. Returns up to `limit` keys
    /// (a dupsort key once per value unless `nodup`, never split across calls), starting after
    /// `after` if given.
    #[allow(clippy::too_many_arguments)]
    pub fn hier_keys(
        &self,
        db: Db,
        prefix: &[u8],
        sepr: u8,
        depth: usize,
        nodup: bool,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>> {
        if sepr == 0xff {
            return Err(Error::BadArg(format!(
                "Invalid sepr value {sepr:?} for scanKeysByHierPref, must be a single character < \\xff."
            )));
        }
        let cursor = self.cursor(db)?;
        let seek = |key: &[u8]| -> Result<Item<'_>> {
            if key.is_empty() {
                cursor_op(&cursor, None, None, ffi::MDB_FIRST)
            } else {
                cursor_op(&cursor, Some(key), None, ffi::MDB_SET_RANGE)
            }
        };
        let step = if nodup || !db.dupsort {
            ffi::MDB_NEXT_NODUP
        } else {
            ffi::MDB_NEXT
        };
        let mut item = match after {
            None => seek(prefix)?,
            Some(after) => match seek(after)? {
                Some((found, _)) if found == after => {
                    cursor_op(&cursor, None, None, ffi::MDB_NEXT_NODUP)?
                }
                other => other,
            },
        };
        let mut out: Vec<Vec<u8>> = Vec::new();
        while let Some((mut key, _)) = item {
            loop {
                if !key.starts_with(prefix) {
                    return Ok(out);
                }
                let tail = &key[prefix.len()..];
                // Where the (depth+1)-th separator is, if the key is that deep.
                let Some(cut) = tail
                    .iter()
                    .enumerate()
                    .filter(|(_, byte)| **byte == sepr)
                    .nth(depth)
                    .map(|(idx, _)| prefix.len() + idx)
                else {
                    break;
                };
                let mut next = key[..cut].to_vec();
                next.push(sepr + 1);
                match seek(&next)? {
                    Some((found, _)) => key = found,
                    None => return Ok(out),
                }
            }
            if out.len() >= limit && out.last().map(Vec::as_slice) != Some(key) {
                return Ok(out);
            }
            out.push(key.to_vec());
            item = cursor_op(&cursor, None, None, step)?;
        }
        Ok(out)
    }

    // ----- writes -----

    /// Put `val` at `key`, replacing (or, for dupsort databases, adding a value). Returns false
    /// only for a dupsort pair that already exists.
    pub fn put(&mut self, db: Db, key: &[u8], val: &[u8]) -> Result<bool> {
        self.put_with(db, key, val, PutOptions::default())
    }

    /// Put with explicit [`PutOptions`]; false when the options made LMDB refuse (existing key
    /// without overwrite, existing dupsort pair, out-of-order append).
    pub fn put_with(&mut self, db: Db, key: &[u8], val: &[u8], opts: PutOptions) -> Result<bool> {
        self.check(db)?;
        check_key(key)?;
        if db.dupsort && (val.is_empty() || val.len() > MAX_KEY_LEN) {
            return Err(Error::BadArg(format!(
                "values of a dupsort database must be 1 to {MAX_KEY_LEN} bytes, not {}",
                val.len()
            )));
        }
        let writer = self.writer()?;
        if val.len() > writer.max_value_size() {
            return Err(Error::ValueTooLarge {
                len: val.len(),
                max: writer.max_value_size(),
            });
        }
        writer.raw_put(db.dbi, key, val, opts.flags(db.dupsort))
    }

    /// [`Txn::put_with`] for many rows, in order, through one cursor: for appending a run of
    /// rows it skips the walk from the root that each single put makes. Stops at the first
    /// row that is not stored (e.g. with [`PutOptions::append`], a key not past the last) and
    /// returns how many were stored; everything is checked before anything is written.
    pub fn put_many(&mut self, db: Db, rows: &[(&[u8], &[u8])], opts: PutOptions) -> Result<usize> {
        self.check(db)?;
        let writer = self.writer()?;
        let max = writer.max_value_size();
        for (key, val) in rows {
            check_key(key)?;
            if db.dupsort && (val.is_empty() || val.len() > MAX_KEY_LEN) {
                return Err(Error::BadArg(format!(
                    "values of a dupsort database must be 1 to {MAX_KEY_LEN} bytes, not {}",
                    val.len()
                )));
            }
            if val.len() > max {
                return Err(Error::ValueTooLarge {
                    len: val.len(),
                    max,
                });
            }
        }
        writer.raw_put_many(db.dbi, rows, opts.flags(db.dupsort))
    }

    /// Put `val` at `key` and return the previous value (for dupsort databases, all previous
    /// values are removed and the first is returned).
    pub fn replace(&mut self, db: Db, key: &[u8], val: &[u8]) -> Result<Option<Vec<u8>>> {
        let old = self.get(db, key)?.map(<[u8]>::to_vec);
        if db.dupsort && old.is_some() {
            self.delete(db, key, None)?;
        }
        self.put(db, key, val)?;
        Ok(old)
    }

    /// Remove `key` (all its values) and return its (first) value.
    pub fn pop(&mut self, db: Db, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let old = self.get(db, key)?.map(<[u8]>::to_vec);
        if old.is_some() {
            self.delete(db, key, None)?;
        }
        Ok(old)
    }

    /// Remove `key` (all its values), or with `val`, just that value of a dupsort key. Returns
    /// false if nothing matched.
    pub fn delete(&mut self, db: Db, key: &[u8], val: Option<&[u8]>) -> Result<bool> {
        self.check(db)?;
        if !key_can_exist(key) {
            return Ok(false);
        }
        if let (Some(val), true) = (val, db.dupsort)
            && !key_can_exist(val)
        {
            return Ok(false);
        }
        if let (Some(val), false) = (val, db.dupsort) {
            // LMDB ignores the value for non-dupsort databases; the reference only deletes a
            // matching pair.
            if self.get(db, key)? != Some(val) {
                return Ok(false);
            }
        }
        self.writer()?.raw_del(db.dbi, key, val)
    }

    /// Put many rows; returns `(consumed, added)` as the reference's `putmulti`.
    pub fn put_multi<K, V, I>(
        &mut self,
        db: Db,
        rows: I,
        opts: PutOptions,
    ) -> Result<(usize, usize)>
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
        I: IntoIterator<Item = (K, V)>,
    {
        let (mut consumed, mut added) = (0, 0);
        for (key, val) in rows {
            consumed += 1;
            // With dupdata the reference reports a re-put identical pair as added.
            let wrote = self.put_with(db, key.as_ref(), val.as_ref(), opts)?;
            if wrote || (db.dupsort && opts.dupdata) {
                added += 1;
            }
        }
        Ok((consumed, added))
    }

    /// Remove every row of the database (the database stays).
    pub fn clear(&mut self, db: Db) -> Result<()> {
        self.check(db)?;
        self.writer()?.raw_clear(db.dbi)
    }
}
