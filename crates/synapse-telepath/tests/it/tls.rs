//! `ssl://`: the reference's cert dir layout and checks, between Rust peers (certificates made
//! by rcgen) and with the reference on either side (certificates made by its own certdir code).

use std::path::Path;
use std::time::Duration;

use sha2::Digest;
use synapse_telepath::{CertDir, DaemonConfig, Error, Proxy, ProxyOptions, Value};

use crate::fixture::test_daemon_with;
use crate::python;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A cert dir like make_certs.py's, made with rcgen. Returns the host cert's DER.
fn rcgen_certdir(dir: &Path) -> Vec<u8> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "testca");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    write(&dir.join("cas/testca.crt"), &ca_cert.pem());
    write(&dir.join("cas/testca.key"), &ca_key.serialize_pem());

    let mut host_der = Vec::new();
    for (kind, name, purpose) in [
        ("hosts", "testhost", ExtendedKeyUsagePurpose::ServerAuth),
        ("hosts", "otherhost", ExtendedKeyUsagePurpose::ServerAuth),
        (
            "users",
            "visi@testhost",
            ExtendedKeyUsagePurpose::ClientAuth,
        ),
        ("users", "nobody", ExtendedKeyUsagePurpose::ClientAuth),
    ] {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.replace('@', ".")]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![purpose];
        let cert = params.signed_by(&key, &ca_cert, &ca_key).unwrap();
        if name == "testhost" {
            host_der = cert.der().to_vec();
        }
        write(&dir.join(format!("{kind}/{name}.crt")), &cert.pem());
        write(
            &dir.join(format!("{kind}/{name}.key")),
            &key.serialize_pem(),
        );
    }
    host_der
}

fn opts(certdir: &Path) -> ProxyOptions {
    ProxyOptions {
        certdir: CertDir::new([certdir]),
        connect_timeout: Some(Duration::from_secs(10)),
        ..ProxyOptions::default()
    }
}

#[tokio::test]
async fn rust_tls_checks() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let host_der = rcgen_certdir(&certs);
    let conf = DaemonConfig {
        certdir: CertDir::new([&certs]),
        ..DaemonConfig::default()
    };
    let (daemon, _state) = test_daemon_with(conf);
    let plain = daemon
        .listen("ssl://127.0.0.1:0?hostname=testhost")
        .await
        .unwrap()
        .port()
        .unwrap();
    let certed = daemon
        .listen("ssl://127.0.0.1:0?hostname=testhost,otherhost&ca=testca")
        .await
        .unwrap()
        .port()
        .unwrap();

    // CA check plus the CN check.
    let proxy = Proxy::open_with(
        &format!("ssl://root:secret@127.0.0.1:{plain}/?hostname=testhost"),
        opts(&certs),
    )
    .await
    .unwrap();
    assert_eq!(
        proxy.call("getCellType", vec![], vec![]).await.unwrap(),
        Value::from("vecaxon")
    );
    assert_eq!(
        daemon.sessions()[0].pack()["conninfo"]["family"],
        Value::from("tls")
    );
    proxy.fini().await;

    // The CN must match.
    let err = Proxy::open_with(
        &format!("ssl://root:secret@127.0.0.1:{plain}/?hostname=otherhost"),
        opts(&certs),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::BadCertHost(_)), "{err}");

    // No CA for the server's certificate.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = Proxy::open_with(
        &format!("ssl://root:secret@127.0.0.1:{plain}/?hostname=testhost"),
        opts(&empty),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err}");

    // Pinned by hash instead: no CA needed, no CN check.
    let hash = hex::encode(sha2::Sha256::digest(&host_der));
    let url = format!("ssl://root:secret@127.0.0.1:{plain}/?certhash={hash}&hostname=whatever");
    let proxy = Proxy::open_with(&url, opts(&empty)).await.unwrap();
    assert_eq!(
        proxy.call("getCellType", vec![], vec![]).await.unwrap(),
        Value::from("vecaxon")
    );
    proxy.fini().await;
    let url = format!(
        "ssl://root:secret@127.0.0.1:{plain}/?certhash={}",
        "0".repeat(64)
    );
    let err = Proxy::open_with(&url, opts(&empty)).await.unwrap_err();
    assert!(matches!(err, Error::LinkBadCert(_)), "{err}");

    // A client certificate names the user; no password needed (users/visi@testhost).
    let proxy = Proxy::open_with(
        &format!("ssl://visi@127.0.0.1:{certed}/?hostname=testhost"),
        opts(&certs),
    )
    .await
    .unwrap();
    let user = proxy.call("getCellUser", vec![], vec![]).await.unwrap();
    assert_eq!(user["name"], Value::from("visi"));
    proxy.fini().await;
    // SNI picks the other host certificate.
    let proxy = Proxy::open_with(
        &format!("ssl://127.0.0.1:{certed}/?hostname=otherhost&certname=visi@testhost"),
        opts(&certs),
    )
    .await
    .unwrap();
    proxy.fini().await;
    // A certificate for an unknown user.
    let err = Proxy::open_with(
        &format!("ssl://127.0.0.1:{certed}/?hostname=testhost&certname=nobody"),
        opts(&certs),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name(), "NoSuchUser");
    // Without a client certificate the TLS handshake fails.
    let err = Proxy::open_with(
        &format!("ssl://root:secret@127.0.0.1:{certed}/?hostname=testhost"),
        opts(&certs),
    )
    .await;
    assert!(err.is_err());
    // A user with no certificate file.
    let err = Proxy::open_with(
        &format!("ssl://root@127.0.0.1:{certed}/?hostname=testhost"),
        opts(&certs),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err}");
    daemon.fini().await;
}

