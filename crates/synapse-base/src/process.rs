//! Tuning of the whole process, applied by the binaries before they start anything else.
//!
//! [`tune_memcpy`]: on AMD CPUs, glibc before 2.39 copies blocks of 8 KiB to a few MiB with
//! `rep movsb`, which these CPUs run several times slower than a vector loop when source and
//! destination are not equally aligned (glibc bug 30994; glibc 2.39 stopped using it there).
//! TLS is the large victim: every record's plaintext is copied to 5 bytes past an aligned
//! buffer. Measured on a 2-core AMD EPYC VM with glibc 2.36: an Axon's HTTPS download spent
//! 22% of both cores in that copy, and 3.5% with the copy done by the vector loop. glibc reads
//! its tunables only when a program starts, so the program starts itself again with the
//! threshold raised.

/// The glibc tunable: the size from which `memcpy`/`memmove` use `rep movsb`.
pub const MEMCPY_TUNABLE: &str = "glibc.cpu.x86_rep_movsb_threshold";

/// The threshold set: above every copy the services make in pieces (TLS records, 4 MiB
/// uploads); glibc copies larger blocks with non-temporal stores anyway.
const MEMCPY_THRESHOLD: u64 = 4 * 1024 * 1024;

/// The `GLIBC_TUNABLES` value this process should run with, or `None` if nothing is to change:
/// `current` is the variable as the process got it, `amd` whether the CPU is AMD's. A tunable
/// the operator set (any value) is kept; others set in `current` are kept too.
pub fn memcpy_tunables(current: Option<&str>, amd: bool) -> Option<String> {
    if !amd || current.is_some_and(|cur| cur.contains(MEMCPY_TUNABLE)) {
        return None;
    }
    let ours = format!("{MEMCPY_TUNABLE}={MEMCPY_THRESHOLD}");
    Some(match current {
        Some(cur) if !cur.is_empty() => format!("{cur}:{ours}"),
        _ => ours,
    })
}

/// Whether this machine's CPU is AMD's (from `/proc/cpuinfo`).
fn cpu_is_amd() -> bool {
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|info| {
        info.lines()
            .find(|line| line.starts_with("vendor_id"))
            .is_some_and(|line| line.contains("AuthenticAMD"))
    })
}

/// Start this program again with glibc's `rep movsb` threshold raised (see the module
/// documentation), if it runs on x86_64 glibc on an AMD CPU and the tunable is not set yet.
/// Call it first thing in `main`, before any thread starts. It returns only if nothing is to
/// change or the new start failed (the program then simply goes on as it is). The process
/// keeps its pid, name, arguments, environment and open descriptors.
pub fn tune_memcpy() {
    #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;

        let current = std::env::var_os("GLIBC_TUNABLES");
        let current = match current.as_deref().map(std::ffi::OsStr::to_str) {
            Some(None) => return,
            Some(Some(cur)) => Some(cur),
            None => None,
        };
        let Some(tunables) = memcpy_tunables(current, cpu_is_amd()) else {
            return;
        };
        let mut args = std::env::args_os();
        let Some(arg0) = args.next() else {
            return;
        };
        let args: Vec<std::ffi::OsString> = args.collect();
        // Start the program's own file by its path, so the process keeps its name (`ps`,
        // `pgrep`, `top` show the file name an `exec` was given: `exe` for `/proc/self/exe`).
        // `/proc/self/exe` only if the path cannot be had (the file was removed since).
        let paths = std::env::current_exe()
            .ok()
            .filter(|path| path.is_file())
            .into_iter()
            .chain([std::path::PathBuf::from("/proc/self/exe")]);
        for path in paths {
            // `exec` returns only on failure; the program then runs untuned.
            let _ = std::process::Command::new(path)
                .arg0(&arg0)
                .args(&args)
                .env("GLIBC_TUNABLES", &tunables)
                .exec();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tunable_is_added_once_and_only_on_amd() {
        let ours = "glibc.cpu.x86_rep_movsb_threshold=4194304";
        assert_eq!(memcpy_tunables(None, true).as_deref(), Some(ours));
        assert_eq!(memcpy_tunables(Some(""), true).as_deref(), Some(ours));
        assert_eq!(
            memcpy_tunables(Some("glibc.malloc.arena_max=2"), true).as_deref(),
            Some(format!("glibc.malloc.arena_max=2:{ours}").as_str())
        );
        // Already set (by us before the new start, or by the operator): left alone.
        assert_eq!(memcpy_tunables(Some(ours), true), None);
        assert_eq!(
            memcpy_tunables(Some("glibc.cpu.x86_rep_movsb_threshold=2048"), true),
            None
        );
        assert_eq!(memcpy_tunables(None, false), None);
    }
}
