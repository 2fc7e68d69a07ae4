//! The peer directory in etcd (`--directory`): each gateway registers its
//! entry ([`record::Record`]) under a lease and watches the prefix; the
//! sans-IO [`view::View`] turns the entries into which gateway serves each
//! virtual address; [`etcd`] does the I/O with the `etcd-client` crate.

pub mod etcd;
pub mod record;
pub mod view;

/// The directory's state, for metrics and status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// Connected and watching.
    pub connected: bool,
    /// Other gateways listed.
    pub gateways: usize,
    /// Connections made again after a failure.
    pub reconnects: u64,
    /// Times our entry was written under a new lease.
    pub registrations: u64,
    /// The last failure, until the next success.
    pub last_error: Option<String>,
}
