//! The requesting side: asks a peer gateway for tunnel parameters.

use crate::params::{ParamError, TunnelParams};
use crate::pb;
use crate::pb::psp_gateway_client::PspGatewayClient;
use crate::pb_ext;
use crate::pb_ext::admin_client::AdminClient;
use crate::pb_ext::session_client::SessionClient;
use crate::tls::{error_chain, TlsIdentity};
use engine::psp::Version;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// Why a request to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `svc-addr` could not be understood.
    #[error("bad service address {0:?}: expected host[:port]")]
    BadAddress(String),
    /// No connection to the peer (TCP, or the TLS handshake).
    #[error("connecting to {addr}: {}", error_chain(source))]
    Connect {
        /// The address dialled.
        addr: String,
        /// The transport error.
        source: tonic::transport::Error,
    },
    /// The TLS configuration was refused (a server name that is neither a
    /// DNS name nor an IP address, say).
    #[error("TLS for {addr}: {reason}")]
    Tls {
        /// The URI dialled.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The peer refused (its gRPC status).
    #[error("peer refused: {0}")]
    Status(#[from] tonic::Status),
    /// The peer answered something this client does not accept.
    #[error("bad response: {0}")]
    BadResponse(String),
    /// The peer's parameters for one tunnel are invalid.
    #[error("bad parameters for tunnel {index}: {source}")]
    BadParams {
        /// Index in the request.
        index: usize,
        /// What was wrong.
        source: ParamError,
    },
    /// Nothing to request.
    #[error("empty tunnel batch")]
    Empty,
}

impl ClientError {
    /// Whether the connection (not the peer) failed: the caller should
    /// dial again rather than reuse the channel.
    pub fn is_transport(&self) -> bool {
        match self {
            ClientError::Connect { .. } => true,
            ClientError::Status(s) => {
                matches!(s.code(), tonic::Code::Unavailable | tonic::Code::Unknown)
            }
            _ => false,
        }
    }
}

/// Splits `svc-addr[:port]` into the `http://host:port` URI to dial; the
/// port defaults to [`crate::DEFAULT_PORT`]. IPv6 literals need brackets
/// when a port is given (`[fd00::1]:3000`) and may go without otherwise.
pub fn service_uri(svc_addr: &str) -> Result<String, ClientError> {
    Ok(format!("http://{}", service_target(svc_addr)?.0))
}

/// As [`service_uri`], with the `https` scheme (mutual TLS).
pub fn service_uri_tls(svc_addr: &str) -> Result<String, ClientError> {
    Ok(format!("https://{}", service_target(svc_addr)?.0))
}

/// The host part of `svc-addr[:port]`, without brackets: the name the
/// peer's certificate must be valid for (an IP address SAN for an IP
/// address) unless another is given.
pub fn service_host(svc_addr: &str) -> Result<String, ClientError> {
    Ok(service_target(svc_addr)?.1)
}

/// (`host:port` for a URI, bare host).
fn service_target(svc_addr: &str) -> Result<(String, String), ClientError> {
    let bad = || ClientError::BadAddress(svc_addr.to_owned());
    if let Ok(sa) = svc_addr.parse::<SocketAddr>() {
        return Ok((sa.to_string(), sa.ip().to_string()));
    }
    if let Ok(ip) = svc_addr.parse::<IpAddr>() {
        return Ok((SocketAddr::new(ip, crate::DEFAULT_PORT).to_string(), ip.to_string()));
    }
    let (host, port) = match svc_addr.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
        None => (svc_addr, crate::DEFAULT_PORT),
    };
    let host_ok = !host.is_empty()
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !host_ok || port == 0 {
        return Err(bad());
    }
    Ok((format!("{host}:{port}"), host.to_owned()))
}

