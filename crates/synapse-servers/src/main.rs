//! `synapse-servers <service> DIRN [options]`: run a Synapse service on a directory.
//!
//! Each service is one line in [`services`] and one arm in [`main`]: its subcommand and its
//! options are generated from the service's configuration schema by [`cli::command`].

mod cli;
mod cortex;

use std::process::ExitCode;

use clap::Command;
use synapse_axon::AxonService;
use synapse_cell::BaseCell;
use synapse_cortex::cortex::Cortex;
use synapse_cryotank::CryoCell;

/// mimalloc: the services allocate and free many small values (decoded msgpack) per request,
/// which glibc's allocator handles about half as fast.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The subcommands, one per service.
fn services() -> Command {
    Command::new("synapse-servers")
        .about(
            "Run a Synapse service (drop-in replacement for `python -m synapse.servers.<service>`)",
        )
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(cli::command::<BaseCell>(
            "cell",
            "Run a plain Synapse cell.",
        ))
        .subcommand(cli::command::<AxonService>(
            "axon",
            "Run an Axon: the content-addressed blob store.",
        ))
        .subcommand(cli::command::<CryoCell>(
            "cryotank",
            "Run a Cryotank: append-only record tanks.",
        ))
        .subcommand(cli::command::<Cortex>(
            "cortex",
            "Run a Cortex: the Synapse hypergraph database (with a local Axon unless `axon` is set).",
        ))
}

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (libmimalloc-sys does not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The purge delay configured before startup (mimalloc's default, or `MIMALLOC_PURGE_DELAY`).
static PURGE_DELAY: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(10);

/// Set mimalloc's `purge_delay` (milliseconds before freed memory goes back to the OS).
fn set_purge_delay(millis: std::ffi::c_long) {
    #[allow(unsafe_code)]
    // SAFETY: `mi_option_set` stores an integer option mimalloc defines; any thread may call
    // it at any time.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, millis);
    }
}

/// Purge freed memory at once while the service starts.
///
/// Starting a service frees a lot at once (parsing the data model alone leaves about 12 MiB
/// of garbage behind), and mimalloc returns freed memory lazily, during later allocations: an
/// idle service kept it. So every service starts with immediate purging; once it is up,
/// [`allocator_ready`] sets the delay it runs with.
fn allocator_starting() {
    #[allow(unsafe_code)]
    // SAFETY: `mi_option_get` reads an integer option mimalloc defines.
    let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
    // `c_long` is `i64` here, `i32` on other platforms.
    #[allow(clippy::useless_conversion)]
    PURGE_DELAY.store(i64::from(delay), std::sync::atomic::Ordering::Relaxed);
    set_purge_delay(0);
}

/// The purge delay of the Cortex while it works, in milliseconds.
///
/// A batch of `addNodes` allocates and frees some 10 MiB of short-lived values (decoded
/// definitions, editor state, nodeedits, podes): purged at once, the next batch takes every
/// page back with a page fault, and a quarter of the server's time went to faulting and
/// `madvise` (measured to 3e5 nodes: 15.6 k nodes/s purging at once, 19.7 k with a second's
/// delay). The delay keeps those pages between batches; once the service idles, the slab
/// threads' idle hook and [`trim_when_idle`] return them all within a fraction of a second (an
/// idle Cortex after 1e5 nodes: as resident as purging at once).
const CORTEX_PURGE_DELAY_MS: i64 = 1000;

/// The service is up: return what startup freed, and set the purge delay the service runs
/// with: the configured one (mimalloc's default), or for the Cortex [`CORTEX_PURGE_DELAY_MS`]
/// (immediate purging costs the Cryotank a third of its put rate and the Cortex a fifth of
/// its ingest rate). An explicit `MIMALLOC_PURGE_DELAY` always wins.
pub(crate) fn allocator_ready(cortex: bool) {
    let configured = PURGE_DELAY.load(std::sync::atomic::Ordering::Relaxed);
    let delay = if cortex && std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        CORTEX_PURGE_DELAY_MS
    } else {
        configured
    };
    set_purge_delay(std::ffi::c_long::try_from(delay).unwrap_or(10));
    collect_thread();
    synapse_slab::set_idle_hook(collect_thread);
    trim_when_idle(TRIM_PERIOD);
}

/// Give the free memory of the calling thread back to mimalloc's arenas (a slab thread that
/// went idle; see [`synapse_slab::set_idle_hook`]).
fn collect_thread() {
    mi_collect(true);
}

/// mimalloc's collection: with `force`, all free memory is purged, not only what was free for
/// the purge delay.
fn mi_collect(force: bool) {
    #[allow(unsafe_code)]
    // SAFETY: `mi_collect` may be called from any thread at any time.
    unsafe {
        libmimalloc_sys::mi_collect(force);
    }
}

/// How often the trimming thread looks at the process (see [`trim_when_idle`]).
const TRIM_PERIOD: std::time::Duration = std::time::Duration::from_millis(200);

/// The CPU time the whole process has used.
fn process_cpu() -> std::time::Duration {
    let spent = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    std::time::Duration::new(
        u64::try_from(spent.tv_sec).unwrap_or(0),
        u32::try_from(spent.tv_nsec).unwrap_or(0),
    )
}

