//! The directory as this gateway sees it, sans-IO: entries go in (a put
//! with its etcd create revision, a delete, or a whole listing after a
//! reconnect), and out come the destinations whose peer changed. When two
//! gateways claim one virtual address (a VM moving: its new host registers
//! it before the old one lets go), the newest registration wins, and the
//! older takes over again if the newest leaves. Our own entry is never a
//! peer; addresses we claim ourselves are served here.

use super::record::{Record, RecordError};
use crate::server::PeerMap;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};

/// A destination whose peer changed (`None`: no gateway serves it now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The virtual address.
    pub dst: IpAddr,
    /// The gRPC address of the gateway serving it now.
    pub peer: Option<SocketAddr>,
}

/// The entries under the prefix and what they resolve to.
#[derive(Debug)]
pub struct View {
    own_key: Vec<u8>,
    /// Entries by key, with their create revision.
    entries: BTreeMap<Vec<u8>, (i64, Record)>,
    resolved: HashMap<IpAddr, SocketAddr>,
    /// Entries that did not parse (ignored), counted.
    pub rejected: u64,
}

impl View {
    /// An empty view; `own_key` is our entry's key.
    pub fn new(own_key: impl Into<Vec<u8>>) -> View {
        View {
            own_key: own_key.into(),
            entries: BTreeMap::new(),
            resolved: HashMap::new(),
            rejected: 0,
        }
    }

    /// Who serves each remote virtual address now.
    pub fn resolved(&self) -> &HashMap<IpAddr, SocketAddr> {
        &self.resolved
    }

    /// Other gateways listed.
    pub fn gateways(&self) -> usize {
        self.entries.keys().filter(|k| **k != self.own_key).count()
    }

    /// The peers' calling addresses with the virtual addresses each may use
    /// (for the service's admission of their requests).
    pub fn peer_map(&self) -> PeerMap {
        let mut m = PeerMap::new();
        for (key, (_, r)) in &self.entries {
            if *key != self.own_key {
                m.entry(r.grpc_addr.ip().to_canonical()).or_default().extend(r.virt_ips());
            }
        }
        m
    }

    /// A key was written (`create_revision`: when it was first made).
    /// An entry that does not parse is dropped from the view (as if
    /// deleted) and the error returned.
    pub fn put(
        &mut self,
        key: &[u8],
        value: &[u8],
        create_revision: i64,
    ) -> (Vec<Change>, Option<RecordError>) {
        let err = match Record::parse(value) {
            Ok(r) => {
                self.entries.insert(key.to_vec(), (create_revision, r));
                None
            }
            Err(e) => {
                self.rejected += 1;
                self.entries.remove(key);
                Some(e)
            }
        };
        (self.resolve(), err)
    }

    /// A key was deleted (or its lease expired).
    pub fn delete(&mut self, key: &[u8]) -> Vec<Change> {
        if self.entries.remove(key).is_none() {
            return Vec::new();
        }
        self.resolve()
    }

