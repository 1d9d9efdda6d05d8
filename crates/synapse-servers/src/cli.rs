//! The command line of one service, generated from its configuration schema, and running it.
//!
//! Every service subcommand takes the reference launcher's options: `DIRN`, `--telepath`,
//! `--https`, `--name`, `--log-level`, `--structured-logging`, plus one `--<key>` option per
//! single-typed directive of its schema (`--auth-passwd`, `--max-users`, ...).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Arg, ArgAction, ArgMatches, Command};
use synapse_cell::{
    Config, LaunchOpts, OptKind, Service, ServiceCell, env_prefix, launch_config, launch_then,
    parse_opt,
};

/// The log levels of the reference (`--log-level`, case-insensitive).
const LEVELS: [&str; 5] = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

/// The subcommand `name` running service `S`.
pub(crate) fn command<S: Service>(name: &'static str, about: &'static str) -> Command {
    let def = S::def();
    let prefix = env_prefix(def.cell_type);
    let conf = Config::new(def.cell_type, def.confdefs);
    let mut cmd = Command::new(name)
        .about(about)
        .arg(
            Arg::new("dirn")
                .required(true)
                .value_name("DIRN")
                .help(format!("The storage directory for the {} service.", def.cell_type)),
        )
        .arg(
            Arg::new("log-level")
                .long("log-level")
                .value_name("LEVEL")
                .default_value("INFO")
                .value_parser(|text: &str| {
                    let upper = text.to_uppercase();
                    if LEVELS.contains(&upper.as_str()) {
                        Ok(upper)
                    } else {
                        Err(format!("invalid choice: '{text}' (choose from {})", LEVELS.join(", ")))
                    }
                })
                .help("Specify the log level."),
        )
        .arg(
            Arg::new("structured-logging")
                .long("structured-logging")
                .action(ArgAction::SetTrue)
                .help("Use structured (JSON) logging."),
        )
        .arg(Arg::new("telepath").long("telepath").value_name("TELEPATH").help(format!(
            "The telepath URL to listen on. This defaults to {}, and may be also be overridden by the {prefix}_TELEPATH environment variable.",
            synapse_cell::DEFAULT_TELEPATH
        )))
        .arg(
            Arg::new("https")
                .long("https")
                .value_name("HTTPS")
                .value_parser(clap::value_parser!(u16))
                .help(format!(
                    "The port to bind for the HTTPS/REST API. This defaults to {}, and may be also be overridden by the {prefix}_HTTPS environment variable.",
                    synapse_cell::DEFAULT_HTTPS
                )),
        )
        .arg(Arg::new("name").long("name").value_name("NAME").help(format!(
            "The (optional) additional name to share the {} as. This defaults to None, and may be also be overridden by the {prefix}_NAME environment variable.",
            def.cell_type
        )));
    for opt in conf.cmdline_opts() {
        let value_name = opt.flag.replace('-', "_").to_uppercase();
        let mut arg = Arg::new(opt.key.clone())
            .long(opt.flag.clone())
            .value_name(value_name)
            .help(opt.help.clone())
            .help_heading("Configuration arguments");
        if opt.kind == OptKind::Bool {
            arg = arg.value_name("{True,False}");
        }
        cmd = cmd.arg(arg);
    }
    cmd
}

/// Parse the launch options of `S` from its subcommand's matches.
pub(crate) fn launch_opts<S: Service>(matches: &ArgMatches) -> anyhow::Result<LaunchOpts> {
    let def = S::def();
    let dirn: PathBuf = matches
        .get_one::<String>("dirn")
        .context("missing DIRN")?
        .into();
    let mut opts = LaunchOpts::new(dirn, def.cell_type, |name| std::env::var(name).ok())
        .map_err(|err| anyhow::anyhow!("{}", err.mesg()))?;
    if let Some(url) = matches.get_one::<String>("telepath") {
        opts.telepath = url.clone();
    }
    if let Some(port) = matches.get_one::<u16>("https") {
        opts.https = *port;
    }
    if let Some(name) = matches.get_one::<String>("name") {
        opts.name = Some(name.clone());
    }
    let conf = Config::new(def.cell_type, def.confdefs);
    for opt in conf.cmdline_opts() {
        if let Some(text) = matches.get_one::<String>(&opt.key) {
            let valu = parse_opt(opt.kind, &opt.flag, text)
                .map_err(|err| anyhow::anyhow!("{}", err.mesg()))?;
            opts.conf.push((opt.key.clone(), valu));
        }
    }
    Ok(opts)
}