/// One tunnel to ask a peer for.
#[derive(Debug, Clone)]
pub struct TunnelRequest {
    /// Our virtual address (the inner source of our packets).
    pub virt_src: IpAddr,
    /// The peer's virtual address.
    pub virt_dst: IpAddr,
    /// Our parameters for the way back, so the peer can send at once.
    pub reverse: Option<TunnelParams>,
}

/// What the peer issued for one requested tunnel: how to send to it.
#[derive(Debug, Clone)]
pub struct IssuedTunnel {
    /// Our virtual address, as requested.
    pub virt_src: IpAddr,
    /// The peer's virtual address, as requested.
    pub virt_dst: IpAddr,
    /// The peer's SPI, key, version, addresses and cookie.
    pub params: TunnelParams,
}

/// A connection to one peer's `PSP_Gateway` service.
#[derive(Debug, Clone)]
pub struct Client {
    inner: PspGatewayClient<Channel>,
    session: SessionClient<Channel>,
    admin: AdminClient<Channel>,
    next_request_id: u64,
}

/// What a peer's `Session/Hello` says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerSession {
    /// A psp-gateway peer: its process instance and master-key epoch.
    Known {
        /// Random per peer process: a new one means the peer restarted.
        instance_id: u64,
        /// The peer's master-key rotations since it started.
        key_epoch: u64,
    },
    /// The peer serves no `Session` service (a DOCA gateway): it is up,
    /// and nothing more is known.
    Unknown,
}

impl Client {
    /// Connects to `svc_addr` (`host[:port]`, default port
    /// [`crate::DEFAULT_PORT`]) in plaintext, giving up after `timeout`.
    pub async fn connect(svc_addr: &str, timeout: Duration) -> Result<Client, ClientError> {
        let uri = service_uri(svc_addr)?;
        let endpoint = Endpoint::from_shared(uri.clone())
            .map_err(|_| ClientError::BadAddress(svc_addr.to_owned()))?;
        Self::open(endpoint, uri, timeout).await
    }

    /// As [`Client::connect`], over mutual TLS: the server's certificate
    /// must chain to `tls`'s CA and be valid for `server_name` (default:
    /// the host part of `svc_addr`, see [`service_host`]); we present
    /// `tls`'s certificate chain.
    pub async fn connect_tls(
        svc_addr: &str,
        timeout: Duration,
        tls: &TlsIdentity,
        server_name: Option<&str>,
    ) -> Result<Client, ClientError> {
        let uri = service_uri_tls(svc_addr)?;
        let name = match server_name {
            Some(n) => n.to_owned(),
            None => service_host(svc_addr)?,
        };
        let endpoint = Endpoint::from_shared(uri.clone())
            .map_err(|_| ClientError::BadAddress(svc_addr.to_owned()))?
            .tls_config(tls.client_config(&name))
            .map_err(|e| ClientError::Tls { addr: uri.clone(), reason: error_chain(&e) })?;
        Self::open(endpoint, uri, timeout).await
    }

    /// [`Client::connect_tls`] (with the default server name) when `tls`
    /// is given, else [`Client::connect`].
    pub async fn connect_with(
        svc_addr: &str,
        timeout: Duration,
        tls: Option<&TlsIdentity>,
    ) -> Result<Client, ClientError> {
        match tls {
            Some(tls) => Self::connect_tls(svc_addr, timeout, tls, None).await,
            None => Self::connect(svc_addr, timeout).await,
        }
    }

