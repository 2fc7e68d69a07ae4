//! The tunnel manager: on-demand PSP tunnels as a sans-IO state machine.
//!
//! A packet of a session without a tunnel misses the egress ACL and comes
//! up to the control plane. A session is a [`VipPair`]: one of our VMs
//! (the inner source) and a remote one (the inner destination), as DOCA
//! 3.x keys them, since the peer admits each SPI from one inner source
//! only. [`TunnelManager`] holds the packet's handle, asks the peer that
//! serves the destination (the directory places destinations, not pairs)
//! for a tunnel (one request per session however many packets miss),
//! installs the answer, and hands the held packets back for resubmission. Failed or silent requests are
//! retried with exponential back-off; held packets stay bounded per
//! destination and in destinations. Every [`Config::peer_check`] each peer
//! we have tunnels to is asked for its session (instance id, key epoch): a
//! restart or a rotation there re-keys every tunnel to it. With
//! [`Config::rotation`] the manager also says when to rotate our own
//! master key.
//!
//! The manager does no I/O, in the style of quinn-proto: the caller passes
//! [`Event`]s in with the current [`Time`] ([`TunnelManager::handle`]),
//! takes [`Command`]s out ([`TunnelManager::poll_command`]) and carries
//! them out (gRPC calls, flow batches, rings), and calls back at
//! [`TunnelManager::poll_timeout`]. It owns no clock, thread, socket, mbuf
//! or channel: packets are opaque handles `P` (the driver keeps the
//! mbufs), answers are opaque tunnels `T` (the driver turns them into flow
//! requests), so the same code runs in the gateway and in tests on virtual
//! time. No randomness is needed: back-off is deterministic.

mod manager;
#[cfg(test)]
mod pair;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use crate::tables::VipPair;
pub use manager::TunnelManager;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// A point in time: how long after the driver's start. Virtual in tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(Duration);

impl Time {
    /// The start.
    pub const ZERO: Time = Time(Duration::ZERO);

    /// `d` after the start.
    pub const fn from_start(d: Duration) -> Time {
        Time(d)
    }

    /// How long after the start.
    pub const fn since_start(self) -> Duration {
        self.0
    }

    /// How long after `earlier` (zero if it is later).
    pub fn since(self, earlier: Time) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl std::ops::Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(self.0 + d)
    }
}

/// Identifies one request (a tunnel request or a session check): its
/// answer must carry it back, so a late answer to a superseded request is
/// recognised and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// The gateway serving the destinations behind it (its gRPC address).
pub type Peer = SocketAddr;

/// A peer's answer to a session check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// A psp-gateway peer: its process instance and master-key epoch.
    Known {
        /// Random per peer process: a new one means the peer restarted.
        instance_id: u64,
        /// The peer's master-key rotations since it started.
        key_epoch: u64,
    },
    /// The peer has no session service (a DOCA gateway): it is up, and
    /// nothing more is known.
    Unknown,
}

/// Timings and bounds of the manager (the defaults are the gateway's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// First retry delay after a failed request; doubles up to
    /// [`retry_max`](Self::retry_max).
    pub retry_min: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// How long one key exchange may take before it counts as failed.
    pub request_timeout: Duration,
    /// How often each peer with tunnels is asked for its session.
    pub peer_check: Duration,
    /// How long a session check may take (a slow peer is a down peer).
    pub check_timeout: Duration,
    /// Rotate our own master key this often (`--key-rotation-interval`).
    pub rotation: Option<Duration>,
    /// Most destinations with held packets.
    pub held_destinations: usize,
    /// Most packets held per destination (the oldest is dropped).
    pub held_per_destination: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            retry_min: Duration::from_millis(100),
            retry_max: Duration::from_secs(5),
            request_timeout: Duration::from_secs(2),
            peer_check: Duration::from_millis(500),
            check_timeout: Duration::from_millis(400),
            rotation: None,
            held_destinations: 1024,
            held_per_destination: 64,
        }
    }
}

