//! Links: byte streams (TCP, TLS, UNIX) carrying msgpack messages back to back.

use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::BufMut;
use rmpv::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use synapse_base::spin::{Look, Spinner};

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

/// How long a link looks for the next message on its socket before parking (see
/// [`synapse_base::spin`]): a call's reply or a client's next call on an idle machine comes
/// within a few microseconds, while a wake-up through the runtime's reactor costs tens.
const READ_SPIN: Duration = Duration::from_micros(50);

/// How long a client looks for a call's reply before parking: longer than a server's wait
/// for the next call, because a reply is sure to come, and a call that writes (a Cryotank's
/// `puts` of 1000 records, committed before it returns) takes 100-150 µs on the server.
/// Calls that take longer teach the spinner to park at once (see [`synapse_base::spin`]).
const REPLY_SPIN: Duration = Duration::from_micros(150);

/// Pauses between two looks at the socket (each look is a system call already).
const READ_PAUSES: u32 = 8;

/// The receive low-water mark of a TCP socket while its link reads it directly: below it,
/// arriving bytes do not wake the runtime's reactor (a wake-up a spinning reader does not
/// need, which costs a context switch on another CPU per message). Under the default receive
/// buffer, so setting it never grows the buffer.
const SPIN_LOWAT: libc::c_int = 32 * 1024;

/// A plain (TCP or UNIX) socket under a link, read directly for a short while before the
/// link parks (see [`synapse_base::spin`]).
#[derive(Debug)]
pub(crate) struct SpinSock {
    fd: RawFd,
    tcp: bool,
    spinner: Spinner,
    /// Whether the TCP low-water mark is [`SPIN_LOWAT`] (else the default of one byte).
    lowat_high: AtomicBool,
}

impl SpinSock {
    /// The TCP socket under `stream`. The descriptor is only used while `stream` is open:
    /// the link that holds both reads through it.
    pub(crate) fn tcp(stream: &TcpStream) -> Self {
        Self::new(stream.as_raw_fd(), true)
    }

    /// The UNIX socket under `stream` (see [`SpinSock::tcp`]).
    pub(crate) fn unix(stream: &UnixStream) -> Self {
        Self::new(stream.as_raw_fd(), false)
    }

    fn new(fd: RawFd, tcp: bool) -> Self {
        Self::spinning(fd, tcp, READ_SPIN)
    }

    fn spinning(fd: RawFd, tcp: bool, limit: Duration) -> Self {
        SpinSock {
            fd,
            tcp,
            // The message comes from another process: leave it a CPU.
            spinner: Spinner::new(limit).with_pauses(READ_PAUSES).leaving_free(1),
            lowat_high: AtomicBool::new(false),
        }
    }

    /// This socket as a client's, which waits for replies (see [`REPLY_SPIN`]).
    fn for_replies(self) -> Self {
        Self::spinning(self.fd, self.tcp, REPLY_SPIN)
    }

