//! Mutual TLS over real gRPC on 127.0.0.1 (ephemeral ports), with
//! certificates generated at test time (rcgen): a CA, a server certificate
//! for 127.0.0.1 and localhost, a client certificate from the CA, and
//! certificates from another CA. The fake backend is the minimal part of
//! `loopback.rs`'s.

use engine::psp::kdf::MasterKeyPair;
use engine::psp::{Spi, Version};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rpc::client::{Client, TunnelRequest};
use rpc::pb;
use rpc::pb::psp_gateway_client::PspGatewayClient;
use rpc::runtime::{RpcRuntime, RunningServer};
use rpc::server::{BackendError, EgressTunnel, Gateway, ServerConfig, TunnelBackend};
use rpc::tls::{TlsError, TlsFiles, TlsIdentity};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

// ---------------------------------------------------------------- fake backend

/// The fake datapath: ingress ACL and egress tunnels, comparable.
#[derive(Default)]
struct FakeBackend {
    acl: Mutex<BTreeMap<u32, IpAddr>>,
    egress: Mutex<BTreeMap<(IpAddr, IpAddr), u32>>,
    masters: Mutex<Option<MasterKeyPair>>,
}

impl FakeBackend {
    fn is_empty(&self) -> bool {
        self.acl.lock().unwrap().is_empty() && self.egress.lock().unwrap().is_empty()
    }
}

impl TunnelBackend for FakeBackend {
    fn tunnel_count(&self) -> usize {
        self.acl.lock().unwrap().len()
    }
    fn install_ingress_acl(&self, spi: Spi, peer: IpAddr, _: IpAddr) -> Result<(), BackendError> {
        self.acl.lock().unwrap().insert(spi.0, peer);
        Ok(())
    }
    fn remove_ingress_acl(&self, spi: Spi, _: IpAddr, _: IpAddr) {
        self.acl.lock().unwrap().remove(&spi.0);
    }
    fn create_egress_tunnel(&self, t: &EgressTunnel) -> Result<(), BackendError> {
        self.egress.lock().unwrap().insert((t.local_virt_ip, t.peer_virt_ip), t.params.spi.0);
        Ok(())
    }
    fn remove_egress_tunnel(&self, local: IpAddr, peer: IpAddr) {
        self.egress.lock().unwrap().remove(&(local, peer));
    }
    fn set_master_keys(&self, masters: Option<&MasterKeyPair>, _: Option<usize>) {
        *self.masters.lock().unwrap() = masters.cloned();
    }
}

// ---------------------------------------------------------------- certificates

const TIMEOUT: Duration = Duration::from_secs(10);
const OUR_VIRT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const THEIR_VIRT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1));

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("rpc-tls-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca { pem: cert.pem(), issuer: Issuer::new(params, key) }
}