/// What happened, for the manager to decide on. `P`: a packet handle; `T`:
/// a tunnel as the peer issued it (opaque here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<P, T> {
    /// A packet of `pair` missed the egress ACL.
    Miss {
        /// Inner source and destination.
        pair: VipPair,
        /// The packet (the driver keeps what it refers to).
        packet: P,
    },
    /// A peer answered [`Command::Request`] `id` (or the call failed).
    Answer {
        /// The session asked for.
        pair: VipPair,
        /// The request's id.
        id: RequestId,
        /// The issued tunnel, or why there is none.
        result: Result<T, String>,
    },
    /// [`Command::Install`] `id` was carried out (or refused).
    Installed {
        /// The session.
        pair: VipPair,
        /// The id of the request whose answer was installed.
        id: RequestId,
        /// Whether every packet core now sends through it.
        result: Result<(), String>,
    },
    /// A peer answered [`Command::Hello`] `id` (or the call failed).
    Hello {
        /// The peer asked.
        peer: Peer,
        /// The check's id.
        id: RequestId,
        /// Its session, or why there is none.
        result: Result<Session, String>,
    },
    /// A peer made (or removed) a tunnel for `pair` (from our VM to its
    /// VM) with the reverse parameters of its own request: it counts for
    /// session checks and re-keying like our own.
    ReverseTunnel {
        /// Our VM's inner address and the peer's.
        pair: VipPair,
        /// Made (true) or removed.
        installed: bool,
    },
    /// The directory places `dst` behind `peer` (or, with `None`, behind
    /// no peer any more).
    Directory {
        /// Inner destination.
        dst: IpAddr,
        /// Its peer.
        peer: Option<Peer>,
    },
    /// Ask for a tunnel for `pair` now, without waiting for a miss (`-z`).
    Connect {
        /// Inner source and destination.
        pair: VipPair,
    },
    /// Time passed: act on whatever is due at `now`.
    Tick,
    /// Stopping: every held packet is given back to be dropped.
    Shutdown,
}

/// What the driver is to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<P, T> {
    /// Ask `peer` for a tunnel for `pair` (with our reverse parameters);
    /// answer with [`Event::Answer`] carrying `id`.
    Request {
        /// The request's id.
        id: RequestId,
        /// Inner source (ours) and destination (behind `peer`).
        pair: VipPair,
        /// Who serves it.
        peer: Peer,
    },
    /// Send traffic of `pair` through `tunnel` (replacing any tunnel it
    /// has); report with [`Event::Installed`] carrying `id`.
    Install {
        /// The id of the request it answers.
        id: RequestId,
        /// Inner source and destination.
        pair: VipPair,
        /// The tunnel.
        tunnel: T,
    },
    /// Stop sending for `pair` (its destination's peer left the
    /// directory).
    Remove {
        /// Inner source and destination.
        pair: VipPair,
    },
    /// Resubmit a held packet to the packet cores: its tunnel is up.
    Resubmit(P),
    /// Free a packet: it will not be sent.
    Drop(P),
    /// Ask `peer` for its session; answer with [`Event::Hello`].
    Hello {
        /// The check's id.
        id: RequestId,
        /// The peer.
        peer: Peer,
    },
    /// Rotate our own master key (timer).
    RotateMasterKey,
    /// Something worth a log line or a metric.
    Notice(Notice),
}

/// Why tunnels to a peer are asked for again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RekeyReason {
    /// A new instance id: it restarted with new master keys.
    Restarted,
    /// A new key epoch: it rotated its master key.
    Rotated,
    /// A peer without session service answered again after being
    /// unreachable: it may have restarted.
    Back,
    /// The directory moved destinations to this peer.
    Moved,
}

