//! The etcd directory against a real etcd server (Debian `etcd-server`,
//! which scripts/setup.sh installs), started here on loopback ports and
//! removed after: registration and watch between two entries, a lease
//! revoked at shutdown (the peer sees the entry go at once, not a TTL
//! later), an etcd restart that changes nothing and is reconnected, and
//! TLS with client certificates (rcgen-made), refused without one.

use engine::psp::Version;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rpc::directory::etcd::{EtcdConfig, EtcdDirectory, EtcdTls};
use rpc::directory::record::{Record, VfRecord};
use rpc::directory::view::Change;
use rpc::runtime::RpcRuntime;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An etcd server of our own; killed and its data removed on drop.
struct Etcd {
    child: Option<Child>,
    dir: PathBuf,
    client: u16,
    peer: u16,
    tls: Option<Pki>,
}

/// PEM files of a CA, etcd's server certificate and a client's.
struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
}

fn pki() -> Pki {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, "directory test CA");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().unwrap();
    let ca_pem = p.self_signed(&key).unwrap().pem();
    let issuer = Issuer::new(p, key);
    let leaf = |cn: &str, usage: ExtendedKeyUsagePurpose| {
        let mut p =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.use_authority_key_identifier_extension = true;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        p.extended_key_usages = vec![usage, ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        (p.signed_by(&key, &issuer).unwrap().pem(), key.serialize_pem())
    };
    Pki {
        ca: ca_pem,
        server: leaf("etcd", ExtendedKeyUsagePurpose::ServerAuth),
        client: leaf("gateway", ExtendedKeyUsagePurpose::ClientAuth),
    }
}

