//! Options for opening a slab, the sibling `.opts.yaml` file, and map size rounding.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// One mebibyte.
pub const MEBIBYTE: u64 = 1 << 20;
/// One gibibyte.
pub const GIBIBYTE: u64 = 1 << 30;
/// The default initial map size (1 GiB), as the reference's `Slab.DEFAULT_MAPSIZE`.
pub const DEFAULT_MAP_SIZE: u64 = GIBIBYTE;
/// The map size of a Cell's internal slabs (128 MiB), as the reference's `SLAB_MAP_SIZE`.
pub const CELL_MAP_SIZE: u64 = 128 * MEBIBYTE;
/// Map sizes double until this size (100 GiB), then grow in multiples of it.
const MAX_DOUBLE_SIZE: u64 = 100 * GIBIBYTE;

/// How to open a [`crate::Slab`]. `Default` gives the reference's defaults.
///
/// Options found in the slab's sibling `.opts.yaml` file (`foo.lmdb` → `foo.opts.yaml`)
/// override these, as in the reference.
#[derive(Debug, Clone)]
pub struct SlabOptions {
    /// The initial map size in bytes (rounded as the reference rounds it; an existing file's
    /// size wins when larger).
    pub map_size: u64,
    /// A hard cap on the map size: growth past it fails with [`Error::OutOfSpace`]. Persisted in
    /// the options file.
    pub max_size: Option<u64>,
    /// A fixed growth increment; otherwise the map doubles. Persisted in the options file.
    pub grow_size: Option<u64>,
    /// The most named databases.
    pub max_dbs: u32,
    /// The most concurrent readers (LMDB reader slots).
    pub max_readers: u32,
    /// Open read-only: writes fail with [`Error::ReadOnly`]; reads see what is committed.
    pub readonly: bool,
    /// Let the OS read ahead (LMDB's default; turn off for random access on huge files).
    pub readahead: bool,
    /// Flush committed pages asynchronously (`MDB_MAPASYNC`), as the reference always does.
    /// Commits survive a crash of the process but not of the OS; [`crate::Slab::flush`] forces
    /// the data to disk.
    pub map_async: bool,
    /// Write through a writable memory map (`MDB_WRITEMAP`), as the reference.
    pub writemap: bool,
    /// Commit once this many write operations are pending (the reference's `max_replay_log`).
    pub max_replay_log: usize,
    /// Commit once this many bytes of keys and values are pending (bounds the replay log's
    /// memory; the reference has no such bound).
    pub max_replay_bytes: usize,
    /// Commit pending writes at most this long after the first of them (the reference's
    /// `COMMIT_PERIOD`, env `SYN_SLAB_COMMIT_PERIOD`).
    pub commit_period: Duration,
    /// Log a warning for commits slower than this (env `SYN_SLAB_COMMIT_WARN`, seconds).
    pub warn_commit_time: Duration,
    /// Refuse values larger than this many bytes ([`Error::ValueTooLarge`]).
    pub max_value_size: usize,
}

impl Default for SlabOptions {
    fn default() -> Self {
        Self {
            map_size: DEFAULT_MAP_SIZE,
            max_size: None,
            grow_size: None,
            max_dbs: 128,
            max_readers: 126,
            readonly: false,
            readahead: true,
            map_async: true,
            writemap: true,
            max_replay_log: 10_000,
            max_replay_bytes: 256 * MEBIBYTE as usize,
            commit_period: env_seconds("SYN_SLAB_COMMIT_PERIOD")
                .unwrap_or(Duration::from_millis(200)),
            warn_commit_time: env_seconds("SYN_SLAB_COMMIT_WARN").unwrap_or(Duration::from_secs(1)),
            max_value_size: GIBIBYTE as usize,
        }
    }
}

impl SlabOptions {
    /// Default options with the given initial map size.
    pub fn with_map_size(map_size: u64) -> Self {
        Self {
            map_size,
            ..Self::default()
        }
    }

    /// Default options for a read-only open.
    pub fn readonly() -> Self {
        Self {
            readonly: true,
            ..Self::default()
        }
    }
}