    /// The whole listing, after a (re)connect: entries gone meanwhile are
    /// deleted, the rest put. Returns the net changes and the errors.
    pub fn reset<'a>(
        &mut self,
        listing: impl IntoIterator<Item = (&'a [u8], &'a [u8], i64)>,
    ) -> (Vec<Change>, Vec<RecordError>) {
        self.entries.clear();
        let mut errors = Vec::new();
        for (k, v, rev) in listing {
            match Record::parse(v) {
                Ok(r) => {
                    self.entries.insert(k.to_vec(), (rev, r));
                }
                Err(e) => {
                    self.rejected += 1;
                    errors.push(e);
                }
            }
        }
        (self.resolve(), errors)
    }

    /// Recomputes who serves what and returns the differences.
    fn resolve(&mut self) -> Vec<Change> {
        let ours: std::collections::HashSet<IpAddr> = self
            .entries
            .get(&self.own_key)
            .map(|(_, r)| r.virt_ips().collect())
            .unwrap_or_default();
        let mut best: HashMap<IpAddr, (i64, &[u8], SocketAddr)> = HashMap::new();
        for (key, (rev, r)) in &self.entries {
            if *key == self.own_key {
                continue;
            }
            for ip in r.virt_ips().filter(|ip| !ours.contains(ip)) {
                let cand = (*rev, key.as_slice(), r.grpc_addr);
                // Newest registration wins; the key breaks ties.
                match best.get(&ip) {
                    Some(b) if (b.0, b.1) >= (cand.0, cand.1) => {}
                    _ => {
                        best.insert(ip, cand);
                    }
                }
            }
        }
        let next: HashMap<IpAddr, SocketAddr> =
            best.into_iter().map(|(ip, (_, _, a))| (ip, a)).collect();
        let mut changes: Vec<Change> = next
            .iter()
            .filter(|(ip, a)| self.resolved.get(ip) != Some(a))
            .map(|(&dst, &a)| Change { dst, peer: Some(a) })
            .chain(
                self.resolved
                    .keys()
                    .filter(|ip| !next.contains_key(ip))
                    .map(|&dst| Change { dst, peer: None }),
            )
            .collect();
        changes.sort_by_key(|c| c.dst);
        self.resolved = next;
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::record::tests::record;

    fn entry(id: &str, port: u16, ips: &[u8]) -> Vec<u8> {
        let ips: Vec<[u8; 4]> = ips.iter().map(|&o| [10, 0, 0, o]).collect();
        record(id, port, &ips).to_json().into_bytes()
    }

    fn ch(o: u8, port: Option<u16>) -> Change {
        Change {
            dst: IpAddr::from([10, 0, 0, o]),
            peer: port.map(|p| SocketAddr::from(([127, 0, 0, 1], p))),
        }
    }

    #[test]
    fn puts_and_deletes_resolve_destinations() {
        let mut v = View::new(b"/p/gateways/01".to_vec());
        assert_eq!(v.put(b"/p/gateways/01", &entry("01", 1, &[1]), 5).0, []);
        assert_eq!(
            v.put(b"/p/gateways/02", &entry("02", 2, &[2, 3]), 6).0,
            [ch(2, Some(2)), ch(3, Some(2))]
        );
        assert_eq!(v.gateways(), 1);
        assert_eq!(v.peer_map()[&"127.0.0.1".parse::<std::net::IpAddr>().unwrap()].len(), 2);
        // Rewritten with one address fewer.
        assert_eq!(v.put(b"/p/gateways/02", &entry("02", 2, &[2]), 6).0, [ch(3, None)]);
        assert_eq!(v.delete(b"/p/gateways/02"), [ch(2, None)]);
        assert_eq!(v.delete(b"/p/gateways/02"), []);
        assert!(v.resolved().is_empty());
    }

    #[test]
    fn a_moved_address_follows_the_newest_registration_and_falls_back() {
        let mut v = View::new(b"/p/gateways/01".to_vec());
        v.put(b"/p/gateways/03", &entry("03", 3, &[3]), 10);
        // The VM's new host registers it too: it is newer, it wins.
        assert_eq!(v.put(b"/p/gateways/04", &entry("04", 4, &[3]), 20).0, [ch(3, Some(4))]);
        // The old host rewrites its entry (a keep-alive re-put): still the new host.
        assert_eq!(v.put(b"/p/gateways/03", &entry("03", 3, &[3]), 10).0, []);
        // The new host leaves: the address goes back to the old one.
        assert_eq!(v.delete(b"/p/gateways/04"), [ch(3, Some(3))]);
    }

    #[test]
    fn our_own_addresses_are_not_remote_and_bad_entries_are_dropped() {
        let mut v = View::new(b"/p/gateways/01".to_vec());
        v.put(b"/p/gateways/01", &entry("01", 1, &[1]), 1);
        assert_eq!(v.put(b"/p/gateways/02", &entry("02", 2, &[1, 2]), 2).0, [ch(2, Some(2))]);
        let (changes, err) = v.put(b"/p/gateways/02", b"{not json", 2);
        assert_eq!(changes, [ch(2, None)]);
        assert!(err.is_some());
        assert_eq!(v.rejected, 1);
    }

    #[test]
    fn a_reset_gives_only_the_net_changes() {
        let mut v = View::new(b"/p/gateways/01".to_vec());
        v.put(b"/p/gateways/02", &entry("02", 2, &[2]), 2);
        v.put(b"/p/gateways/03", &entry("03", 3, &[3]), 3);
        let e2 = entry("02", 2, &[2]);
        let e5 = entry("05", 5, &[5]);
        let listing = [
            (&b"/p/gateways/02"[..], &e2[..], 2),
            (&b"/p/gateways/05"[..], &e5[..], 9),
            (&b"/p/gateways/06"[..], &b"x"[..], 9),
        ];
        let (changes, errors) = v.reset(listing);
        assert_eq!(changes, [ch(3, None), ch(5, Some(5))]);
        assert_eq!(errors.len(), 1);
    }
}
