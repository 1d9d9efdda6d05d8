//! TLS (rustls) for `ssl://`: the reference's certificate directory layout, server and client
//! configurations, and its checks (CN by hand, `certhash` pinning, client certificates).
//!
//! A cert dir holds `cas/<name>.crt`, `hosts/<name>.crt|.key` and `users/<name>.crt|.key`
//! (PEM). Several dirs can be searched in order, as the reference's `CertDir` does.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::Digest;

use crate::error::Error;

/// A set of certificate directories, searched in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertDir {
    dirs: Vec<PathBuf>,
}

impl Default for CertDir {
    /// `$SYN_CERT_DIR`, else `~/.syn/certs`, as the reference.
    fn default() -> Self {
        let dir = match std::env::var_os("SYN_CERT_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => {
                let home = std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_default();
                home.join(".syn").join("certs")
            }
        };
        Self { dirs: vec![dir] }
    }
}

impl CertDir {
    /// Search these directories, in order.
    pub fn new<I, P>(dirs: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        Self {
            dirs: dirs.into_iter().map(Into::into).collect(),
        }
    }

    /// Also search `dir` (after the others), as a Cell adds `<dirn>/certs`.
    pub fn add(&mut self, dir: impl Into<PathBuf>) {
        let dir = dir.into();
        if !self.dirs.contains(&dir) {
            self.dirs.push(dir);
        }
    }