fn env_seconds(name: &str) -> Option<Duration> {
    let text = std::env::var(name).ok()?;
    let secs: f64 = text.trim().parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

/// The reference's `_mapsizeround`: the next power of two below 64 GiB (the largest power of
/// two not above 100 GiB), else the next multiple of 100 GiB.
pub fn map_size_round(size: u64) -> u64 {
    let cutoff = floor_pow2(MAX_DOUBLE_SIZE);
    if size < cutoff {
        return size.max(1).next_power_of_two();
    }
    if size == cutoff {
        return size;
    }
    size.div_ceil(MAX_DOUBLE_SIZE)
        .saturating_mul(MAX_DOUBLE_SIZE)
}

fn floor_pow2(value: u64) -> u64 {
    if value == 0 {
        return 0;
    }
    1 << (63 - value.leading_zeros())
}

/// The options file of a slab: `path` with its extension replaced by `.opts.yaml`.
pub(crate) fn opts_path(path: &Path) -> PathBuf {
    path.with_extension("opts.yaml")
}

/// Apply the options file's overrides, if it exists and holds a mapping.
pub(crate) fn load_opts_file(path: &Path, opts: &mut SlabOptions) -> Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(Error::io(path, err)),
    };
    let value: serde_yaml::Value = match serde_yaml::from_str(&text) {
        Ok(value) => value,
        Err(err) => {
            return Err(Error::BadArg(format!(
                "bad slab options file {}: {err}",
                path.display()
            )));
        }
    };
    let serde_yaml::Value::Mapping(map) = value else {
        return Ok(());
    };
    let int = |name: &str| map.get(name).and_then(serde_yaml::Value::as_u64);
    let flag = |name: &str| map.get(name).and_then(serde_yaml::Value::as_bool);
    if let Some(size) = int("map_size") {
        opts.map_size = size;
    }
    if let Some(size) = int("maxsize") {
        opts.max_size = Some(size);
    }
    if let Some(size) = int("growsize") {
        opts.grow_size = Some(size);
    }
    if let Some(count) = int("max_dbs") {
        opts.max_dbs = u32::try_from(count).unwrap_or(u32::MAX);
    }
    if let Some(count) = int("max_replay_log") {
        opts.max_replay_log = usize::try_from(count).unwrap_or(usize::MAX).max(1);
    }
    if let Some(on) = flag("readonly") {
        opts.readonly = on;
    }
    if let Some(on) = flag("readahead") {
        opts.readahead = on;
    }
    if let Some(on) = flag("writemap") {
        opts.writemap = on;
    }
    Ok(())
}

/// Merge `growsize` / `maxsize` into the options file, as the reference's `yamlmod` does.
pub(crate) fn save_opts_file(path: &Path, opts: &SlabOptions) -> Result<()> {
    let mut map = match std::fs::read_to_string(path) {
        Ok(text) => match serde_yaml::from_str(&text) {
            Ok(serde_yaml::Value::Mapping(map)) => map,
            _ => serde_yaml::Mapping::new(),
        },
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => serde_yaml::Mapping::new(),
        Err(err) => return Err(Error::io(path, err)),
    };
    if let Some(size) = opts.grow_size {
        map.insert("growsize".into(), size.into());
    }
    if let Some(size) = opts.max_size {
        map.insert("maxsize".into(), size.into());
    }
    let text = serde_yaml::to_string(&serde_yaml::Value::Mapping(map))
        .map_err(|err| Error::BadArg(format!("cannot encode slab options: {err}")))?;
    std::fs::write(path, text).map_err(|err| Error::io(path, err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_size_round_matches_the_reference_vectors() {
        assert_eq!(map_size_round(100), 128);
        assert_eq!(map_size_round(MEBIBYTE), MEBIBYTE);
        assert_eq!(map_size_round(MEBIBYTE + 1), 2 * MEBIBYTE);
        assert_eq!(map_size_round(64 * GIBIBYTE), 64 * GIBIBYTE);
        assert_eq!(map_size_round(65 * GIBIBYTE), 100 * GIBIBYTE);
        assert_eq!(map_size_round(472 * GIBIBYTE), 500 * GIBIBYTE);
        assert_eq!(map_size_round(1000 * GIBIBYTE), 1000 * GIBIBYTE);
    }

    #[test]
    fn opts_path_switches_the_extension() {
        assert_eq!(
            opts_path(Path::new("/x/axon.lmdb")),
            PathBuf::from("/x/axon.opts.yaml")
        );
        assert_eq!(
            opts_path(Path::new("/x/blob")),
            PathBuf::from("/x/blob.opts.yaml")
        );
    }

    #[test]
    fn opts_file_overrides_and_keeps_other_keys() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|err| Error::io("tmp", err))?;
        let path = dir.path().join("a.opts.yaml");
        std::fs::write(&path, "map_size: 4096\nother: 1\n").map_err(|err| Error::io(&path, err))?;
        let mut opts = SlabOptions::default();
        load_opts_file(&path, &mut opts)?;
        assert_eq!(opts.map_size, 4096);
        opts.max_size = Some(1 << 30);
        save_opts_file(&path, &opts)?;
        let text = std::fs::read_to_string(&path).map_err(|err| Error::io(&path, err))?;
        assert!(text.contains("other: 1"), "{text}");
        assert!(text.contains("maxsize: 1073741824"), "{text}");
        let mut again = SlabOptions::default();
        load_opts_file(&path, &mut again)?;
        assert_eq!(again.max_size, Some(1 << 30));
        Ok(())
    }
}