/// Start a thread that every `period` asks mimalloc to purge free memory: what has been free
/// for the purge delay while the process works, and everything once it idles (it used under
/// a twentieth of a core over the period). mimalloc purges during later allocations: without
/// this, the memory a burst of work freed stays resident for as long as the service idles,
/// since nothing allocates then.
fn trim_when_idle(period: std::time::Duration) {
    let spawned = std::thread::Builder::new()
        .name("mem-trim".into())
        .spawn(move || {
            let mut last = process_cpu();
            loop {
                std::thread::sleep(period);
                let now = process_cpu();
                let idle = now.saturating_sub(last) < period / 20;
                last = now;
                mi_collect(idle);
            }
        });
    if let Err(err) = spawned {
        tracing::warn!("cannot start the memory trimming thread: {err}");
    }
}

/// Called when a runtime worker goes idle: at most once a second per worker, hand the memory
/// the worker freed back to mimalloc's arenas and purge what is free there. mimalloc purges
/// lazily, during later allocations, so memory a burst of work freed (a Storm query's
/// intermediate values) otherwise stays resident while the service idles.
fn collect_when_idle() {
    use std::cell::Cell;
    use std::time::{Duration, Instant};
    thread_local! {
        static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
    }
    let now = Instant::now();
    let due = LAST.with(|last| match last.get() {
        Some(at) if now.duration_since(at) < Duration::from_secs(1) => false,
        _ => {
            last.set(Some(now));
            true
        }
    });
    if due {
        collect_thread();
    }
}

fn main() -> ExitCode {
    // Copies by a vector loop instead of `rep movsb` on AMD CPUs (glibc before 2.39): starts
    // the process again with the glibc tunable set, so it comes before anything else.
    synapse_base::process::tune_memcpy();
    allocator_starting();
    // No transparent huge pages: mimalloc asks for them on its arenas, and a 2 MiB page
    // backing a few live KiB costs a third of the resident memory of an idle service (79 vs
    // 51 MiB for an empty Cortex) for no measurable speed. Best effort: kernels without THP
    // refuse the call.
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let matches = services().get_matches();
    // Worker stacks of 8 MiB (tokio's default is 2 MiB): deep Storm pipelines nest polls, and
    // the pages are only committed when used.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 * 1024 * 1024)
        .on_thread_park(collect_when_idle)
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let res = runtime.block_on(async {
        match matches.subcommand() {
            Some(("cell", sub)) => cli::run::<BaseCell>(sub).await,
            Some(("axon", sub)) => cli::run::<AxonService>(sub).await,
            Some(("cryotank", sub)) => cli::run::<CryoCell>(sub).await,
            Some(("cortex", sub)) => {
                cli::run_with::<Cortex, _, _, _, _>(sub, cortex::open_axon, cortex::set_axon).await
            }
            Some((other, _)) => Err(anyhow::anyhow!("unknown service {other}")),
            None => Err(anyhow::anyhow!("no service given")),
        }
    });
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        services().debug_assert();
    }

    #[test]
    fn cell_options_parse() {
        let matches = services()
            .try_get_matches_from([
                "synapse-servers",
                "cell",
                "/tmp/x",
                "--https",
                "0",
                "--auth-passwd",
                "secret",
                "--nexslog-en",
                "true",
                "--max-users",
                "3",
                "--log-level",
                "warning",
            ])
            .unwrap();
        let (_, sub) = matches.subcommand().unwrap();
        let opts = cli::launch_opts::<BaseCell>(sub).unwrap();
        assert_eq!(opts.https, 0);
        assert!(
            opts.conf
                .contains(&("auth:passwd".into(), serde_json::json!("secret")))
        );
        assert!(
            opts.conf
                .contains(&("nexslog:en".into(), serde_json::json!(true)))
        );
        assert!(
            opts.conf
                .contains(&("max:users".into(), serde_json::json!(3)))
        );
        let bad = services()
            .try_get_matches_from(["synapse-servers", "cell", "/tmp/x", "--max-users", "x"])
            .unwrap();
        let (_, sub) = bad.subcommand().unwrap();
        assert!(cli::launch_opts::<BaseCell>(sub).is_err());
        assert!(
            services()
                .try_get_matches_from(["synapse-servers", "cell", "/tmp/x", "--dmon-listen", "x"])
                .is_err()
        );
    }
}
#[cfg(test)]
mod logtests {
    #[test]
    fn log_events_reach_the_ring() {
        use tracing_subscriber::layer::SubscriberExt;
        let sub = tracing_subscriber::registry().with(crate::cli::RingLayer);
        let marker = synapse_base::guid();
        tracing::subscriber::with_default(sub, || {
            tracing::warn!(user = "visi", count = 3, "marker {marker}");
        });
        let logs = synapse_cell::recent_logs(synapse_cell::LOG_QUEUE_SIZE);
        let found = logs
            .iter()
            .map(synapse_cell::to_json)
            .find(|rec| rec["message"] == format!("marker {marker}"))
            .expect("the event is in the ring");
        assert_eq!(found["level"], "WARNING");
        assert_eq!(found["user"], "visi");
        assert_eq!(found["count"], 3);
        assert_eq!(found["logger"]["name"], "synapse_servers::logtests");
    }
}