    /// Set the TCP receive low-water mark (best effort: a failure only costs wake-ups, so
    /// the state is kept as asked and a failed reset is retried before the next park).
    fn set_lowat(&self, high: bool) {
        if !self.tcp || self.lowat_high.load(Ordering::Relaxed) == high {
            return;
        }
        let val: libc::c_int = if high { SPIN_LOWAT } else { 1 };
        let len = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>()).unwrap_or(4);
        #[allow(unsafe_code)]
        // SAFETY: `val` is a live c_int of `len` bytes, and the descriptor belongs to a
        // socket the link still holds open (see `tcp`).
        let res = unsafe {
            libc::setsockopt(
                self.fd,
                libc::SOL_SOCKET,
                libc::SO_RCVLOWAT,
                (&raw const val).cast::<libc::c_void>(),
                len,
            )
        };
        if res == 0 {
            self.lowat_high.store(high, Ordering::Relaxed);
        } else {
            tracing::debug!(err = %std::io::Error::last_os_error(), "cannot set SO_RCVLOWAT");
        }
    }

    /// Receive at most `limit` bytes without blocking, appended to `buf`.
    fn recv_into(&self, buf: &mut Vec<u8>, limit: usize) -> std::io::Result<usize> {
        if buf.capacity() == buf.len() {
            buf.reserve(limit.min(64 * 1024));
        }
        let spare = buf.spare_capacity_mut();
        let len = spare.len().min(limit);
        #[allow(unsafe_code)]
        // SAFETY: `spare` is writable memory of at least `len` bytes that outlives the call,
        // and the descriptor belongs to a socket the link still holds open (see `tcp`).
        let got = unsafe {
            libc::recv(
                self.fd,
                spare.as_mut_ptr().cast::<libc::c_void>(),
                len,
                libc::MSG_DONTWAIT,
            )
        };
        let got = usize::try_from(got).map_err(|_| std::io::Error::last_os_error())?;
        let filled = buf.len() + got.min(len);
        #[allow(unsafe_code)]
        // SAFETY: `recv` initialised the first `got` (at most `len`) bytes of the spare
        // capacity, so the first `filled` bytes of `buf` are initialised.
        unsafe {
            buf.set_len(filled);
        }
        Ok(got)
    }

    /// Look for the next whole message by reading the socket directly, for a short while.
    /// `None` means wait through the runtime: nothing came in time, the spinner says park,
    /// the peer closed the link or the socket failed (the runtime's read then reports it).
    fn spin_frame<T, F>(
        &mut self,
        dec: &mut FrameDecoder,
        parse: &mut F,
    ) -> Option<Result<T, crate::codec::CodecError>>
    where
        F: FnMut(crate::codec::Frame<'_>) -> Result<T, crate::codec::CodecError>,
    {
        if !self.spinner.will_spin() {
            return None;
        }
        // The mark goes up only once a spinning slot is taken: a refused look costs nothing.
        let this = &*self;
        this.spinner
            .look_prepared(|| this.set_lowat(true), || this.look_once(dec, parse))
    }

    /// Read what the socket holds now, until a whole message is decoded or nothing is left.
    fn look_once<T, F>(
        &self,
        dec: &mut FrameDecoder,
        parse: &mut F,
    ) -> Look<Result<T, crate::codec::CodecError>>
    where
        F: FnMut(crate::codec::Frame<'_>) -> Result<T, crate::codec::CodecError>,
    {
        loop {
            match dec.next_frame_with(&mut *parse) {
                Ok(Some(val)) => return Look::Ready(Ok(val)),
                Ok(None) => {}
                Err(err) => return Look::Ready(Err(err)),
            }
            let target = dec.read_target();
            match self.recv_into(target.buf, target.limit) {
                Ok(0) => return Look::Gone,
                Ok(_) => {}
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => return Look::Empty,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Look::Gone,
            }
        }
    }
}

/// A turn to spin, taken from a count of spinners that allows one at a time (a server's
/// links share one: with many clients busy, only one link holds a worker thread waiting).
#[derive(Debug)]
pub(crate) struct SpinTurn<'a>(&'a AtomicUsize);

impl<'a> SpinTurn<'a> {
    /// The turn, if nobody else holds it.
    pub(crate) fn take(spinners: &'a AtomicUsize) -> Option<Self> {
        spinners
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| SpinTurn(spinners))
    }
}

impl Drop for SpinTurn<'_> {
    fn drop(&mut self) {
        self.0.store(0, Ordering::Release);
    }
}

