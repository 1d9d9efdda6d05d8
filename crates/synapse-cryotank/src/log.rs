//! [`ItemLog`]: where a tank's records live, in one of two layouts.
//!
//! * **Rows** (the reference's layout, database `items`): one row per record, key = 8-byte
//!   big-endian offset, value = the record's msgpack. Tanks made by the reference have it, and
//!   keep it when we write to them, so the reference can still open them.
//! * **Chunks** (database `chunks`, for tanks we create): one row per run of consecutive
//!   records, key = the 8-byte big-endian offset of its first record, value = a [chunk](Chunk).
//!   A run holds at most [`crate::PUTS_CHUNK`] records and is closed at about [`CHUNK_BYTES`].
//!   LMDB's cost is mostly per row: writing a batch of 1000 small records as one row instead
//!   of 1000 is several times faster, and reading it back is faster too.
//!
//! Both layouts give the same offsets, records and results; only `list()`'s page counts
//! differ (`stat.entries` is the record count in both).

use synapse_slab::codec::{int64en, int64un};
use synapse_slab::{Db, DbOptions, DbStat, PutOptions, Scan, Slab, Txn};

use crate::error::{Error, Result};

/// The reference's database: one row per record.
const ROWS_DB: &str = "items";
/// Our database: one row per run of records.
const CHUNKS_DB: &str = "chunks";

/// A chunk is closed once its records reach this many bytes.
pub(crate) const CHUNK_BYTES: usize = 128 << 10;
/// The first byte of a chunk: its format.
const CHUNK_FORMAT: u8 = 1;
/// The bytes a chunk of one record adds to it: format byte, its end and the count.
const CHUNK_OVERHEAD: usize = 9;

/// How a tank's records are stored (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// One row per record (the reference's).
    Rows,
    /// One row per run of records (ours).
    Chunks,
}

/// A tank's record log: a database and its layout.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ItemLog {
    db: Db,
    layout: Layout,
}

impl ItemLog {
    /// Open the log of a tank's slab: the layout already there, or chunks for a new tank.
    /// A slab holding records in both layouts is refused rather than showing half of them.
    pub(crate) async fn open(slab: &Slab) -> Result<ItemLog> {
        let rows = slab.dbexists(ROWS_DB).await?;
        let chunks = slab.dbexists(CHUNKS_DB).await?;
        if rows && !chunks {
            let db = slab.initdb(ROWS_DB, DbOptions::default()).await?;
            return Ok(ItemLog {
                db,
                layout: Layout::Rows,
            });
        }
        let db = slab.initdb(CHUNKS_DB, DbOptions::default()).await?;
        if rows {
            let other = slab.initdb(ROWS_DB, DbOptions::default()).await?;
            let held = slab.read(move |txn| Ok::<_, Error>(txn.last(other)?.is_some()));
            if held.await? {
                return Err(Error::Corrupt {
                    offs: 0,
                    mesg: format!(
                        "the tank holds records in both the `{ROWS_DB}` and `{CHUNKS_DB}` databases"
                    ),
                });
            }
        }
        Ok(ItemLog {
            db,
            layout: Layout::Chunks,
        })
    }

    /// A log of one row per entry in `db`, as the reference's Seqn keeps it (a tank's
    /// metrics rows).
    pub(crate) fn rows(db: Db) -> ItemLog {
        ItemLog {
            db,
            layout: Layout::Rows,
        }
    }

    /// The layout in use.
    #[cfg(test)]
    pub(crate) fn layout(&self) -> Layout {
        self.layout
    }

    /// The largest record this log stores, given the slab's largest value.
    pub(crate) fn max_record(&self, max_value: usize) -> usize {
        match self.layout {
            Layout::Rows => max_value,
            Layout::Chunks => max_value.saturating_sub(CHUNK_OVERHEAD),
        }
    }

    /// The offset after the last record (0 when empty).
    pub(crate) fn next_offset(&self, txn: &Txn<'_>) -> Result<u64> {
        let Some((key, val)) = txn.last(self.db)? else {
            return Ok(0);
        };
        let offs = int64un(key)?;
        let count = match self.layout {
            Layout::Rows => 1,
            Layout::Chunks => Chunk::parse(offs, val)?.len() as u64,
        };
        Ok(offs.saturating_add(count))
    }

