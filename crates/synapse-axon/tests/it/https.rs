//! A minimal HTTPS client for talking to a real server (self-signed certificate accepted),
//! shared by the integration tests and the benchmark (`examples/bench_axon.rs`).

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use http::{Request, Response};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Accepts any server certificate (the servers under test make self-signed ones).
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// An HTTPS client of one server, with basic auth.
pub(crate) struct Https {
    addr: SocketAddr,
    auth: String,
    tls: tokio_rustls::TlsConnector,
}

impl Https {
    /// A client of `addr` authenticating as `user`.
    pub(crate) fn new(addr: SocketAddr, user: &str, passwd: &str) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
            .with_no_client_auth();
        let creds = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{passwd}"));
        Self {
            addr,
            auth: format!("Basic {creds}"),
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
        }
    }

    /// A request builder with the auth header and the URI of `path`.
    pub(crate) fn request(&self, method: http::Method, path: &str) -> http::request::Builder {
        Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, "localhost")
            .header(http::header::AUTHORIZATION, self.auth.as_str())
    }

    /// Send a request on a new connection.
    pub(crate) async fn send<B>(&self, req: Request<B>) -> Response<Incoming>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        let name = ServerName::try_from("localhost").expect("server name");
        let tls = self.tls.connect(name, tcp).await.expect("TLS handshake");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .expect("HTTP handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        sender.send_request(req).await.expect("HTTP request")
    }
}