impl Etcd {
    fn start(name: &str, tls: Option<Pki>) -> Etcd {
        let dir = std::env::temp_dir().join(format!("rpc-etcd-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut e = Etcd { child: None, dir, client: free_port(), peer: free_port(), tls };
        e.run();
        e
    }

    fn run(&mut self) {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let client = format!("{scheme}://127.0.0.1:{}", self.client);
        let peer = format!("http://127.0.0.1:{}", self.peer);
        let mut cmd = Command::new("etcd");
        cmd.args(["--name", "t", "--data-dir"])
            .arg(self.dir.join("data"))
            .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("t={peer}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(p) = &self.tls {
            let w = |n: &str, s: &str| {
                let f = self.dir.join(n);
                std::fs::write(&f, s).unwrap();
                f
            };
            cmd.arg("--cert-file").arg(w("server.crt", &p.server.0));
            cmd.arg("--key-file").arg(w("server.key", &p.server.1));
            cmd.arg("--trusted-ca-file").arg(w("ca.crt", &p.ca));
            cmd.arg("--client-cert-auth");
        }
        self.child =
            Some(cmd.spawn().expect("etcd (Debian etcd-server; scripts/setup.sh installs it)"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.client)).is_err() {
            assert!(Instant::now() < deadline, "etcd did not listen on {}", self.client);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn record(id: &str, port: u16, vip: u8) -> Record {
    Record {
        instance_id: id.into(),
        grpc_addr: SocketAddr::from(([127, 0, 0, 1], port)),
        uplink_ip: "fd00:1::1".parse().unwrap(),
        uplink_mac: None,
        vfs: vec![VfRecord {
            name: "vf0".into(),
            virt_ips: vec![Ipv4Addr::new(10, 0, 0, vip).into()],
        }],
        psp_versions: Version::ALL.to_vec(),
        version: "test".into(),
    }
}

fn config(etcd: &Etcd, record: Record, tls: Option<EtcdTls>) -> EtcdConfig {
    EtcdConfig {
        endpoints: vec![format!("127.0.0.1:{}", etcd.client)],
        prefix: "/t".into(),
        tls,
        ttl: Duration::from_secs(30),
        record,
    }
}

/// A directory whose changes arrive on the returned receiver.
fn start(rt: &RpcRuntime, cfg: EtcdConfig) -> (EtcdDirectory, mpsc::Receiver<Vec<Change>>) {
    let (tx, rx) = mpsc::channel();
    let d = EtcdDirectory::start(
        rt.handle(),
        cfg,
        Box::new(move |c, _| {
            let _ = tx.send(c);
        }),
    );
    (d, rx)
}

/// Waits for the change that places (or, `None`, withdraws) 10.0.0.`vip`.
fn wait_for(rx: &mpsc::Receiver<Vec<Change>>, vip: u8, peer: Option<u16>, within: Duration) {
    let want = Change {
        dst: Ipv4Addr::new(10, 0, 0, vip).into(),
        peer: peer.map(|p| SocketAddr::from(([127, 0, 0, 1], p))),
    };
    let deadline = Instant::now() + within;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Ok(changes) = rx.recv_timeout(left) {
            if changes.contains(&want) {
                return;
            }
        }
    }
    panic!("no {want:?} within {within:?}");
}

fn wait_health(d: &EtcdDirectory, connected: bool, within: Duration) {
    let deadline = Instant::now() + within;
    while d.health().connected != connected {
        assert!(Instant::now() < deadline, "connected is not {connected}: {:?}", d.health());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn entries_are_watched_revoked_at_shutdown_and_an_etcd_restart_changes_nothing() {
    let mut etcd = Etcd::start("plain", None);
    let rt = RpcRuntime::new().unwrap();
    let (a, rx_a) = start(&rt, config(&etcd, record("0a", 1, 1), None));
    let (b, _rx_b) = start(&rt, config(&etcd, record("0b", 2, 2), None));
    wait_for(&rx_a, 2, Some(2), Duration::from_secs(10));
    wait_health(&a, true, Duration::from_secs(5));
    assert_eq!(a.health().gateways, 1);
    // B stops: its lease is revoked, A sees it go long before the 30 s TTL.
    let t0 = Instant::now();
    rt.block_on(b.shutdown());
    wait_for(&rx_a, 2, None, Duration::from_secs(5));
    assert!(t0.elapsed() < Duration::from_secs(5));
    // etcd down and back: A keeps its view (no change), reconnects, and
    // watches again.
    let (c, _rx_c) = start(&rt, config(&etcd, record("0c", 3, 3), None));
    wait_for(&rx_a, 3, Some(3), Duration::from_secs(10));
    etcd.stop();
    wait_health(&a, false, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(2));
    etcd.run();
    wait_health(&a, true, Duration::from_secs(15));
    assert!(a.health().reconnects >= 1, "{:?}", a.health());
    let during: Vec<Change> = rx_a.try_iter().flatten().collect();
    assert!(during.is_empty(), "the outage changed the view: {during:?}");
    let (_d, _rx_d) = start(&rt, config(&etcd, record("0d", 4, 4), None));
    wait_for(&rx_a, 4, Some(4), Duration::from_secs(10));
    rt.block_on(c.shutdown());
    wait_for(&rx_a, 3, None, Duration::from_secs(5));
    rt.block_on(a.shutdown());
}

#[test]
fn tls_with_a_client_certificate_and_without() {
    let p = pki();
    let tls = EtcdTls {
        ca_pem: p.ca.clone().into_bytes(),
        identity: Some((p.client.0.clone().into_bytes(), p.client.1.clone().into_bytes())),
    };
    let no_cert = EtcdTls { ca_pem: p.ca.clone().into_bytes(), identity: None };
    let etcd = Etcd::start("tls", Some(p));
    let rt = RpcRuntime::new().unwrap();
    let (a, rx_a) = start(&rt, config(&etcd, record("1a", 1, 1), Some(tls.clone())));
    let (_b, _rx_b) = start(&rt, config(&etcd, record("1b", 2, 2), Some(tls)));
    wait_for(&rx_a, 2, Some(2), Duration::from_secs(10));
    // etcd checks client certificates: without one nothing registers.
    let (n, rx_n) = start(&rt, config(&etcd, record("1c", 3, 3), Some(no_cert)));
    std::thread::sleep(Duration::from_secs(3));
    let h = n.health();
    assert!(!h.connected && h.registrations == 0 && h.last_error.is_some(), "{h:?}");
    assert!(rx_n.try_iter().flatten().next().is_none());
    assert!(rx_a.try_iter().flatten().all(|c| c.dst != std::net::IpAddr::from([10, 0, 0, 3])));
    rt.block_on(a.shutdown());
}
