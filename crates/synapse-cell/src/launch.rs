//! The launcher shared by every server: configuration from the command line and the
//! environment, opening the cell and its service, and starting the listeners as the
//! reference's `Cell.initFromArgv` does.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::Value as Json;

use crate::cell::{CellOptions, ServiceCell};
use crate::config::{Config, env_prefix};
use crate::error::{ErrKind, Error, Result};
use crate::http::serve_https;
use crate::service::Service;

/// The default telepath listen URL.
pub const DEFAULT_TELEPATH: &str = "tcp://0.0.0.0:27492";
/// The default HTTPS port.
pub const DEFAULT_HTTPS: u16 = 4443;

/// What a server was asked to run.
#[derive(Debug, Clone)]
pub struct LaunchOpts {
    /// The cell directory.
    pub dirn: PathBuf,
    /// `--telepath`: listen URL used when `dmon:listen` is not configured.
    pub telepath: String,
    /// `--https`: port used when `https:port` is not configured.
    pub https: u16,
    /// `--name`: an extra share name for the cell.
    pub name: Option<String>,
    /// Configuration from command-line options (`--auth-passwd` ...): `(key, value)`.
    pub conf: Vec<(String, Json)>,
}

impl LaunchOpts {
    /// Options for `dirn` with the launcher defaults, taking `SYN_<TYPE>_TELEPATH`,
    /// `SYN_<TYPE>_HTTPS` and `SYN_<TYPE>_NAME` from `getenv`.
    pub fn new(
        dirn: impl Into<PathBuf>,
        celltype: &str,
        getenv: impl Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let prefix = env_prefix(celltype);
        let https = match getenv(&format!("{prefix}_HTTPS")) {
            Some(text) => text.trim().parse::<u16>().map_err(|_| {
                Error::new(
                    ErrKind::BadConfValu,
                    format!("{prefix}_HTTPS must be a port number, not {text}"),
                )
            })?,
            None => DEFAULT_HTTPS,
        };
        Ok(Self {
            dirn: dirn.into(),
            telepath: getenv(&format!("{prefix}_TELEPATH"))
                .unwrap_or_else(|| DEFAULT_TELEPATH.to_string()),
            https,
            name: getenv(&format!("{prefix}_NAME")),
            conf: Vec::new(),
        })
    }
}

/// A launched cell: the service cell and where it listens.
pub struct Running<S> {
    /// The cell and its service.
    pub cell: ServiceCell<S>,
    /// The HTTPS listener, if on.
    pub https: Option<SocketAddr>,
    /// The telepath listen URLs in use.
    pub telepath: Vec<String>,
}

impl<S: Service> std::fmt::Debug for Running<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("cell", &self.cell)
            .field("https", &self.https)
            .field("telepath", &self.telepath)
            .finish()
    }
}

/// Build the configuration of a launch: command-line values, then the environment.
pub fn launch_config<S: Service>(
    opts: &LaunchOpts,
    getenv: impl Fn(&str) -> Option<String>,
) -> Result<Config> {
    let def = S::def();
    let mut conf = Config::new(def.cell_type, def.confdefs);
    conf.load_opts(opts.conf.clone())?;
    conf.load_env(getenv)?;
    Ok(conf)
}

/// Open the cell of service `S` and start its listeners. On error everything opened so far is
/// torn down.
pub async fn launch<S: Service>(opts: LaunchOpts, conf: Config) -> Result<Running<S>> {
    launch_then::<S>(opts, conf, |_| {}).await
}

/// [`launch`], calling `ready` once the service is open and before it listens (a server
/// composing services hands them to each other there).
pub async fn launch_then<S: Service>(
    opts: LaunchOpts,
    conf: Config,
    ready: impl FnOnce(&ServiceCell<S>),
) -> Result<Running<S>> {
    let def = S::def();
    tracing::info!(
        svctype = def.cell_type,
        svcvers = %def.verstring(),
        "Starting {} version {}",
        def.cell_type,
        def.verstring()
    );
    let cellopts = CellOptions {
        dirn: opts.dirn.clone(),
        conf,
        store: None,
        base: None,
    };
    let cell = ServiceCell::<S>::open(cellopts).await?;
    ready(&cell);
    match start_network(&cell, &opts).await {
        Ok((https, telepath)) => Ok(Running {
            cell,
            https,
            telepath,
        }),
        Err(err) => {
            cell.fini().await;
            Err(err)
        }
    }
}

async fn start_network<S: Service>(
    cell: &ServiceCell<S>,
    opts: &LaunchOpts,
) -> Result<(Option<SocketAddr>, Vec<String>)> {
    let conf = cell.cell().conf();
    let mut telepath = Vec::new();
    let celltype = cell.cell().cell_type();
    let daemon = cell.cell().daemon();

    // The local socket is always there; as the reference, failing to bind it is not fatal.
    let sockpath = cell.cell().dirn().join("sock");
    let sockurl = format!("unix://{}", sockpath.display());
    match daemon.listen(&sockurl).await {
        Ok(_) => telepath.push(sockurl),
        Err(err) => {
            tracing::error!(path = %sockpath.display(), cause = %err, "Failed to listen on unix socket");
            tracing::error!("LOCAL UNIX SOCKET WILL BE UNAVAILABLE");
        }
    }
    let turl = match conf.get_str("dmon:listen") {
        Some(url) => url.to_string(),
        None => opts.telepath.clone(),
    };
    let addr = daemon
        .listen(&turl)
        .await
        .map_err(|err| Error::new(ErrKind::BadArg, format!("cannot listen on {turl}: {err}")))?;
    tracing::info!("...{celltype} API (telepath): {turl}");
    telepath.push(match addr {
        synapse_telepath::ListenAddr::Tcp(sockaddr) => {
            // Report the bound port (the URL may have asked for port 0).
            let scheme = turl.split("://").next().unwrap_or("tcp");
            format!("{scheme}://{sockaddr}/")
        }
        synapse_telepath::ListenAddr::Unix(path) => format!("unix://{}", path.display()),
    });
    if let Some(name) = &opts.name {
        daemon.share_factory(
            name,
            std::sync::Arc::new(crate::tele::CellApiFactory::new(cell.clone())),
        );
        tracing::info!("...{celltype} API (telepath name): {name}");
    }
    let https = if !conf.contains("https:port") {
        let addr = serve_https(cell.http(), "0.0.0.0", opts.https).await?;
        tracing::info!("...{celltype} API (https): {}", opts.https);
        Some(addr)
    } else {
        match conf.get_i64("https:port") {
            None => {
                tracing::info!("...{celltype} API (https): disabled");
                None
            }
            Some(port) => {
                let port = u16::try_from(port).map_err(|_| {
                    Error::new(
                        ErrKind::BadConfValu,
                        format!("https:port {port} is not a port"),
                    )
                    .with("name", "https:port")
                })?;
                let addr = serve_https(cell.http(), "0.0.0.0", port).await?;
                tracing::info!("...{celltype} API (https): {port}");
                Some(addr)
            }
        }
    };
    Ok((https, telepath))
}
