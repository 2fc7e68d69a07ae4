//! gRPC calls served, by method and status code, for the metrics endpoint
//! and `psp-gateway status`. Counted in the handlers, so calls tonic
//! refuses before a handler runs (an undecodable message, an unknown
//! method) are not among them.

use std::sync::atomic::{AtomicU64, Ordering};
use tonic::Code;

/// The methods counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `psp_gateway.PSP_Gateway/RequestMultipleTunnelParams`.
    RequestTunnels,
    /// `psp_gateway.PSP_Gateway/RequestKeyRotation`.
    KeyRotation,
    /// `psp_gateway_ext.Session/Hello`.
    Hello,
    /// `psp_gateway_ext.Admin/Status`.
    Status,
}

impl Method {
    /// Every method, in counter order.
    pub const ALL: [Method; 4] =
        [Method::RequestTunnels, Method::KeyRotation, Method::Hello, Method::Status];

    /// The gRPC method name (the last part of its path).
    pub fn name(self) -> &'static str {
        match self {
            Method::RequestTunnels => "RequestMultipleTunnelParams",
            Method::KeyRotation => "RequestKeyRotation",
            Method::Hello => "Hello",
            Method::Status => "Status",
        }
    }
}

/// The 17 gRPC status codes, `Ok` (0) to `Unauthenticated` (16).
const CODES: usize = 17;

/// The name gRPC gives a code (`OK`, `PERMISSION_DENIED`, ...).
pub fn code_name(code: i32) -> &'static str {
    const NAMES: [&str; CODES] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(code).ok().and_then(|i| NAMES.get(i)).copied().unwrap_or("UNKNOWN")
}

/// Calls by method and code. Shared by the services of one server.
#[derive(Debug, Default)]
pub struct RpcCounters {
    calls: [[AtomicU64; CODES]; Method::ALL.len()],
}

/// One counter of [`RpcCounters::snapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcCount {
    /// The method.
    pub method: Method,
    /// Its gRPC status code name.
    pub code: &'static str,
    /// Calls.
    pub calls: u64,
}

impl RpcCounters {
    /// Counts one call of `method` that ended with `code`.
    pub fn count(&self, method: Method, code: Code) {
        let m = Method::ALL.iter().position(|&x| x == method).unwrap_or(0);
        let c = usize::try_from(code as i32).unwrap_or(2).min(CODES - 1);
        self.calls[m][c].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts the outcome of a handler.
    pub fn outcome<T>(&self, method: Method, r: &Result<T, tonic::Status>) {
        self.count(method, r.as_ref().map_or_else(|s| s.code(), |_| Code::Ok));
    }

    /// Every method and code counted so far (zero counts left out, but
    /// `OK` of every method always in).
    pub fn snapshot(&self) -> Vec<RpcCount> {
        let mut out = Vec::new();
        for (m, row) in Method::ALL.iter().zip(&self.calls) {
            for (c, n) in row.iter().enumerate() {
                let calls = n.load(Ordering::Relaxed);
                if calls > 0 || c == 0 {
                    out.push(RpcCount { method: *m, code: code_name(c as i32), calls });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_method_and_code() {
        let c = RpcCounters::default();
        c.count(Method::Hello, Code::Ok);
        c.count(Method::Hello, Code::Ok);
        c.outcome::<()>(Method::RequestTunnels, &Err(tonic::Status::permission_denied("x")));
        let s = c.snapshot();
        let get = |m, code| s.iter().find(|x| x.method == m && x.code == code).map(|x| x.calls);
        assert_eq!(get(Method::Hello, "OK"), Some(2));
        assert_eq!(get(Method::RequestTunnels, "PERMISSION_DENIED"), Some(1));
        assert_eq!(get(Method::RequestTunnels, "OK"), Some(0));
        assert_eq!(get(Method::KeyRotation, "INTERNAL"), None);
        assert_eq!(code_name(16), "UNAUTHENTICATED");
        assert_eq!(code_name(99), "UNKNOWN");
    }
}
