//! Links: byte streams (TCP, TLS, UNIX) carrying msgpack messages back to back.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::BufMut;
use rmpv::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use crate::codec::{FrameDecoder, Spliced};
use crate::error::Error;
use crate::tls::ClientTls;
use crate::url::UrlInfo;

/// Any byte stream a link can run over.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A boxed byte stream.
pub(crate) type BoxIo = Box<dyn Io>;

/// Read the next whole message: `None` at a clean end of stream (between messages).
/// Cancel safe: bytes already read stay in the decoder.
pub(crate) async fn read_mesg<R>(io: &mut R, dec: &mut FrameDecoder) -> Result<Option<Value>, Error>
where
    R: AsyncRead + Unpin + ?Sized,
{
    read_frame_with(io, dec, |frame: crate::codec::Frame<'_>| frame.decode()).await
}

/// [`read_mesg`] with the message made by `parse` from its bytes.
pub(crate) async fn read_frame_with<R, T, F>(
    io: &mut R,
    dec: &mut FrameDecoder,
    mut parse: F,
) -> Result<Option<T>, Error>
where
    R: AsyncRead + Unpin + ?Sized,
    F: FnMut(crate::codec::Frame<'_>) -> Result<T, crate::codec::CodecError>,
{
    loop {
        if let Some(value) = dec.next_frame_with(&mut parse)? {
            return Ok(Some(value));
        }
        let target = dec.read_target();
        let got = io.read_buf(&mut target.buf.limit(target.limit)).await?;
        if got == 0 {
            if dec.in_message() {
                return Err(Error::LinkShutDown(format!(
                    "peer closed the link in the middle of a message ({} bytes buffered)",
                    dec.buffered()
                )));
            }
            return Ok(None);
        }
    }
}

/// Write encoded message bytes and flush.
pub(crate) async fn write_bytes<W>(io: &mut W, bytes: &[u8]) -> Result<(), Error>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    io.write_all(bytes).await?;
    io.flush().await?;
    Ok(())
}

/// Write a spliced message (its large payloads straight from their buffers, with vectored
/// writes) and flush.
pub(crate) async fn write_spliced<W>(io: &mut W, out: &Spliced) -> Result<(), Error>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    if out.parts.is_empty() {
        return write_bytes(io, &out.head).await;
    }
    // The pieces in order: head bytes and payloads alternating.
    let mut pieces: Vec<&[u8]> = Vec::with_capacity(out.parts.len() * 2 + 1);
    let mut done = 0;
    for (at, part) in &out.parts {
        pieces.push(&out.head[done..*at]);
        pieces.push(part);
        done = *at;
    }
    pieces.push(&out.head[done..]);
    pieces.retain(|piece| !piece.is_empty());
    let mut first = 0;
    while first < pieces.len() {
        let slices: Vec<std::io::IoSlice<'_>> = pieces[first..]
            .iter()
            .take(64)
            .map(|piece| std::io::IoSlice::new(piece))
            .collect();
        let mut wrote = io.write_vectored(&slices).await?;
        if wrote == 0 {
            return Err(Error::Io(std::io::ErrorKind::WriteZero.into()));
        }
        while first < pieces.len() && wrote >= pieces[first].len() {
            wrote -= pieces[first].len();
            first += 1;
        }
        if wrote > 0 {
            pieces[first] = &pieces[first][wrote..];
        }
    }
    io.flush().await?;
    Ok(())
}

/// Set the reference's TCP options: no Nagle, keepalive after 3 s, every 3 s, 5 probes.
pub(crate) fn tune_tcp(stream: &TcpStream) {
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(%err, "cannot set TCP_NODELAY");
    }
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(3))
        .with_interval(Duration::from_secs(3))
        .with_retries(5);
    if let Err(err) = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive) {
        tracing::debug!(%err, "cannot set TCP keepalive");
    }
}

/// Where and how a client connects.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Tcp {
        host: String,
        port: u16,
    },
    Tls {
        host: String,
        port: u16,
        tls: ClientTls,
    },
    Unix(PathBuf),
}