async fn python_certdir(dir: &Path) -> std::path::PathBuf {
    let certs = dir.join("certs");
    let out = python::run("make_certs.py", vec![certs.display().to_string()]).await;
    python::assert_ok(&out);
    certs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_client_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let certs = python_certdir(dir.path()).await;
    let conf = DaemonConfig {
        certdir: CertDir::new([&certs]),
        ..DaemonConfig::default()
    };
    let (daemon, _state) = test_daemon_with(conf);
    let tcp = daemon
        .listen("tcp://127.0.0.1:0")
        .await
        .unwrap()
        .port()
        .unwrap();
    let plain = daemon
        .listen("ssl://127.0.0.1:0?hostname=testhost")
        .await
        .unwrap()
        .port()
        .unwrap();
    let certed = daemon
        .listen("ssl://127.0.0.1:0?hostname=testhost&ca=testca")
        .await
        .unwrap()
        .port()
        .unwrap();
    let sock = dir.path().join("sock");
    daemon
        .listen(&format!("unix://{}", sock.display()))
        .await
        .unwrap();
    let out = python::run_with(
        "ref_client.py",
        vec![
            format!("tcp://127.0.0.1:{tcp}"),
            sock.display().to_string(),
            format!("ssl://127.0.0.1:{plain}"),
            format!("ssl://127.0.0.1:{certed}"),
        ],
        vec![("SYN_CERT_DIR".into(), certs.display().to_string())],
    )
    .await;
    python::assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok tls"));
    daemon.fini().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_proxy_to_reference_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let certs = python_certdir(dir.path()).await;
    let server = python::RefServer::start_with(vec![(
        "REF_TLS_CERTDIR".into(),
        certs.display().to_string(),
    )])
    .await;
    let plain = server.info["ssl_port"].as_u64().unwrap();
    let certed = server.info["ssl_cert_port"].as_u64().unwrap();

    let proxy = Proxy::open_with(
        &format!("ssl://root:secret@127.0.0.1:{plain}/?hostname=testhost"),
        opts(&certs),
    )
    .await
    .unwrap();
    assert_eq!(
        proxy.call("getCellType", vec![], vec![]).await.unwrap(),
        Value::from("testaxon")
    );
    proxy.fini().await;

    let err = Proxy::open_with(
        &format!("ssl://root:secret@127.0.0.1:{plain}/?hostname=otherhost"),
        opts(&certs),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::BadCertHost(_)), "{err}");

    // The reference takes the user from the client certificate's CN (users/visi).
    let proxy = Proxy::open_with(
        &format!("ssl://127.0.0.1:{certed}/?hostname=testhost&certname=visi"),
        opts(&certs),
    )
    .await
    .unwrap();
    let user = proxy.call("getCellUser", vec![], vec![]).await.unwrap();
    assert_eq!(user["name"], Value::from("visi"));
    proxy.fini().await;
}