/// Keeps every log event for the CellApi `logs()` / `watch()` methods.
pub(crate) struct RingLayer;

/// Collects an event's message and fields.
#[derive(Default)]
struct Fields {
    message: String,
    extra: Vec<(String, rmpv::Value)>,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.extra
                .push((field.name().to_string(), format!("{value:?}").into()));
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.extra.push((field.name().to_string(), value.into()));
        }
    }

    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.extra.push((field.name().to_string(), value.into()));
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.extra.push((field.name().to_string(), value.into()));
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.extra.push((field.name().to_string(), value.into()));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RingLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let level = match *meta.level() {
            tracing::Level::ERROR => "ERROR",
            tracing::Level::WARN => "WARNING",
            tracing::Level::INFO => "INFO",
            _ => "DEBUG",
        };
        synapse_cell::log_record(
            level,
            meta.target(),
            meta.name(),
            &fields.message,
            fields.extra,
        );
    }
}

/// Install the process's log subscriber: text or JSON (`--structured-logging`) on stderr at
/// `--log-level` (or `RUST_LOG`), and the in-memory ring behind `logs()` / `watch()`.
pub(crate) fn init_logging(matches: &ArgMatches) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let level = match matches.get_one::<String>("log-level").map(String::as_str) {
        Some("DEBUG") => "debug",
        Some("WARNING") => "warn",
        Some("ERROR") | Some("CRITICAL") => "error",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let registry = tracing_subscriber::registry().with(filter).with(RingLayer);
    let res = if matches.get_flag("structured-logging") {
        let fmt = tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .with_writer(std::io::stderr);
        registry.with(fmt).try_init()
    } else {
        let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
        registry.with(fmt).try_init()
    };
    if res.is_err() {
        eprintln!("a log subscriber was already installed");
    }
}

/// Run service `S` until SIGINT/SIGTERM or a remote shutdown.
pub(crate) async fn run<S: Service>(matches: &ArgMatches) -> anyhow::Result<()> {
    run_with::<S, _, _, _, _>(matches, |_, _| async { Ok(()) }, |_, ()| {}).await
}

/// [`run`] composing another service with `S`: `before` runs once the configuration is known
/// and before `S` opens; `after` gets its result once `S` is up, before it serves.
pub(crate) async fn run_with<S, B, BFut, T, A>(
    matches: &ArgMatches,
    before: B,
    after: A,
) -> anyhow::Result<()>
where
    S: Service,
    B: FnOnce(LaunchOpts, Config) -> BFut,
    BFut: std::future::Future<Output = anyhow::Result<T>>,
    A: FnOnce(&ServiceCell<S>, T),
{
    init_logging(matches);
    let opts = launch_opts::<S>(matches)?;
    let conf = launch_config::<S>(&opts, |name| std::env::var(name).ok())
        .map_err(|err| anyhow::anyhow!("{}: {}", err.name(), err.mesg()))
        .context("Error while bootstrapping cell config")?;
    let extra = before(opts.clone(), conf.clone()).await?;
    let running = launch_then::<S>(opts.clone(), conf, |cell| after(cell, extra))
        .await
        .map_err(|err| anyhow::anyhow!("{}: {}", err.name(), err.mesg()))
        .with_context(|| format!("Error starting cell at {}", opts.dirn.display()))?;
    crate::allocator_ready(S::def().cell_type == "cortex");
    let base = running.cell.cell().base().clone();
    base.fini_on_signals()
        .context("cannot install signal handlers")?;
    base.wait_fini(None).await;
    tracing::info!("{} shut down", S::def().cell_type);
    Ok(())
}