    /// Append records at offset `first`, which must be [`ItemLog::next_offset`]: record `i`
    /// is `buf[spans[i].0..spans[i].1]`. The caller has checked that the offsets fit.
    pub(crate) fn append(
        &self,
        txn: &mut Txn<'_>,
        first: u64,
        buf: &[u8],
        spans: &[(usize, usize)],
    ) -> Result<()> {
        let misplaced = |offs| Error::Corrupt {
            offs,
            mesg: "offset is not past the end of the log".into(),
        };
        match self.layout {
            Layout::Rows => {
                let keys: Vec<[u8; 8]> = (first..first.saturating_add(spans.len() as u64))
                    .map(int64en)
                    .collect();
                let rows: Vec<(&[u8], &[u8])> = keys
                    .iter()
                    .map(<[u8; 8]>::as_slice)
                    .zip(spans.iter().map(|&(start, end)| &buf[start..end]))
                    .collect();
                let stored = txn.put_many(self.db, &rows, PutOptions::append())?;
                if stored < rows.len() {
                    return Err(misplaced(first + stored as u64));
                }
            }
            Layout::Chunks => {
                let mut chunk = ChunkWriter::default();
                let mut offs = first;
                let mut rest = spans;
                while !rest.is_empty() {
                    let taken = chunk.push_run(buf, rest);
                    rest = &rest[taken..];
                    let count = chunk.len() as u64;
                    if !txn.put_with(
                        self.db,
                        &int64en(offs),
                        chunk.finish(),
                        PutOptions::append(),
                    )? {
                        return Err(misplaced(offs));
                    }
                    offs += count;
                }
            }
        }
        Ok(())
    }