    /// The directories searched.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    fn find(&self, kind: &str, file: &str) -> Option<PathBuf> {
        self.dirs
            .iter()
            .map(|dir| dir.join(kind).join(file))
            .find(|path| path.is_file())
    }

    fn ca_paths(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for dir in &self.dirs {
            let Ok(entries) = std::fs::read_dir(dir.join("cas")) else {
                continue;
            };
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "crt"))
                .collect();
            paths.sort();
            out.extend(paths);
        }
        out
    }

    /// The first existing user cert name for `user` at `host` or a parent domain
    /// (`user@a.b.c`, `user@b.c`, `user@c`).
    pub fn user_for_host(&self, user: &str, host: &str) -> Option<String> {
        let mut name = host;
        loop {
            let certname = format!("{user}@{name}");
            if self.find("users", &format!("{certname}.crt")).is_some() {
                return Some(certname);
            }
            match name.split_once('.') {
                Some((_, rest)) => name = rest,
                None => return None,
            }
        }
    }

    /// A server configuration presenting `hosts/<name>.crt` for each of `hostnames` (chosen
    /// by SNI, the first one by default), requiring client certificates signed by
    /// `cas/<ca>.crt` when `ca` is given.
    pub fn server_config(
        &self,
        hostnames: &[String],
        ca: Option<&str>,
    ) -> Result<Arc<rustls::ServerConfig>, Error> {
        let provider = provider();
        let mut keys = Vec::new();
        for name in hostnames {
            let crt = self.find("hosts", &format!("{name}.crt")).ok_or_else(|| {
                Error::Tls(format!("Missing TLS certificate file for host: {name}"))
            })?;
            let key = self
                .find("hosts", &format!("{name}.key"))
                .ok_or_else(|| Error::Tls(format!("Missing TLS key file for host: {name}")))?;
            let certs = load_certs(&crt)?;
            let key = load_key(&key)?;
            let signer = provider
                .key_provider
                .load_private_key(key)
                .map_err(|err| Error::Tls(format!("bad key for host {name}: {err}")))?;
            keys.push((name.clone(), Arc::new(CertifiedKey::new(certs, signer))));
        }
        let Some(default) = keys.first().map(|(_, key)| Arc::clone(key)) else {
            return Err(Error::Tls(
                "no hostname to present a certificate for".into(),
            ));
        };
        let resolver = Arc::new(SniResolver {
            by_name: keys.into_iter().collect(),
            default,
        });
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?;
        let builder = match ca {
            Some(ca) => {
                let path = self
                    .find("cas", &format!("{ca}.crt"))
                    .ok_or_else(|| Error::Tls(format!("Missing CA Certificate for {ca}")))?;
                let mut roots = RootCertStore::empty();
                for cert in load_certs(&path)? {
                    roots.add(cert).map_err(tls_err)?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|err| Error::Tls(err.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(builder.with_cert_resolver(resolver)))
    }

    /// A client configuration: server certs are checked against every `cas/*.crt` (the name
    /// is checked by hand after connecting, see [`ClientTls`]), or pinned by `certhash` (a
    /// lowercase hex SHA-256 of the DER certificate, no CA check); `certname` presents
    /// `users/<certname>.crt` as a client certificate.
    pub fn client_config(
        &self,
        certname: Option<&str>,
        certhash: Option<&str>,
    ) -> Result<Arc<rustls::ClientConfig>, Error> {
        let provider = provider();
        let verifier: Arc<dyn ServerCertVerifier> = match certhash {
            Some(hash) => Arc::new(PinnedVerifier {
                hash: hash.to_ascii_lowercase(),
                algs: provider.signature_verification_algorithms,
            }),
            None => {
                let mut roots = RootCertStore::empty();
                for path in self.ca_paths() {
                    for cert in load_certs(&path)? {
                        // A bad CA file is skipped, as OpenSSL would fail only that file.
                        if let Err(err) = roots.add(cert) {
                            tracing::warn!(path = %path.display(), %err, "skipping CA certificate");
                        }
                    }
                }
                Arc::new(CaVerifier {
                    inner: if roots.is_empty() {
                        None
                    } else {
                        Some(
                            rustls::client::WebPkiServerVerifier::builder_with_provider(
                                Arc::new(roots),
                                Arc::clone(&provider),
                            )
                            .build()
                            .map_err(|err| Error::Tls(err.to_string()))?,
                        )
                    },
                    algs: provider.signature_verification_algorithms,
                })
            }
        };
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match certname {
            Some(certname) => {
                let username = match certname.split_once('@') {
                    Some((user, host)) => self.user_for_host(user, host),
                    None => Some(certname.to_owned()),
                };
                let not_found = || Error::Tls(format!("User certificate not found: {certname}"));
                let username = username.ok_or_else(not_found)?;
                let crt = self
                    .find("users", &format!("{username}.crt"))
                    .ok_or_else(not_found)?;
                let key = self
                    .find("users", &format!("{username}.key"))
                    .ok_or_else(|| Error::Tls(format!("User private key not found: {certname}")))?;
                builder
                    .with_client_auth_cert(load_certs(&crt)?, load_key(&key)?)
                    .map_err(tls_err)?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}

/// The TLS settings of one `ssl://` client URL.
#[derive(Clone)]
pub struct ClientTls {
    /// The rustls configuration.
    pub config: Arc<rustls::ClientConfig>,
    /// The SNI name and the expected certificate common name (`hostname=`, default the host).
    pub hostname: String,
    /// When set, the certificate is pinned and the common name is not checked.
    pub certhash: Option<String>,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("hostname", &self.hostname)
            .field("certhash", &self.certhash)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// The SNI server name (an IP address for a numeric host).
    pub(crate) fn server_name(&self) -> Result<ServerName<'static>, Error> {
        ServerName::try_from(self.hostname.clone())
            .map_err(|_| Error::Tls(format!("invalid TLS hostname: {}", self.hostname)))
    }

    /// After the handshake: the peer certificate's CN must equal `hostname` unless pinned.
    pub(crate) fn check_peer(&self, certs: Option<&[CertificateDer<'_>]>) -> Result<(), Error> {
        if self.certhash.is_some() {
            return Ok(());
        }
        let cn = certs
            .and_then(|certs| certs.first())
            .and_then(|cert| subject_cn(cert.as_ref()));
        if cn.as_deref() != Some(self.hostname.as_str()) {
            return Err(Error::BadCertHost(format!(
                "Expected: {} Got: {}",
                self.hostname,
                cn.as_deref().unwrap_or("None")
            )));
        }
        Ok(())
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_err(err: rustls::Error) -> Error {
    Error::Tls(err.to_string())
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = std::fs::read(path)
        .map_err(|err| Error::Tls(format!("cannot read {}: {err}", path.display())))?;
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut bytes.as_slice()).collect();
    let certs =
        certs.map_err(|err| Error::Tls(format!("bad certificate {}: {err}", path.display())))?;
    if certs.is_empty() {
        return Err(Error::Tls(format!("no certificate in {}", path.display())));
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    let bytes = std::fs::read(path)
        .map_err(|err| Error::Tls(format!("cannot read {}: {err}", path.display())))?;
    rustls_pemfile::private_key(&mut bytes.as_slice())
        .map_err(|err| Error::Tls(format!("bad key {}: {err}", path.display())))?
        .ok_or_else(|| Error::Tls(format!("no private key in {}", path.display())))
}

#[derive(Debug)]
struct SniResolver {
    by_name: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = hello
            .server_name()
            .and_then(|name| self.by_name.get(name))
            .unwrap_or(&self.default);
        Some(Arc::clone(chosen))
    }
}

/// Checks the chain against the cert dir's CAs but not the name (the reference turns
/// `check_hostname` off and compares the CN by hand after connecting).
#[derive(Debug)]
struct CaVerifier {
    inner: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for CaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(inner) = &self.inner else {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            ));
        };
        match inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Ok(ok) => Ok(ok),
            // The chain was verified before the name check: accept, the CN is checked later.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            Err(err) => Err(err),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Accepts exactly the certificate whose SHA-256 is pinned.
#[derive(Debug)]
struct PinnedVerifier {
    hash: String,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let have = hex::encode(sha2::Sha256::digest(end_entity.as_ref()));
        if have == self.hash {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "Server cert does not match pinned certhash={}.",
                self.hash
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// The first subject commonName of a DER certificate.
pub fn subject_cn(der: &[u8]) -> Option<String> {
    let (cert, _) = der_tlv(der, 0x30)?;
    let (tbs, _) = der_tlv(cert, 0x30)?;
    let mut rest = tbs;
    // [0] EXPLICIT version, optional.
    if rest.first() == Some(&0xa0) {
        rest = der_skip(rest)?;
    }
    rest = der_skip(rest)?; // serialNumber
    rest = der_skip(rest)?; // signature algorithm
    rest = der_skip(rest)?; // issuer
    rest = der_skip(rest)?; // validity
    let (mut subject, _) = der_tlv(rest, 0x30)?;
    while !subject.is_empty() {
        let (mut rdn, after) = der_tlv(subject, 0x31)?;
        subject = after;
        while !rdn.is_empty() {
            let (atv, after) = der_tlv(rdn, 0x30)?;
            rdn = after;
            let (oid, value) = der_tlv(atv, 0x06)?;
            if oid == [0x55, 0x04, 0x03] {
                let (&tag, _) = value.split_first()?;
                let (text, _) = der_tlv(value, tag)?;
                return Some(match tag {
                    // BMPString: UTF-16BE.
                    0x1e => {
                        let units: Vec<u16> = text
                            .chunks(2)
                            .map(|pair| u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]))
                            .collect();
                        String::from_utf16_lossy(&units)
                    }
                    _ => String::from_utf8_lossy(text).into_owned(),
                });
            }
        }
    }
    None
}

/// Split one DER element with the expected tag: (contents, rest).
fn der_tlv(bytes: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&have, rest) = bytes.split_first()?;
    if have != tag {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let nbytes = usize::from(first & 0x7f);
        if nbytes == 0 || nbytes > 4 || rest.len() < nbytes {
            return None;
        }
        let mut len = 0usize;
        for byte in &rest[..nbytes] {
            len = (len << 8) | usize::from(*byte);
        }
        rest = &rest[nbytes..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

fn der_skip(bytes: &[u8]) -> Option<&[u8]> {
    let tag = *bytes.first()?;
    der_tlv(bytes, tag).map(|(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cn_of_a_generated_cert() {
        let mut params = rcgen::CertificateParams::new(vec!["example.local".to_owned()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "org");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "visi@vertex.link");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            subject_cn(cert.der().as_ref()).as_deref(),
            Some("visi@vertex.link")
        );
        assert_eq!(subject_cn(&[0x30, 0x03, 0x01]), None);
        assert_eq!(subject_cn(&[]), None);
    }

    #[test]
    fn user_for_host_walks_up() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("users")).unwrap();
        std::fs::write(dir.path().join("users/visi@vertex.link.crt"), b"x").unwrap();
        let certdir = CertDir::new([dir.path()]);
        assert_eq!(
            certdir
                .user_for_host("visi", "cortex.vertex.link")
                .as_deref(),
            Some("visi@vertex.link")
        );
        assert_eq!(certdir.user_for_host("root", "vertex.link"), None);
    }
}
