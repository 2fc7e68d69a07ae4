//! The DOCA-compatible gRPC key exchange: schema, server, client, runtime.
//!
//! - [`pb`]: the messages and the tonic service generated at build time from
//!   `proto/psp_gateway.proto` (package `psp_gateway`, service
//!   `PSP_Gateway`), wire-compatible with the DOCA PSP Gateway. No system
//!   `protoc` is needed: `build.rs` compiles the file with `protox`.
//! - [`params`]: typed, validated tunnel parameters (keys as
//!   [`engine::psp::kdf::DerivedKey`], wiped on drop, redacted in `Debug`).
//! - [`server`]: the `PSP_Gateway` service over a [`server::TunnelBackend`],
//!   handing out SPIs and keys from a pre-generated pool; also our
//!   `psp_gateway_ext.Session` service ([`pb_ext`]), which tells peers when
//!   this gateway restarted or rotated its master key.
//! - [`admin`]: `psp_gateway_ext.Admin/Status`, the operator's read-only
//!   window (`psp-gateway status`); [`counters`]: calls by method and code.
//! - [`directory`]: the peer directory in etcd (`--directory`).
//! - [`limit`]: the per-peer rate limit on requests and tunnels issued.
//! - [`client`]: requests tunnels from a peer gateway.
//! - [`runtime`]: the dedicated one-worker tokio runtime the control plane
//!   runs on, off the packet cores.
//! - [`tls`]: mutual TLS for the service (`--grpc-cert/--grpc-key/--grpc-ca`);
//!   without it the service is plaintext, as the DOCA application's is.

pub mod admin;
pub mod client;
pub mod counters;
pub mod directory;
pub mod limit;
pub mod params;
pub mod runtime;
pub mod server;
pub mod tls;

/// The TCP port of the key-exchange service when `svc-addr` names none.
///
/// 3000, the port this project takes to be the DOCA application's default
/// (not confirmed from DOCA's sources here): both ends must agree, so
/// deployments mixing with DOCA gateways should give the port explicitly.
pub const DEFAULT_PORT: u16 = 3000;

/// The generated protobuf messages and tonic client/server of `PSP_Gateway`.
pub mod pb {
    #![allow(missing_docs, clippy::all, rust_2018_idioms)]
    tonic::include_proto!("psp_gateway");

    /// The gRPC service name (`package.Service`).
    pub const SERVICE: &str = "psp_gateway.PSP_Gateway";
    /// Path of the batched tunnel-parameters rpc.
    pub const PATH_REQUEST_MULTIPLE_TUNNEL_PARAMS: &str =
        "/psp_gateway.PSP_Gateway/RequestMultipleTunnelParams";
    /// Path of the key-rotation rpc.
    pub const PATH_REQUEST_KEY_ROTATION: &str = "/psp_gateway.PSP_Gateway/RequestKeyRotation";

    // Written by hand (build.rs skips the derive): the key is redacted.
    impl core::fmt::Debug for TunnelParameters {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("TunnelParameters")
                .field("mac_addr", &self.mac_addr)
                .field("ip_addr", &self.ip_addr)
                .field("psp_version", &self.psp_version)
                .field("spi", &format_args!("{:#010x}", self.spi))
                .field(
                    "encryption_key",
                    &format_args!("<{} bytes redacted>", self.encryption_key.len()),
                )
                .field("virt_cookie", &self.virt_cookie)
                .field("encap_type", &self.encap_type)
                .finish()
        }
    }

    impl TunnelParameters {
        /// Wipes the key bytes (prost messages are not wiped on drop).
        pub fn wipe_key(&mut self) {
            zeroize::Zeroize::zeroize(&mut self.encryption_key);
        }
    }
}

/// The generated messages and tonic client/server of our `Session`
/// service (`proto/psp_gateway_ext.proto`), beyond DOCA's schema.
pub mod pb_ext {
    #![allow(missing_docs, clippy::all, rust_2018_idioms)]
    tonic::include_proto!("psp_gateway_ext");

    /// Path of the hello rpc.
    pub const PATH_HELLO: &str = "/psp_gateway_ext.Session/Hello";
    /// Path of the status rpc.
    pub const PATH_STATUS: &str = "/psp_gateway_ext.Admin/Status";
}
