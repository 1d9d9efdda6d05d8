//! The HTTPS listener: TLS (rustls, TLS 1.2+) with `sslcert.pem`/`sslkey.pem` from the cell
//! directory, made self-signed at first start when absent, reloadable at runtime
//! (`reload('https:certs')`); HTTP/1.1 by hyper; connections owned by the cell's teardown.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rmpv::Value;
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::{HttpApi, RemoteAddr};
use crate::cell::Cell;
use crate::error::{ErrKind, Error, Result};

/// Most connections served at once; more wait in the accept queue.
const MAX_CONNS: usize = 4096;
/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// How long a client may take to send a request's headers (slow-client protection).
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Read (or at first start, generate self-signed for CN `celltype`) the HTTPS certificate
/// and key of a cell directory: `(sslcert.pem, sslkey.pem)` paths.
pub fn load_or_make_cert(dirn: &Path, celltype: &str) -> Result<(Vec<u8>, Vec<u8>)> {
    let certpath = dirn.join("sslcert.pem");
    let keypath = dirn.join("sslkey.pem");
    if !certpath.is_file() || !keypath.is_file() {
        tracing::info!(cn = celltype, "generating a self-signed HTTPS certificate");
        let mut params = rcgen::CertificateParams::new(vec![celltype.to_string()])
            .map_err(|err| Error::new(ErrKind::SynErr, format!("certificate params: {err}")))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, celltype);
        let key = rcgen::KeyPair::generate()
            .map_err(|err| Error::new(ErrKind::SynErr, format!("key generation: {err}")))?;
        let cert = params
            .self_signed(&key)
            .map_err(|err| Error::new(ErrKind::SynErr, format!("self-signing: {err}")))?;
        std::fs::write(&certpath, cert.pem())
            .map_err(|err| Error::io("cannot write", &certpath, err))?;
        let mut fd = std::fs::File::create(&keypath)
            .map_err(|err| Error::io("cannot write", &keypath, err))?;
        crate::dirn::restrict(&fd);
        std::io::Write::write_all(&mut fd, key.serialize_pem().as_bytes())
            .map_err(|err| Error::io("cannot write", &keypath, err))?;
    }
    let cert = std::fs::read(&certpath).map_err(|err| Error::io("cannot read", &certpath, err))?;
    let key = std::fs::read(&keypath).map_err(|err| Error::io("cannot read", &keypath, err))?;
    Ok((cert, key))
}

fn server_config(cert: &[u8], key: &[u8]) -> Result<Arc<ServerConfig>> {
    let bad = |what: &str| Error::new(ErrKind::BadArg, format!("invalid HTTPS {what}"));
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &cert[..])
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad("certificate"))?;
    if certs.is_empty() {
        return Err(bad("certificate (no certificate in sslcert.pem)"));
    }
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut &key[..])
        .map_err(|_| bad("key"))?
        .ok_or_else(|| bad("key (no key in sslkey.pem)"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| Error::new(ErrKind::SynErr, format!("TLS setup: {err}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|err| {
            Error::new(
                ErrKind::BadArg,
                format!("invalid HTTPS certificate/key: {err}"),
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Listen for HTTPS on `host:port` (0 = any free port) and serve `api` until the cell is torn
/// down. Returns the bound address. Registers the `https:certs` reload.
pub async fn serve_https(api: HttpApi, host: &str, port: u16) -> Result<SocketAddr> {
    let cell: Cell = api.cell().clone();
    let (cert, key) = load_or_make_cert(cell.dirn(), cell.cell_type())?;
    let config = Arc::new(RwLock::new(server_config(&cert, &key)?));

    let reload_config = config.clone();
    let reload_dirn = cell.dirn().to_path_buf();
    let celltype = cell.cell_type();
    cell.add_reloadable(
        "https:certs",
        Arc::new(move || {
            let config = reload_config.clone();
            let dirn = reload_dirn.clone();
            Box::pin(async move {
                let (cert, key) = load_or_make_cert(&dirn, celltype)?;
                let next = server_config(&cert, &key)?;
                *config.write().unwrap_or_else(|e| e.into_inner()) = next;
                Ok(Value::Nil)
            })
        }),
    );

    let listener = TcpListener::bind((host, port)).await.map_err(|err| {
        Error::new(
            ErrKind::BadArg,
            format!("cannot listen on {host}:{port}: {err}"),
        )
        .with_source(err)
    })?;
    let addr = listener
        .local_addr()
        .map_err(|err| Error::new(ErrKind::SynErr, format!("listener address: {err}")))?;
    cell.add_https_listener(host, addr.port());
    tracing::info!(%addr, "https listening");

    let base = cell.base().clone();
    let token = base.token();
    let limit = Arc::new(Semaphore::new(MAX_CONNS));
    let conn_base = base.clone();
    base.spawn(async move {
        loop {
            let Ok(permit) = limit.clone().acquire_owned().await else {
                break;
            };
            let (stream, peer) = match listener.accept().await {
                Ok(conn) => conn,
                Err(err) => {
                    tracing::warn!(cause = %err, "https accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let acceptor =
                TlsAcceptor::from(config.read().unwrap_or_else(|e| e.into_inner()).clone());
            let api = api.clone();
            let token = token.clone();
            let res = conn_base.spawn(async move {
                let _permit = permit;
                let tls =
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(err)) => {
                            tracing::debug!(%peer, cause = %err, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(RemoteAddr(peer));
                    api.clone().oneshot(req)
                });
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .title_case_headers(true)
                    .serve_connection(TokioIo::new(tls), service);
                tokio::pin!(conn);
                tokio::select! {
                    res = conn.as_mut() => {
                        if let Err(err) = res {
                            tracing::debug!(%peer, cause = %err, "https connection ended");
                        }
                    }
                    () = token.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), conn).await;
                    }
                }
            });
            if res.is_err() {
                break;
            }
        }
    })
    .map_err(|_| Error::new(ErrKind::IsFini, "The cell is shut down."))?;
    Ok(addr)
}