    async fn open(
        endpoint: Endpoint,
        uri: String,
        timeout: Duration,
    ) -> Result<Client, ClientError> {
        let channel = endpoint
            .connect_timeout(timeout)
            .timeout(timeout)
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|source| ClientError::Connect { addr: uri, source })?;
        let session = SessionClient::new(channel.clone())
            .max_decoding_message_size(4096)
            .max_encoding_message_size(4096);
        let admin = AdminClient::new(channel.clone())
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(4096);
        let inner = PspGatewayClient::new(channel)
            .max_decoding_message_size(16 << 20)
            .max_encoding_message_size(16 << 20);
        // Request ids only need to be unique per initiating host: start
        // from the clock so a restarted gateway does not reuse them.
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Ok(Client { inner, session, admin, next_request_id: start })
    }

    fn request_id(&mut self) -> u64 {
        self.next_request_id = self.next_request_id.wrapping_add(1);
        self.next_request_id
    }

    /// Asks the peer for one SPI and key per tunnel in one request,
    /// offering `versions` in decreasing preference. Checks the answer:
    /// same request id, one set of parameters per tunnel, a version we
    /// offered, keys of that version's length, valid addresses.
    pub async fn request_tunnels(
        &mut self,
        versions: &[Version],
        tunnels: &[TunnelRequest],
    ) -> Result<Vec<IssuedTunnel>, ClientError> {
        if tunnels.is_empty() {
            return Err(ClientError::Empty);
        }
        let request_id = self.request_id();
        let req = pb::MultiTunnelRequest {
            request_id,
            psp_versions_accepted: versions.iter().map(|v| u32::from(v.wire())).collect(),
            tunnels: tunnels
                .iter()
                .map(|t| pb::SingleTunnelRequest {
                    virt_src_ip: t.virt_src.to_string(),
                    virt_dst_ip: t.virt_dst.to_string(),
                    inner_type: crate::params::inner_type_of(t.virt_src),
                    reverse_params: t.reverse.as_ref().map(TunnelParams::to_wire),
                })
                .collect(),
        };
        // tonic consumes the request (and its copy of our reverse keys);
        // its encode buffers are not wiped, see the crate docs.
        let mut resp = self.inner.request_multiple_tunnel_params(req).await?.into_inner();
        let checked = check_response(request_id, versions, tunnels, &resp);
        for p in resp.tunnels_params.iter_mut() {
            p.wipe_key();
        }
        checked
    }

    /// Asks the peer who it is (`psp_gateway_ext.Session/Hello`): its
    /// instance id and key epoch, or [`PeerSession::Unknown`] when it does
    /// not serve the session service (DOCA).
    pub async fn hello(&mut self) -> Result<PeerSession, ClientError> {
        let request_id = self.request_id();
        match self.session.hello(pb_ext::HelloRequest { request_id }).await {
            Ok(resp) => {
                let resp = resp.into_inner();
                if resp.request_id != request_id {
                    return Err(ClientError::BadResponse(format!(
                        "request id {} answered as {}",
                        request_id, resp.request_id
                    )));
                }
                Ok(PeerSession::Known { instance_id: resp.instance_id, key_epoch: resp.key_epoch })
            }
            Err(s) if s.code() == tonic::Code::Unimplemented => Ok(PeerSession::Unknown),
            Err(s) => Err(s.into()),
        }
    }

    /// The gateway's status (`psp_gateway_ext.Admin/Status`): tunnels,
    /// peers, counters.
    pub async fn status(&mut self) -> Result<pb_ext::StatusResponse, ClientError> {
        Ok(self.admin.status(pb_ext::StatusRequest {}).await?.into_inner())
    }

    /// Asks the peer to rotate its master key (DOCA's gateways and ours
    /// rotate whatever `issue_new_keys` says; some DOCA releases refuse
    /// `true` as not implemented).
    pub async fn request_key_rotation(&mut self, issue_new_keys: bool) -> Result<(), ClientError> {
        let request_id = self.request_id();
        let resp = self
            .inner
            .request_key_rotation(pb::KeyRotationRequest { request_id, issue_new_keys })
            .await?
            .into_inner();
        if resp.request_id != request_id {
            return Err(ClientError::BadResponse(format!(
                "request id {} answered as {}",
                request_id, resp.request_id
            )));
        }
        Ok(())
    }
}

