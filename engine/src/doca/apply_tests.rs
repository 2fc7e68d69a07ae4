use super::*;
use crate::doca::translate::tests::ports;
use crate::pipeline::PipelineConfig;
use crate::psp::encap::{EncapConfig, Encapsulator, EthAddrs, OuterIp};
use crate::psp::kdf::DerivedKey;
use crate::psp::{Mode, Spi, Version};
use crate::tables::{AclEntry, HwKey, TunnelEntry};
use crate::wire::MacAddr;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// What the fake NIC holds: entries by key, and each slot's key bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct NicState {
    entries: HashMap<EntryKey, DocaEntry>,
    slots: HashMap<u32, Vec<u8>>,
}

/// A NIC that applies each call at once, refuses the calls whose numbers
/// are in `fail`, and refuses what a real one would (adding an entry
/// twice, updating or removing one it does not have).
#[derive(Debug, Default)]
struct FakeNic {
    state: NicState,
    calls: usize,
    fail: Vec<usize>,
}

impl FakeNic {
    fn call(&mut self) -> Result<(), DocaError> {
        self.calls += 1;
        if self.fail.contains(&(self.calls - 1)) {
            return Err(DocaError::Entries(1));
        }
        Ok(())
    }
}

fn refused(why: &'static str) -> DocaError {
    DocaError::Unsupported(why)
}

impl Nic for FakeNic {
    fn program_key(&mut self, crypto_id: u32, key: &PspKeyCfg) -> Result<(), DocaError> {
        self.call()?;
        let bytes = key.words().iter().flat_map(|w| w.to_ne_bytes()).collect();
        self.state.slots.insert(crypto_id, bytes);
        Ok(())
    }
    fn clear_key(&mut self, crypto_id: u32) -> Result<(), DocaError> {
        self.call()?;
        self.state.slots.remove(&crypto_id);
        Ok(())
    }
    fn add(&mut self, e: &DocaEntry) -> Result<(), DocaError> {
        self.call()?;
        if self.state.entries.insert(e.key, e.clone()).is_some() {
            return Err(refused("added twice"));
        }
        Ok(())
    }
    fn update(&mut self, e: &DocaEntry) -> Result<(), DocaError> {
        self.call()?;
        match self.state.entries.get_mut(&e.key) {
            Some(old) => *old = e.clone(),
            None => return Err(refused("update of a missing entry")),
        }
        Ok(())
    }
    fn remove(&mut self, key: EntryKey) -> Result<(), DocaError> {
        self.call()?;
        self.state.entries.remove(&key).map(|_| ()).ok_or(refused("removal of a missing entry"))
    }
    fn flush(&mut self) -> Result<(), DocaError> {
        self.call()
    }
}

fn key(spi: u32) -> DerivedKey {
    let k: Vec<u8> = (0..16u8).map(|i| i.wrapping_mul(17) ^ spi as u8).collect();
    DerivedKey::from_bytes(&k).unwrap()
}

fn tunnel(dst: u8, spi: u32) -> TableOp {
    let cfg = EncapConfig {
        mode: Mode::Tunnel,
        version: Version::AesGcm128,
        spi: Spi(spi),
        crypt_offset: 0,
        vc: None,
        eth: Some(EthAddrs { src: MacAddr([0xa; 6]), dst: MacAddr([0xb; 6]) }),
        outer: OuterIp::V6 { src: "fd00::1".parse().unwrap(), dst: "fd00::2".parse().unwrap() },
        ttl: 64,
    };
    let e = Encapsulator::new(cfg, &key(spi)).unwrap();
    TableOp::SetTunnel(
        crate::tables::VipPair::new(Ipv4Addr::new(10, 0, 9, 1), Ipv4Addr::new(10, 0, 0, dst)),
        TunnelEntry { slot: 0, generation: u64::from(spi), encap: Arc::new(e) },
        Some(HwKey::new(key(spi))),
    )
}

fn acl(spi: u32, src: u8) -> TableOp {
    TableOp::SetAcl(
        Spi(spi),
        crate::tables::VipPair::new(Ipv4Addr::new(10, 0, 1, src), Ipv4Addr::new(10, 0, 9, 1)),
        AclEntry { slot: 0, generation: 1 },
    )
}