/// [`read_frame_with`], looking on `sock` first for a short while if `turn` gives a turn
/// (see [`SpinSock`]; the turn is held while looking, not while parked).
pub(crate) async fn read_frame_spinning<R, T, F, G>(
    io: &mut R,
    sock: Option<&mut SpinSock>,
    turn: impl FnOnce() -> Option<G>,
    dec: &mut FrameDecoder,
    mut parse: F,
) -> Result<Option<T>, Error>
where
    R: AsyncRead + Unpin + ?Sized,
    F: FnMut(crate::codec::Frame<'_>) -> Result<T, crate::codec::CodecError>,
{
    let Some(sock) = sock else {
        return read_frame_with(io, dec, parse).await;
    };
    // A message already received (a stream's items come many to a read) needs no timing.
    if let Some(val) = dec.next_frame_with(&mut parse)? {
        return Ok(Some(val));
    }
    let start = Instant::now();
    let spun = match turn() {
        Some(turn) => {
            let spun = sock.spin_frame(dec, &mut parse);
            drop(turn);
            spun
        }
        None => None,
    };
    let res = match spun {
        Some(res) => res.map(Some).map_err(Error::from),
        None => {
            // Parking: arriving bytes must wake the reactor again. Bytes that came while the
            // mark was high are read here (the kernel signals them when the mark drops, but
            // one more look costs a system call, not a lost wake-up).
            let was_high = sock.lowat_high.load(Ordering::Relaxed);
            sock.set_lowat(false);
            match was_high.then(|| sock.look_once(dec, &mut parse)) {
                Some(Look::Ready(res)) => res.map(Some).map_err(Error::from),
                _ => read_frame_with(io, dec, parse).await,
            }
        }
    };
    sock.spinner.waited(start.elapsed());
    res
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
    // Bytes sent while the message was encoded (never past a payload).
    let mut done = out.sent_early();
    if out.parts.is_empty() {
        return write_bytes(io, &out.head[done..]).await;
    }
    // The pieces in order: head bytes and payloads alternating.
    let mut pieces: Vec<&[u8]> = Vec::with_capacity(out.parts.len() * 2 + 1);
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
        self.connect_raw().await.map(|(io, _)| io)
    }

    /// Open a connection, with its socket when it is a plain one (not TLS).
    pub(crate) async fn connect_raw(&self) -> Result<(BoxIo, Option<SpinSock>), Error> {
        match self {
            Target::Tcp { host, port } => {
                let stream = TcpStream::connect((host.as_str(), *port)).await?;
                tune_tcp(&stream);
                let sock = SpinSock::tcp(&stream).for_replies();
                Ok((Box::new(stream), Some(sock)))
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
                Ok((Box::new(stream), None))
            }
            Target::Unix(path) => match UnixStream::connect(path).await {
                Ok(stream) => {
                    let sock = SpinSock::unix(&stream).for_replies();
                    Ok((Box::new(stream), Some(sock)))
                }
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
    /// The plain socket under `io`, looked at directly for a reply before parking.
    sock: Option<SpinSock>,
    /// Calls in flight on the proxy: a reply is only spun for by a call that is alone (with
    /// others in flight, the thread has their replies to handle).
    in_flight: Arc<AtomicUsize>,
    /// Whether this connection is counted in `in_flight`.
    counted: bool,
    dec: FrameDecoder,
    out: Spliced,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.idle();
    }
}

impl Conn {
    pub(crate) fn new(
        (io, sock): (BoxIo, Option<SpinSock>),
        max_message: usize,
        in_flight: Arc<AtomicUsize>,
    ) -> Self {
        Self {
            io,
            sock,
            in_flight,
            counted: false,
            dec: FrameDecoder::new(max_message),
            out: Spliced::default(),
        }
    }

    /// Count this connection as carrying a call.
    pub(crate) fn busy(&mut self) {
        if !self.counted {
            self.in_flight.fetch_add(1, Ordering::Relaxed);
            self.counted = true;
        }
    }

    /// Stop counting this connection as carrying a call.
    pub(crate) fn idle(&mut self) {
        if self.counted {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            self.counted = false;
        }
    }

    /// Send a message encoded by `fill`, its large payloads written from their own buffers.
    pub(crate) async fn send_spliced<F>(&mut self, fill: F) -> Result<(), Error>
    where
        F: FnOnce(&mut Spliced) -> Result<(), crate::codec::CodecError>,
    {
        self.out.clear();
        if let Some(sock) = &self.sock {
            self.out.send_early_to(sock.fd);
        }
        // On an error after an early send the peer holds part of a message: the caller
        // drops this connection (every error of a send does).
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
        let alone = self.in_flight.load(Ordering::Relaxed) <= 1;
        self.recv(alone).await
    }

    /// The next item of a stream: never spun for (a busy stream's items come many to a read,
    /// and a spinning reader would take a CPU from the server producing them).
    pub(crate) async fn recv_item(&mut self) -> Result<crate::msg::ReplyMesg, Error> {
        self.recv(false).await
    }

    async fn recv(&mut self, alone: bool) -> Result<crate::msg::ReplyMesg, Error> {
        read_frame_spinning(
            &mut self.io,
            self.sock.as_mut(),
            || alone.then_some(()),
            &mut self.dec,
            crate::msg::parse_reply,
        )
        .await
        .map_err(link_err)?
        .ok_or_else(|| Error::LinkShutDown("Remote peer disconnected".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{SPLICE_MIN, decode, encode_taking};
    use rmpv::Value;
    use std::io::Read;
    use std::os::fd::AsRawFd;

    /// A message sent partly while it is encoded arrives whole and in order, payloads too.
    #[tokio::test]
    async fn messages_sent_early_arrive_whole() {
        let records: Vec<Value> = (0..4000)
            .map(|i| Value::Array(vec![Value::from(i), Value::from(format!("record {i}"))]))
            .collect();
        let with_payload = Value::Array(vec![
            Value::Array(records.clone()),
            Value::Binary(vec![7; SPLICE_MIN + 5]),
            Value::Array(records.clone()),
        ]);
        for value in [Value::Array(records), with_payload] {
            let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
            ours.set_nonblocking(true).unwrap();
            let reader = std::thread::spawn(move || {
                let mut got = Vec::new();
                theirs.read_to_end(&mut got).unwrap();
                got
            });
            let mut io = tokio::net::UnixStream::from_std(ours).unwrap();
            let mut out = Spliced::default();
            out.send_early_to(io.as_raw_fd());
            encode_taking(&mut value.clone(), &mut out).unwrap();
            assert!(out.sent_early() > 0, "a large message goes out early");
            write_spliced(&mut io, &out).await.unwrap();
            drop(io);
            let got = reader.join().unwrap();
            assert_eq!(got, out.to_vec());
            assert_eq!(decode(&got).unwrap(), value);
        }
    }
}
