//! DPDK 22.11's af_packet PMD and its PACKET_FANOUT group ids.
//!
//! The PMD puts every queue socket of a port in the fanout group
//! `(getpid() ^ ifindex) & 0xffff`. Fanout groups are per network
//! namespace, and the kernel refuses (`EINVAL`) to join a group that
//! exists on another interface. So two DPDK processes on one host collide
//! whenever `pid1 ^ ifindex1 == pid2 ^ ifindex2`, and the second one's
//! port fails to probe. Nothing in the devargs changes the id (22.11 has
//! no `fanout` argument); only the pid does.
//!
//! What a process can do: take [`StartLock`] (host-wide, so two starting
//! processes cannot both find the same id free), check each af_packet
//! interface with [`probe_fanout`], keep the lock until the EAL has
//! created its sockets, and, when an id is taken, start again under a new
//! pid. [`set_parent_death_signal`] and [`send_signal`] are the two
//! process calls such a restart needs.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The fanout group id DPDK 22.11's af_packet PMD gives a port's sockets.
pub fn fanout_group_id(pid: u32, ifindex: u32) -> u16 {
    ((pid ^ ifindex) & 0xffff) as u16
}

// The PMD's fanout mode: hash, defragment, roll over (linux/if_packet.h).
const PACKET_FANOUT: libc::c_int = 18;
const PACKET_FANOUT_HASH: u32 = 0;
const PACKET_FANOUT_FLAG_ROLLOVER: u32 = 0x1000;
const PACKET_FANOUT_FLAG_DEFRAG: u32 = 0x8000;
const PMD_FANOUT_MODE: u32 =
    PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG | PACKET_FANOUT_FLAG_ROLLOVER;

/// What [`probe_fanout`] found for one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanoutProbe {
    /// The kernel interface.
    pub iface: String,
    /// Its index in this network namespace.
    pub ifindex: u32,
    /// The group id the PMD will use for it in this process.
    pub group: u16,
    /// Whether a group with that id already exists on another interface,
    /// so the PMD would fail to join it.
    pub taken: bool,
}

/// Checks whether the af_packet PMD, started by process `pid`, could put
/// `iface`'s sockets in their fanout group: joins that group with the
/// PMD's mode from a socket bound to `iface`, then closes the socket (a
/// group that only it made goes with it). `Ok(None)`: no such interface
/// (the EAL will say so itself).
pub fn probe_fanout(iface: &str, pid: u32) -> io::Result<Option<FanoutProbe>> {
    let name = CString::new(iface).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `name` is a valid NUL-terminated string for the call.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if ifindex == 0 {
        return Ok(None);
    }
    let group = fanout_group_id(pid, ifindex);
    let socket = PacketSocket::bound(ifindex)?;
    let arg: libc::c_int = (u32::from(group) | PMD_FANOUT_MODE << 16) as libc::c_int;
    // SAFETY: the fd is open; `arg` lives across the call and its size is
    // passed with it, as PACKET_FANOUT takes an int.
    let rc = unsafe {
        libc::setsockopt(
            socket.0,
            libc::SOL_PACKET,
            PACKET_FANOUT,
            (&arg as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    let taken = if rc == 0 {
        false
    } else {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINVAL) {
            return Err(e);
        }
        true
    };
    Ok(Some(FanoutProbe { iface: iface.to_string(), ifindex, group, taken }))
}

/// An AF_PACKET socket bound to one interface, closed on drop.
struct PacketSocket(libc::c_int);

impl PacketSocket {
    fn bound(ifindex: u32) -> io::Result<Self> {
        // Protocol 0: no packet is queued to it before the bind below.
        // SAFETY: plain socket(2) call with constant arguments.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let socket = PacketSocket(fd);
        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as libc::c_ushort;
        addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        addr.sll_ifindex = ifindex as libc::c_int;
        // SAFETY: the fd is open; `addr` is a sockaddr_ll that lives across
        // the call, and its exact size is passed.
        let rc = unsafe {
            libc::bind(
                socket.0,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(socket)
    }
}

impl Drop for PacketSocket {
    fn drop(&mut self) {
        // SAFETY: the fd was opened by this value and is closed once.
        unsafe { libc::close(self.0) };
    }
}

/// A host-wide lock held from the fanout check until the EAL has made its
/// af_packet sockets, so that processes starting together take their
/// groups one after the other. Released on drop.
#[derive(Debug)]
pub struct StartLock {
    _file: File,
    path: PathBuf,
}

impl StartLock {
    /// The lock file: in `/run/lock` where it is writable (all processes
    /// of the host, root or not, see the same one), else the temp dir.
    pub fn default_path() -> PathBuf {
        let name = "psp-gateway-af_packet.lock";
        let run = Path::new("/run/lock");
        if run.is_dir() && File::options().append(true).create(true).open(run.join(name)).is_ok() {
            run.join(name)
        } else {
            std::env::temp_dir().join(name)
        }
    }

    /// Blocks until this process holds the lock at `path`.
    pub fn acquire(path: &Path) -> io::Result<Self> {
        let file = File::options().append(true).create(true).open(path)?;
        file.lock()?;
        Ok(StartLock { _file: file, path: path.to_path_buf() })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Asks the kernel to SIGKILL this process when its parent thread exits,
/// so a process started again under a supervisor dies with it.
pub fn set_parent_death_signal() -> io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG, sig) takes an int signal number and
    // touches no memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends signal `sig` to process `pid` (a supervisor passing SIGINT or
/// SIGTERM on to the process it started).
pub fn send_signal(pid: u32, sig: i32) -> io::Result<()> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    if pid <= 0 {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    // SAFETY: kill(2) with a positive pid signals that one process; no
    // memory is involved.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_id_is_pid_xor_ifindex_in_16_bits() {
        assert_eq!(fanout_group_id(1000, 5), 1005);
        assert_eq!(fanout_group_id(1001, 4), 1005, "two processes, one group: the collision");
        assert_eq!(fanout_group_id(0x12_3456, 0x10), 0x3446);
    }

    #[test]
    fn absent_interface_is_not_an_error() {
        assert_eq!(probe_fanout("pspgw-no-such0", std::process::id()).unwrap(), None);
        assert!(probe_fanout("bad\0name", 1).is_err());
    }

    #[test]
    fn start_lock_is_exclusive_and_released_on_drop() {
        let path = std::env::temp_dir().join(format!("pspgw-lock-{}", std::process::id()));
        let held = StartLock::acquire(&path).unwrap();
        let other = File::options().append(true).open(&path).unwrap();
        assert!(matches!(other.try_lock(), Err(std::fs::TryLockError::WouldBlock)));
        drop(held);
        other.try_lock().expect("free after drop");
        drop(other);
        std::fs::remove_file(&path).unwrap();
    }
}
