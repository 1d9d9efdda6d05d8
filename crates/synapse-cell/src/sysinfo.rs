//! Host facts for `getSystemInfo`: disk, memory, OS version, vm sysctls.

use std::path::Path;

use rmpv::Value;

/// `(total, free)` bytes of the volume holding `path` (zeros if unknown).
pub(crate) fn disk_usage(path: &Path) -> (u64, u64) {
    match rustix::fs::statvfs(path) {
        Ok(st) => (
            st.f_blocks.saturating_mul(st.f_frsize),
            st.f_bavail.saturating_mul(st.f_frsize),
        ),
        Err(_) => (0, 0),
    }
}

/// `(real, apparent)` bytes used by the files under `path` (as `du` and `ls -l` count).
pub(crate) fn dir_size(path: &Path) -> (u64, u64) {
    let mut real = 0u64;
    let mut appr = 0u64;
    let mut todo = vec![path.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                todo.push(entry.path());
            } else {
                appr += meta.len();
                #[cfg(unix)]
                {
                    use std::os::unix::fs::MetadataExt;
                    real += meta.blocks() * 512;
                }
                #[cfg(not(unix))]
                {
                    real += meta.len();
                }
            }
        }
    }
    (real, appr)
}

/// `(total, available)` memory bytes from `/proc/meminfo`.
pub(crate) fn memory() -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string("/proc/meminfo") else {
        return (0, 0);
    };
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kb| kb * 1024)
    };
    (field("MemTotal:"), field("MemAvailable:"))
}

/// The OS and architecture, e.g. `Linux-6.1.0-x86_64`.
pub(crate) fn os_version() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{}-{}-{}",
        capitalize(std::env::consts::OS),
        release.trim(),
        std::env::consts::ARCH
    )
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The vm sysctls the reference reports.
pub(crate) fn sysctls() -> Value {
    let names = [
        "vm.dirty_expire_centisecs",
        "vm.dirty_writeback_centisecs",
        "vm.dirty_background_ratio",
        "vm.dirty_ratio",
    ];
    Value::Map(
        names
            .iter()
            .filter_map(|name| {
                let path = format!("/proc/sys/{}", name.replace('.', "/"));
                let valu = std::fs::read_to_string(path)
                    .ok()?
                    .trim()
                    .parse::<i64>()
                    .ok()?;
                Some((Value::from(*name), Value::from(valu)))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_are_sane() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), vec![0u8; 5000]).unwrap();
        let (total, free) = disk_usage(dir.path());
        assert!(total >= free);
        assert!(total > 0);
        let (_, appr) = dir_size(dir.path());
        assert_eq!(appr, 5000);
        assert!(os_version().starts_with("Linux-"));
    }
}