fn check_response(
    request_id: u64,
    versions: &[Version],
    tunnels: &[TunnelRequest],
    resp: &pb::MultiTunnelResponse,
) -> Result<Vec<IssuedTunnel>, ClientError> {
    if resp.request_id != request_id {
        return Err(ClientError::BadResponse(format!(
            "request id {} answered as {}",
            request_id, resp.request_id
        )));
    }
    if resp.tunnels_params.len() != tunnels.len() {
        return Err(ClientError::BadResponse(format!(
            "{} tunnels requested, {} answered",
            tunnels.len(),
            resp.tunnels_params.len()
        )));
    }
    tunnels
        .iter()
        .zip(&resp.tunnels_params)
        .enumerate()
        .map(|(index, (t, p))| {
            let params = TunnelParams::from_wire(p)
                .map_err(|source| ClientError::BadParams { index, source })?;
            if !versions.contains(&params.version) {
                return Err(ClientError::BadResponse(format!(
                    "tunnel {index}: PSP version {} was not offered",
                    params.version.wire()
                )));
            }
            Ok(IssuedTunnel { virt_src: t.virt_src, virt_dst: t.virt_dst, params })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn service_addresses() {
        assert_eq!(service_uri("127.0.0.1").unwrap(), "http://127.0.0.1:3000");
        assert_eq!(service_uri("127.0.0.1:3001").unwrap(), "http://127.0.0.1:3001");
        assert_eq!(service_uri("::1").unwrap(), "http://[::1]:3000");
        assert_eq!(service_uri("[::1]:50051").unwrap(), "http://[::1]:50051");
        assert_eq!(service_uri("gw-b.example").unwrap(), "http://gw-b.example:3000");
        assert_eq!(service_uri("gw-b:4000").unwrap(), "http://gw-b:4000");
        assert_eq!(service_uri_tls("[::1]:50051").unwrap(), "https://[::1]:50051");
        assert_eq!(service_host("[::1]:50051").unwrap(), "::1");
        assert_eq!(service_host("::1").unwrap(), "::1");
        assert_eq!(service_host("127.0.0.1:3001").unwrap(), "127.0.0.1");
        assert_eq!(service_host("gw-b.example").unwrap(), "gw-b.example");
        assert_eq!(service_host("gw-b:4000").unwrap(), "gw-b");
        for bad in ["", ":3000", "gw:", "gw:x", "gw:70000", "gw b", "http://gw", "gw:0"] {
            assert!(service_uri(bad).is_err(), "{bad}");
        }
    }

    fn issued(version: u32, key_len: usize) -> pb::TunnelParameters {
        pb::TunnelParameters {
            mac_addr: String::new(),
            ip_addr: "192.0.2.2".into(),
            psp_version: version,
            spi: 1,
            encryption_key: vec![1; key_len],
            virt_cookie: 0,
            encap_type: 0,
        }
    }

    #[test]
    fn response_checks() {
        let t = TunnelRequest {
            virt_src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            virt_dst: IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)),
            reverse: None,
        };
        let v = [Version::AesGcm256];
        let ok = pb::MultiTunnelResponse { request_id: 5, tunnels_params: vec![issued(1, 32)] };
        let got = check_response(5, &v, std::slice::from_ref(&t), &ok).unwrap();
        assert_eq!(got[0].params.key.len(), 32);
        assert!(check_response(6, &v, std::slice::from_ref(&t), &ok).is_err());
        let two = [t.clone(), t.clone()];
        assert!(check_response(5, &v, &two, &ok).is_err(), "count");
        let short = pb::MultiTunnelResponse { request_id: 5, tunnels_params: vec![issued(1, 16)] };
        assert!(matches!(
            check_response(5, &v, std::slice::from_ref(&t), &short),
            Err(ClientError::BadParams { index: 0, .. })
        ));
        let other = pb::MultiTunnelResponse { request_id: 5, tunnels_params: vec![issued(0, 16)] };
        assert!(check_response(5, &v, std::slice::from_ref(&t), &other).is_err(), "not offered");
    }
}