impl std::fmt::Display for RekeyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RekeyReason::Restarted => "peer restarted (new instance)",
            RekeyReason::Rotated => "peer rotated its master key",
            RekeyReason::Back => {
                "peer back after being unreachable (no session service: may have restarted)"
            }
            RekeyReason::Moved => "destination moved to another peer",
        })
    }
}

/// Events the driver may log or measure; nothing to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Our tunnel for `pair` is up; `waited`: since its first held packet.
    TunnelUp {
        /// Inner source and destination.
        pair: VipPair,
        /// Miss to installation, if packets were waiting.
        waited: Option<Duration>,
    },
    /// A request failed; it is retried in `retry_in`.
    RequestFailed {
        /// Inner source and destination.
        pair: VipPair,
        /// Why.
        why: String,
        /// The back-off.
        retry_in: Duration,
    },
    /// A session check failed (said once until the peer answers again).
    PeerUnreachable {
        /// The peer.
        peer: Peer,
        /// Why.
        why: String,
    },
    /// Tunnels to `peer` are asked for again.
    Rekeying {
        /// The peer.
        peer: Peer,
        /// Why.
        why: RekeyReason,
        /// How many tunnels.
        tunnels: usize,
    },
}

/// Counters of the manager.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TunnelCounters {
    /// Missed packets received.
    pub misses: u64,
    /// Missed packets to destinations no peer serves (dropped).
    pub no_peer: u64,
    /// Held packets dropped (queue full or refused).
    pub held_dropped: u64,
    /// Held packets handed back for resubmission.
    pub resubmitted: u64,
    /// Tunnels set up by our requests.
    pub tunnels_up: u64,
    /// Requests that failed or timed out (each is retried).
    pub requests_failed: u64,
    /// Answers to superseded or timed-out requests (ignored).
    pub stale_answers: u64,
    /// Peers found restarted (new instance id, or back after being
    /// unreachable when they have no session service).
    pub peer_restarts: u64,
    /// Peers found to have rotated their master key.
    pub peer_rotations: u64,
    /// Tunnels asked for again because their peer restarted or rotated.
    pub rekeys: u64,
    /// Master-key rotations of our own.
    pub rotations: u64,
    /// Tunnels removed because the directory no longer places their
    /// destination behind any peer (its gateway left or its lease expired).
    pub withdrawn: u64,
}

/// Where one session's tunnel stands ([`TunnelManager::tunnels`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelState {
    /// Our tunnel is installed.
    Up,
    /// Only the tunnel the peer made with its reverse parameters is.
    ReverseOnly,
    /// A request is with the peer.
    Requesting,
    /// The peer's answer is being installed.
    Installing,
    /// The last attempt failed; another is due.
    Waiting,
    /// Known, no tunnel, nothing on its way.
    Idle,
}

impl TunnelState {
    /// The state's name, as `psp-gateway status` prints it.
    pub const fn name(self) -> &'static str {
        match self {
            TunnelState::Up => "up",
            TunnelState::ReverseOnly => "reverse-only",
            TunnelState::Requesting => "requesting",
            TunnelState::Installing => "installing",
            TunnelState::Waiting => "waiting",
            TunnelState::Idle => "idle",
        }
    }
}

/// One session (or a destination of the directory without one) as the
/// manager sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelView {
    /// Inner destination.
    pub dst: IpAddr,
    /// Our VM's address (`None`: a destination no session has yet).
    pub src: Option<IpAddr>,
    /// Who serves it, if anyone.
    pub peer: Option<Peer>,
    /// Where its tunnel stands.
    pub state: TunnelState,
    /// Our tunnel is installed.
    pub ours: bool,
    /// The peer's reverse tunnel is installed.
    pub reverse: bool,
    /// Packets held for it.
    pub held: usize,
}

/// One peer as the manager sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerView {
    /// Its gRPC address.
    pub peer: Peer,
    /// Its last session answer.
    pub session: Option<Session>,
    /// Its last session check failed.
    pub unreachable: bool,
    /// Destinations behind it.
    pub destinations: usize,
}
