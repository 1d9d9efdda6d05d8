//! The HTTPS API over a real TLS socket with the generated self-signed certificate.

use std::sync::Arc;

use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use synapse_cell::serve_https;

use crate::http::basic;
use crate::open_cell;

/// Accepts the cell's self-signed certificate (tests only).
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
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

async fn get(port: u16, path: &str, auth: Option<&str>) -> (StatusCode, String) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let tls = connector
        .connect(ServerName::try_from("cell").unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder().uri(path).header("Host", "127.0.0.1");
    if let Some(auth) = auth {
        req = req.header("Authorization", auth);
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let byts = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&byts).into_owned())
}

#[tokio::test]
async fn https_with_generated_certificate() {
    let (_dir, cell) = open_cell(&[]).await;
    assert!(!cell.cell().dirn().join("sslcert.pem").exists());
    let addr = serve_https(cell.http(), "127.0.0.1", 0).await.unwrap();
    assert!(cell.cell().dirn().join("sslcert.pem").exists());
    assert!(cell.cell().dirn().join("sslkey.pem").exists());

    let (status, text) = get(addr.port(), "/api/v1/active", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text, r#"{"status":"ok","result":{"active":true}}"#);
    let (status, _) = get(addr.port(), "/api/v1/auth/users", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let wrong = basic("root", "wrong");
    let (status, _) = get(addr.port(), "/api/v1/auth/users", Some(&wrong)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let good = basic("root", "secret");
    let (status, text) = get(addr.port(), "/api/v1/auth/users", Some(&good)).await;
    assert_eq!(status, StatusCode::OK, "{text}");

    // the listener shows in the cell info, and the certificate can be reloaded
    let info = synapse_cell::to_json(&cell.cell().cell_info().await);
    assert_eq!(info["cell"]["network"]["https"][0]["port"], addr.port());
    let reloaded = synapse_cell::to_json(&cell.cell().reload(Some("https:certs")).await.unwrap());
    assert_eq!(reloaded["https:certs"][0], true);
    let (status, _) = get(addr.port(), "/api/v1/active", None).await;
    assert_eq!(status, StatusCode::OK);
    cell.fini().await;
}