impl Target {
    /// The connection target of a URL (`tcp`, `ssl`, `unix`, `cell`).
    pub(crate) fn from_url(info: &UrlInfo, certdir: &crate::tls::CertDir) -> Result<Self, Error> {
        match info.scheme.as_str() {
            "tcp" => Ok(Target::Tcp {
                host: info.effective_host().to_owned(),
                port: info.effective_port()?,
            }),
            "ssl" => {
                let host = info.effective_host().to_owned();
                let hostname = info.opt("hostname").unwrap_or(&host).to_owned();
                let certhash = info.opt("certhash").map(str::to_owned);
                let mut certdir = certdir.clone();
                if let Some(dir) = info.opt("certdir") {
                    certdir = crate::tls::CertDir::new([dir]);
                }
                let mut certname = info.opt("certname").map(str::to_owned);
                if certname.is_none() && info.user.is_some() && info.passwd.is_none() {
                    certname = info.user.as_ref().map(|user| format!("{user}@{hostname}"));
                }
                let config = certdir.client_config(certname.as_deref(), certhash.as_deref())?;
                Ok(Target::Tls {
                    host,
                    port: info.effective_port()?,
                    tls: ClientTls {
                        config,
                        hostname,
                        certhash,
                    },
                })
            }
            "unix" | "cell" => Ok(Target::Unix(info.socket_path()?)),
            "aha" => Err(Error::BadUrl(
                "aha:// URLs are not supported by this client".to_owned(),
            )),
            scheme if scheme.contains('+') => {
                let disc = scheme.split_once('+').map(|(_, disc)| disc).unwrap_or("");
                Err(Error::BadUrl(format!(
                    "Unknown discovery protocol [{disc}]."
                )))
            }
            scheme => Err(Error::BadUrl(format!("Invalid URL scheme: {scheme}"))),
        }
    }

    /// Open a connection.
    pub(crate) async fn connect(&self) -> Result<BoxIo, Error> {
        match self {
            Target::Tcp { host, port } => {
                let stream = TcpStream::connect((host.as_str(), *port)).await?;
                tune_tcp(&stream);
                Ok(Box::new(stream))
            }
            Target::Tls { host, port, tls } => {
                let stream = TcpStream::connect((host.as_str(), *port)).await?;
                tune_tcp(&stream);
                let connector = tokio_rustls::TlsConnector::from(Arc::clone(&tls.config));
                let stream = connector
                    .connect(tls.server_name()?, stream)
                    .await
                    .map_err(|err| match tls.certhash.as_deref() {
                        Some(_) if err.to_string().contains("certhash") => {
                            Error::LinkBadCert(err.to_string())
                        }
                        _ => Error::Tls(err.to_string()),
                    })?;
                tls.check_peer(stream.get_ref().1.peer_certificates())?;
                Ok(Box::new(stream))
            }
            Target::Unix(path) => match UnixStream::connect(path).await {
                Ok(stream) => Ok(Box::new(stream)),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(Error::LinkShutDown(
                    format!("Cell path does not exist: {}", path.display()),
                )),
                Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => Err(
                    Error::LinkShutDown(format!("Cell path is not listening: {}", path.display())),
                ),
                Err(err) => Err(err.into()),
            },
        }
    }
}

/// I/O failures on an established link mean the link is gone.
fn link_err(err: Error) -> Error {
    match err {
        Error::Io(err) => Error::LinkShutDown(format!("link failed: {err}")),
        other => other,
    }
}

/// A client connection used by one call at a time.
pub(crate) struct Conn {
    io: BoxIo,
    dec: FrameDecoder,
    out: Spliced,
}

impl Conn {
    pub(crate) fn new(io: BoxIo, max_message: usize) -> Self {
        Self {
            io,
            dec: FrameDecoder::new(max_message),
            out: Spliced::default(),
        }
    }

    /// Send a message encoded by `fill`, its large payloads written from their own buffers.
    pub(crate) async fn send_spliced<F>(&mut self, fill: F) -> Result<(), Error>
    where
        F: FnOnce(&mut Spliced) -> Result<(), crate::codec::CodecError>,
    {
        self.out.clear();
        fill(&mut self.out)?;
        let res = write_spliced(&mut self.io, &self.out)
            .await
            .map_err(link_err);
        self.out.parts.clear();
        if self.out.head.capacity() > 1024 * 1024 {
            self.out.head = Vec::new();
        }
        res
    }

    /// The next reply (see [`crate::msg::ReplyMesg`]); a closed link is an error.
    pub(crate) async fn recv_reply(&mut self) -> Result<crate::msg::ReplyMesg, Error> {
        read_frame_with(&mut self.io, &mut self.dec, crate::msg::parse_reply)
            .await
            .map_err(link_err)?
            .ok_or_else(|| Error::LinkShutDown("Remote peer disconnected".to_owned()))
    }
}