    /// At most `max` records from `offs` (and about `max_bytes`, at least one), mapped by
    /// `func(offset, record)`.
    pub(crate) fn read<T>(
        &self,
        txn: &Txn<'_>,
        offs: u64,
        max: usize,
        max_bytes: usize,
        mut func: impl FnMut(u64, &[u8]) -> Result<T>,
    ) -> Result<Vec<(u64, T)>> {
        let mut out = Vec::with_capacity(max.min(1024));
        if max == 0 {
            return Ok(out);
        }
        let mut bytes = 0;
        let mut take = |offs: u64, record: &[u8]| -> Result<bool> {
            out.push((offs, func(offs, record)?));
            bytes += record.len();
            Ok(out.len() < max && bytes < max_bytes)
        };
        let from = int64en(offs);
        match self.layout {
            Layout::Rows => {
                for row in txn.scan(self.db, Scan::range(&from, None))? {
                    let (key, val) = row?;
                    if !take(int64un(key)?, val)? {
                        break;
                    }
                }
            }
            Layout::Chunks => {
                // Start at the chunk holding `offs`: the last one starting at or before it.
                let start = match txn
                    .scan(self.db, Scan::range_back(Some(&from), None))?
                    .next()
                {
                    Some(row) => row?.0.to_vec(),
                    None => from.to_vec(),
                };
                'chunks: for row in txn.scan(self.db, Scan::range(&start, None))? {
                    let (key, val) = row?;
                    let first = int64un(key)?;
                    let chunk = Chunk::parse(first, val)?;
                    let skip = usize::try_from(offs.saturating_sub(first)).unwrap_or(usize::MAX);
                    for indx in skip..chunk.len() {
                        let (offs, record) = chunk.get(indx)?;
                        if !take(offs, record)? {
                            break 'chunks;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// The last record, if any, mapped by `func(offset, record)`.
    pub(crate) fn last<T>(
        &self,
        txn: &Txn<'_>,
        func: impl FnOnce(u64, &[u8]) -> Result<T>,
    ) -> Result<Option<T>> {
        let Some((key, val)) = txn.last(self.db)? else {
            return Ok(None);
        };
        let offs = int64un(key)?;
        let (offs, record) = match self.layout {
            Layout::Rows => (offs, val),
            Layout::Chunks => {
                let chunk = Chunk::parse(offs, val)?;
                chunk.get(chunk.len() - 1)?
            }
        };
        func(offs, record).map(Some)
    }

    /// LMDB statistics of the log's database, with `entries` the number of records.
    pub(crate) fn stat(&self, txn: &Txn<'_>) -> Result<DbStat> {
        let mut stat = txn.stat(self.db)?;
        if self.layout == Layout::Chunks {
            let first = match txn.first_key(self.db)? {
                Some(key) => int64un(key)?,
                None => 0,
            };
            let count = self.next_offset(txn)?.saturating_sub(first);
            stat.entries = usize::try_from(count).unwrap_or(usize::MAX);
        }
        Ok(stat)
    }
}

/// Builds a chunk: the format byte, the records' bytes, the end of each record in those bytes
/// (u32 LE each), then the record count (u32 LE).
#[derive(Debug, Default)]
struct ChunkWriter {
    out: Vec<u8>,
    ends: Vec<u32>,
}

impl ChunkWriter {
    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Add records from the front of `spans` (into `buf`) until the chunk is full: at most
    /// [`crate::PUTS_CHUNK`] records, closed once [`CHUNK_BYTES`] are reached. Returns how
    /// many were taken (at least one). Records that lie end to end are copied together.
    fn push_run(&mut self, buf: &[u8], spans: &[(usize, usize)]) -> usize {
        if self.ends.is_empty() {
            self.out.clear();
            self.out.push(CHUNK_FORMAT);
        }
        let room = crate::PUTS_CHUNK.saturating_sub(self.ends.len()).max(1);
        let mut taken = 0;
        let mut run: Option<(usize, usize)> = None;
        for &(start, end) in spans.iter().take(room) {
            run = match run {
                Some((from, to)) if to == start => Some((from, end)),
                Some((from, to)) => {
                    self.out.extend_from_slice(&buf[from..to]);
                    Some((start, end))
                }
                None => Some((start, end)),
            };
            let len = self.data_len() + run.map_or(0, |(from, to)| to - from);
            // Records are below the slab's largest value (at most 4 GiB) and a chunk is
            // closed long before its data reaches 4 GiB.
            self.ends.push(u32::try_from(len).unwrap_or(u32::MAX));
            taken += 1;
            if len >= CHUNK_BYTES {
                break;
            }
        }
        if let Some((from, to)) = run {
            self.out.extend_from_slice(&buf[from..to]);
        }
        taken
    }

    /// Bytes of records added so far.
    fn data_len(&self) -> usize {
        self.out.len().saturating_sub(1)
    }

    /// The chunk's bytes; the writer is empty again at the next [`ChunkWriter::push_run`].
    fn finish(&mut self) -> &[u8] {
        self.out.reserve(4 * self.ends.len() + 4);
        for end in &self.ends {
            self.out.extend_from_slice(&end.to_le_bytes());
        }
        let count = u32::try_from(self.ends.len()).unwrap_or(u32::MAX);
        self.out.extend_from_slice(&count.to_le_bytes());
        self.ends.clear();
        &self.out
    }
}

/// A stored chunk, checked as far as its layout (each record's bounds are checked when read).
#[derive(Debug)]
struct Chunk<'a> {
    first: u64,
    data: &'a [u8],
    ends: &'a [u8],
}

impl<'a> Chunk<'a> {
    fn parse(first: u64, val: &'a [u8]) -> Result<Chunk<'a>> {
        let corrupt = |mesg: &str| Error::Corrupt {
            offs: first,
            mesg: mesg.to_string(),
        };
        let truncated = || corrupt("record chunk is truncated");
        let (&format, rest) = val.split_first().ok_or_else(truncated)?;
        if format != CHUNK_FORMAT {
            return Err(corrupt(&format!("unknown record chunk format {format}")));
        }
        let (rest, count) = rest.split_last_chunk::<4>().ok_or_else(truncated)?;
        let count = u32::from_le_bytes(*count) as usize;
        if count == 0 {
            return Err(corrupt("empty record chunk"));
        }
        let (data, ends) = count
            .checked_mul(4)
            .and_then(|len| rest.len().checked_sub(len))
            .map(|at| rest.split_at(at))
            .ok_or_else(truncated)?;
        Ok(Chunk { first, data, ends })
    }

    /// The number of records (at least one).
    fn len(&self) -> usize {
        self.ends.len() / 4
    }

    fn end(&self, indx: usize) -> usize {
        let at = indx * 4;
        u32::from_le_bytes([
            self.ends[at],
            self.ends[at + 1],
            self.ends[at + 2],
            self.ends[at + 3],
        ]) as usize
    }

    /// Record `indx` (below [`Chunk::len`]) and its offset.
    fn get(&self, indx: usize) -> Result<(u64, &'a [u8])> {
        let offs = self.first.saturating_add(indx as u64);
        let start = if indx == 0 { 0 } else { self.end(indx - 1) };
        let record = self
            .data
            .get(start..self.end(indx))
            .filter(|record| !record.is_empty())
            .ok_or_else(|| Error::Corrupt {
                offs,
                mesg: "record chunk has bad record bounds".into(),
            })?;
        Ok((offs, record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chunk_of(records: &[Vec<u8>]) -> Vec<u8> {
        let buf = records.concat();
        let mut spans = Vec::new();
        let mut at = 0;
        for record in records {
            spans.push((at, at + record.len()));
            at += record.len();
        }
        let mut writer = ChunkWriter::default();
        assert_eq!(writer.push_run(&buf, &spans), records.len());
        writer.finish().to_vec()
    }

    proptest! {
        #[test]
        fn chunks_give_back_their_records(
            first in 0u64..1 << 40,
            records in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..40), 1..50),
        ) {
            let byts = chunk_of(&records);
            let chunk = Chunk::parse(first, &byts).unwrap();
            prop_assert_eq!(chunk.len(), records.len());
            for (indx, record) in records.iter().enumerate() {
                let (offs, got) = chunk.get(indx).unwrap();
                prop_assert_eq!(offs, first + indx as u64);
                prop_assert_eq!(got, record.as_slice());
            }
        }

        #[test]
        fn damaged_chunks_give_errors_not_panics(
            records in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..20), 1..10),
            cut in 0usize..400,
            flip in 0usize..400,
        ) {
            let mut byts = chunk_of(&records);
            if let Some(byte) = byts.get_mut(flip) {
                *byte ^= 0x5a;
            }
            byts.truncate(cut);
            if let Ok(chunk) = Chunk::parse(0, &byts) {
                for indx in 0..chunk.len() {
                    let _ = chunk.get(indx);
                }
            }
        }
    }

    #[test]
    fn bad_chunks_are_corrupt() {
        let bad: [&[u8]; 5] = [
            b"",
            &[1, 0, 0, 0],
            &[2, 7, 1, 0, 0, 0, 1, 0, 0, 0],
            &[1, 0, 0, 0, 0],
            &[1, 7, 1, 0, 0, 0, 2, 0, 0, 0],
        ];
        for byts in bad {
            assert!(matches!(
                Chunk::parse(9, byts),
                Err(Error::Corrupt { offs: 9, .. })
            ));
        }
        let byts = [1, 7, 1, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0];
        let chunk = Chunk::parse(0, &byts).unwrap();
        assert_eq!(chunk.get(0).unwrap(), (0, &[7][..]));
        assert!(matches!(chunk.get(1), Err(Error::Corrupt { offs: 1, .. })));
    }

    #[test]
    fn chunks_close_at_their_limits() {
        // scattered records are gathered; a run stops at PUTS_CHUNK records
        let buf = vec![0x01; 3000];
        let spans: Vec<(usize, usize)> = (0..1500).map(|i| (i * 2, i * 2 + 1)).collect();
        let mut writer = ChunkWriter::default();
        assert_eq!(writer.push_run(&buf, &spans), crate::PUTS_CHUNK);
        let byts = writer.finish().to_vec();
        let chunk = Chunk::parse(5, &byts).unwrap();
        assert_eq!(chunk.len(), crate::PUTS_CHUNK);
        assert_eq!(chunk.get(999).unwrap(), (1004, &[1][..]));
        // ... and once CHUNK_BYTES are reached; a huge record goes alone
        let buf = vec![0xa0; CHUNK_BYTES + 10];
        let spans = [
            (0, 10),
            (10, CHUNK_BYTES + 5),
            (CHUNK_BYTES + 5, CHUNK_BYTES + 10),
        ];
        assert_eq!(writer.push_run(&buf, &spans), 2);
        assert_eq!(Chunk::parse(0, writer.finish()).unwrap().len(), 2);
        assert_eq!(writer.push_run(&buf, &spans[2..]), 1);
        let last = writer.finish().to_vec();
        assert_eq!(
            Chunk::parse(0, &last).unwrap().get(0).unwrap().1,
            &[0xa0; 5][..]
        );
    }
}