/// Two tunnels (A, B) and an ACL pair, on 3 key slots.
fn setup() -> (Translator, Applier, FakeNic) {
    let cfg = PipelineConfig { max_tunnels: 2, ..Default::default() };
    let mut t = Translator::new(cfg, ports()).unwrap();
    let (mut a, mut nic) = (Applier::new(), FakeNic::default());
    commit(&mut t, &mut a, &mut nic, &[tunnel(1, 1), tunnel(2, 2), acl(1, 1)]).unwrap();
    (t, a, nic)
}

/// A's replacement (a new slot), B removed, C added (no free slot: the
/// commit flushes to release A's and B's old slots and gives C one,
/// overwriting B's key), the ACL pair swapped.
fn second_commit() -> Vec<TableOp> {
    vec![
        tunnel(1, 3),
        TableOp::DelTunnel(crate::tables::VipPair::new(
            Ipv4Addr::new(10, 0, 9, 1),
            Ipv4Addr::new(10, 0, 0, 2),
        )),
        tunnel(3, 4),
        TableOp::DelAcl(
            Spi(1),
            crate::tables::VipPair::new(Ipv4Addr::new(10, 0, 1, 1), Ipv4Addr::new(10, 0, 9, 1)),
        ),
        acl(3, 1),
    ]
}

#[test]
fn a_commit_failing_at_any_nic_step_leaves_the_nic_and_the_translator_as_before() {
    // The calls of the second commit when nothing fails, and the NIC after.
    let (mut t, mut a, mut nic) = setup();
    let before = nic.calls;
    commit(&mut t, &mut a, &mut nic, &second_commit()).unwrap();
    let (steps, after) = (nic.calls - before, nic.state.clone());
    assert!(steps >= 8, "{steps} calls");
    // The commit overwrote B's slot with C's key: the case an undo must
    // restore, not just clear.
    let c_slot = t.crypto_id(Ipv4Addr::new(10, 0, 9, 1), Ipv4Addr::new(10, 0, 0, 3)).unwrap();
    assert_eq!(c_slot, 2, "C takes B's slot");

    for k in 0..steps {
        let (mut t, mut a, mut nic) = setup();
        let (state, cp) = (nic.state.clone(), t.checkpoint());
        nic.fail = vec![nic.calls + k];
        let e = commit(&mut t, &mut a, &mut nic, &second_commit()).unwrap_err();
        assert_eq!(e, DocaError::Entries(1), "step {k}: the cause, undo clean");
        assert_eq!(nic.state, state, "step {k}: the NIC is back as before");
        assert_eq!(t.checkpoint(), cp, "step {k}: the translator is back as before");
        // The applier's record is back too: the same commit now succeeds
        // (no double add, no update of a missing entry) and ends where
        // the first run ended.
        commit(&mut t, &mut a, &mut nic, &second_commit()).unwrap();
        assert_eq!(nic.state, after, "step {k}: retried");
    }
}

#[test]
fn a_failed_undo_is_reported_with_its_cause() {
    let (mut t, mut a, mut nic) = setup();
    let n = nic.calls;
    // The 3rd call of the commit fails, then the first undo call too.
    nic.fail = vec![n + 2, n + 3];
    let e = commit(&mut t, &mut a, &mut nic, &second_commit()).unwrap_err();
    let DocaError::Rollback { cause, failed } = &e else { panic!("{e:?}") };
    assert_eq!((&**cause, *failed), (&DocaError::Entries(1), 1));
    assert!(e.to_string().contains("undoing the commit's NIC steps failed 1 times"), "{e}");
}

#[test]
fn a_translation_error_touches_nothing() {
    let (mut t, mut a, mut nic) = setup();
    let (state, cp, calls) = (nic.state.clone(), t.checkpoint(), nic.calls);
    // Three more tunnels than slots: refused by the translator.
    let ops: Vec<_> = (10..14).map(|d| tunnel(d, u32::from(d))).collect();
    let e = commit(&mut t, &mut a, &mut nic, &ops).unwrap_err();
    assert!(matches!(e, DocaError::Translate(_)), "{e:?}");
    assert_eq!((nic.state, t.checkpoint(), nic.calls), (state, cp, calls));
}

#[test]
fn setting_the_same_acl_pair_twice_adds_one_entry() {
    let (mut t, mut a, mut nic) = setup();
    let n = nic.state.entries.len();
    commit(&mut t, &mut a, &mut nic, &[acl(1, 1)]).unwrap();
    assert_eq!(nic.state.entries.len(), n);
    assert_eq!(a.entries().count(), n);
}