/// (certificate PEM, key PEM) signed by `ca`, valid for `names`.
fn leaf(ca: &Ca, cn: &str, names: &[&str], usages: &[ExtendedKeyUsagePurpose]) -> (String, String) {
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = usages.to_vec();
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Every certificate and key of the tests, written as PEM files.
struct Pki {
    dir: TempDir,
    ca: PathBuf,
    other_ca: PathBuf,
    server: (PathBuf, PathBuf),
    client: (PathBuf, PathBuf),
    /// A client certificate signed by the other CA.
    rogue_client: (PathBuf, PathBuf),
    /// A server certificate for 127.0.0.1 signed by the other CA.
    rogue_server: (PathBuf, PathBuf),
}

impl Pki {
    fn new(name: &str) -> Pki {
        use ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
        let dir = TempDir::new(name);
        let (ours, other) = (ca("psp-gateway test CA"), ca("another CA"));
        let pair = |file: &str, (cert, key): (String, String)| {
            (dir.write(&format!("{file}.crt"), cert), dir.write(&format!("{file}.key"), key))
        };
        // A gateway certificate: server and client, as the binary uses one.
        let server = pair(
            "server",
            leaf(&ours, "gw-a", &["127.0.0.1", "localhost"], &[ServerAuth, ClientAuth]),
        );
        let client = pair("client", leaf(&ours, "gw-b", &["gw-b.example"], &[ClientAuth]));
        let rogue_client =
            pair("rogue-client", leaf(&other, "gw-b", &["gw-b.example"], &[ClientAuth]));
        let rogue_server =
            pair("rogue-server", leaf(&other, "gw-a", &["127.0.0.1", "localhost"], &[ServerAuth]));
        let ca = dir.write("ca.crt", &ours.pem);
        let other_ca = dir.write("other-ca.crt", &other.pem);
        Pki { dir, ca, other_ca, server, client, rogue_client, rogue_server }
    }

    fn files(&self, (cert, key): &(PathBuf, PathBuf), ca: &Path) -> TlsFiles {
        TlsFiles { cert: cert.clone(), key: key.clone(), ca: ca.to_owned() }
    }

    fn load(&self, pair: &(PathBuf, PathBuf), ca: &Path) -> TlsIdentity {
        self.files(pair, ca).load().unwrap()
    }
}

// ---------------------------------------------------------------- harness

struct Harness {
    rt: RpcRuntime,
    server: Option<RunningServer>,
    gw: Gateway<FakeBackend>,
    addr: SocketAddr,
}

impl Harness {
    fn start(tls: &TlsIdentity) -> Harness {
        let mut c = ServerConfig::new("192.0.2.20".parse().unwrap());
        c.local_virt_ips.insert(THEIR_VIRT);
        c.peers.insert(IpAddr::V4(Ipv4Addr::LOCALHOST), [OUR_VIRT].into());
        c.pool_size = 16;
        let rt = RpcRuntime::new().unwrap();
        let gw = Gateway::with_rng(c, FakeBackend::default(), ChaCha20Rng::seed_from_u64(7));
        let server = rt.start_server_tls("127.0.0.1:0".parse().unwrap(), gw.clone(), tls).unwrap();
        let addr = server.local_addr();
        Harness { rt, server: Some(server), gw, addr }
    }

    /// Connects with `tls` and asks for one tunnel; Err describes the
    /// failure (connect or request).
    fn request(&self, tls: &TlsIdentity, server_name: Option<&str>) -> Result<(), String> {
        let issued = self.rt.block_on(async {
            let mut c = Client::connect_tls(&self.addr.to_string(), TIMEOUT, tls, server_name)
                .await
                .map_err(|e| e.to_string())?;
            c.request_tunnels(
                &[Version::AesGcm256],
                &[TunnelRequest { virt_src: OUR_VIRT, virt_dst: THEIR_VIRT, reverse: None }],
            )
            .await
            .map_err(|e| e.to_string())
        })?;
        // The key is the one the server's master keys derive for the SPI.
        assert_eq!(issued.len(), 1);
        let p = &issued[0].params;
        let expected = self.gw.masters().expect("software keys").derive(p.spi, p.version);
        assert_eq!(p.key.as_bytes(), expected.as_bytes(), "key of SPI {}", p.spi);
        assert_eq!(p.version, Version::AesGcm256);
        assert_eq!(self.gw.backend().acl.lock().unwrap().get(&p.spi.0), Some(&OUR_VIRT));
        Ok(())
    }

    /// A raw request through `endpoint`; Err describes the failure.
    fn raw_request(&self, endpoint: Endpoint) -> Result<(), String> {
        self.rt.block_on(async {
            let channel = endpoint.connect().await.map_err(|e| format!("connect: {e:?}"))?;
            let req = pb::MultiTunnelRequest {
                request_id: 1,
                psp_versions_accepted: vec![1],
                tunnels: vec![pb::SingleTunnelRequest {
                    virt_src_ip: OUR_VIRT.to_string(),
                    virt_dst_ip: THEIR_VIRT.to_string(),
                    inner_type: 0,
                    reverse_params: None,
                }],
            };
            PspGatewayClient::new(channel)
                .request_multiple_tunnel_params(req)
                .await
                .map(|_| ())
                .map_err(|s| format!("request: {s:?}"))
        })
    }

    fn backend(&self) -> &FakeBackend {
        self.gw.backend()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown(&self.rt);
        }
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn mutual_tls_issues_derived_keys() {
    let pki = Pki::new("ok");
    let h = Harness::start(&pki.load(&pki.server, &pki.ca));
    let client = pki.load(&pki.client, &pki.ca);
    // Default server name: the host part of the address, 127.0.0.1, which
    // the server certificate carries as an IP address SAN.
    h.request(&client, None).unwrap();
    // Its DNS SAN.
    h.request(&client, Some("localhost")).unwrap();
    // The gateway certificate also works as a client certificate.
    h.request(&pki.load(&pki.server, &pki.ca), None).unwrap();
    // Three SPIs for the same pair, all kept (up to MAX_SPIS_PER_PAIR).
    assert_eq!(h.backend().tunnel_count(), 3);
}

#[test]
fn client_certificate_from_another_ca_gets_no_keys() {
    let pki = Pki::new("rogue-client");
    let h = Harness::start(&pki.load(&pki.server, &pki.ca));
    // It trusts our CA (so it accepts the server) but its own certificate
    // is signed by the other one.
    let rogue = pki.load(&pki.rogue_client, &pki.ca);
    let err = h.request(&rogue, None).unwrap_err();
    eprintln!("{err}");
    assert!(h.backend().is_empty(), "{err}");
    // The server goes on serving valid clients.
    h.request(&pki.load(&pki.client, &pki.ca), None).unwrap();
}

#[test]
fn client_without_certificate_gets_no_keys() {
    let pki = Pki::new("anonymous");
    let h = Harness::start(&pki.load(&pki.server, &pki.ca));
    let ca = Certificate::from_pem(std::fs::read(&pki.ca).unwrap());
    let endpoint = Endpoint::from_shared(format!("https://{}", h.addr))
        .unwrap()
        .timeout(TIMEOUT)
        .tls_config(ClientTlsConfig::new().ca_certificate(ca).domain_name("127.0.0.1"))
        .unwrap();
    let err = h.raw_request(endpoint).unwrap_err();
    eprintln!("{err}");
    assert!(h.backend().is_empty(), "{err}");
    h.request(&pki.load(&pki.client, &pki.ca), None).unwrap();
}

#[test]
fn plaintext_client_gets_no_keys() {
    let pki = Pki::new("plaintext");
    let h = Harness::start(&pki.load(&pki.server, &pki.ca));
    let endpoint = Endpoint::from_shared(format!("http://{}", h.addr)).unwrap().timeout(TIMEOUT);
    let err = h.raw_request(endpoint).unwrap_err();
    eprintln!("{err}");
    assert!(h.backend().is_empty(), "{err}");
    // The crate's own plaintext client, too.
    let res = h.rt.block_on(async {
        let mut c = Client::connect(&h.addr.to_string(), TIMEOUT).await?;
        c.request_tunnels(
            &[Version::AesGcm256],
            &[TunnelRequest { virt_src: OUR_VIRT, virt_dst: THEIR_VIRT, reverse: None }],
        )
        .await
    });
    assert!(res.is_err());
    assert!(h.backend().is_empty());
    h.request(&pki.load(&pki.client, &pki.ca), None).unwrap();
}

#[test]
fn client_refuses_unverified_servers() {
    let pki = Pki::new("server-check");
    // A server whose certificate comes from the other CA (it trusts ours
    // for clients): our client does not accept it.
    let rogue = TlsFiles { ca: pki.ca.clone(), ..pki.files(&pki.rogue_server, &pki.ca) };
    let h = Harness::start(&rogue.load().unwrap());
    let client = pki.load(&pki.client, &pki.ca);
    let err = h.request(&client, None).unwrap_err();
    assert!(err.contains("connecting to https://127.0.0.1:"), "{err}");
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert!(h.backend().is_empty());
    drop(h);

    // The right server, under a name its certificate does not carry.
    let h = Harness::start(&pki.load(&pki.server, &pki.ca));
    let err = h.request(&client, Some("gw-a.example")).unwrap_err();
    assert!(err.contains("connecting to https://127.0.0.1:"), "{err}");
    assert!(err.contains("not valid for name"), "{err}");
    // A server name that is neither a DNS name nor an IP address.
    let err = h.request(&client, Some("not a name!")).unwrap_err();
    assert!(err.starts_with("TLS for https://127.0.0.1:"), "{err}");
    assert!(h.backend().is_empty());
    // A client that trusts only the other CA.
    let err = h.request(&pki.load(&pki.rogue_client, &pki.other_ca), None).unwrap_err();
    eprintln!("{err}");
    assert!(h.backend().is_empty(), "{err}");
    h.request(&client, None).unwrap();
}

#[test]
fn load_errors_name_the_file() {
    let pki = Pki::new("load");
    let good = pki.files(&pki.server, &pki.ca);
    let check = |files: TlsFiles, file: &Path, what: &str| {
        let err = files.load().unwrap_err();
        let msg = err.to_string();
        eprintln!("{msg}");
        assert!(msg.contains(&file.display().to_string()), "{msg}");
        assert!(msg.contains(what), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        err
    };

    let missing = pki.dir.0.join("nope.crt");
    for files in [
        TlsFiles { cert: missing.clone(), ..good.clone() },
        TlsFiles { key: missing.clone(), ..good.clone() },
        TlsFiles { ca: missing.clone(), ..good.clone() },
    ] {
        let err = check(files, &missing, "no such file");
        assert!(matches!(err, TlsError::Missing { .. }));
    }
    let err =
        check(TlsFiles { cert: pki.dir.0.clone(), ..good.clone() }, &pki.dir.0, "cannot read");
    assert!(matches!(err, TlsError::Unreadable { .. }));

    let text = pki.dir.write("text.pem", "hello, not a certificate\n");
    for files in [
        TlsFiles { cert: text.clone(), ..good.clone() },
        TlsFiles { key: text.clone(), ..good.clone() },
        TlsFiles { ca: text.clone(), ..good.clone() },
    ] {
        let err = check(files, &text, "not PEM");
        assert!(matches!(err, TlsError::NotPem { .. }));
    }
    let der = pki.dir.write("binary.der", [0x30u8, 0x82, 0x01, 0x00, 0xff, 0x00]);
    check(TlsFiles { ca: der.clone(), ..good.clone() }, &der, "not PEM");
    let truncated = pki.dir.write("truncated.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n");
    check(
        TlsFiles { cert: truncated.clone(), ..good.clone() },
        &truncated,
        "-----END CERTIFICATE-----",
    );

    // A key where a certificate belongs, and the other way round.
    let key = &pki.server.1;
    let err = check(TlsFiles { cert: key.clone(), ..good.clone() }, key, "no certificate");
    assert!(matches!(err, TlsError::NoCertificate { .. }));
    check(TlsFiles { ca: key.clone(), ..good.clone() }, key, "no certificate");
    let err = check(TlsFiles { key: pki.ca.clone(), ..good.clone() }, &pki.ca, "no key");
    assert!(matches!(err, TlsError::NoKey { encrypted: false, .. }));
    let encrypted = pki.dir.write(
        "encrypted.key",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    let err = check(TlsFiles { key: encrypted.clone(), ..good.clone() }, &encrypted, "encrypted");
    assert!(matches!(err, TlsError::NoKey { encrypted: true, .. }));

    // Well-formed files that do not belong together: the client's key
    // with the server's certificate.
    let err =
        check(TlsFiles { key: pki.client.1.clone(), ..good.clone() }, &pki.client.1, "rejected");
    assert!(matches!(err, TlsError::Rejected { .. }));

    good.load().unwrap();
}
