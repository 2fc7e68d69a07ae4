//! The FFI of [`super::DocaFlowBackend`]: DOCA Flow init, ports, key
//! slots, pipes and entries (`doca_flow_*` calls). Type-checked in every
//! build, called only with the SDK (see the parent module). The pure
//! structure builders (match, actions) are in `hw_build`; the device,
//! ports and key calls in `hw_dev`.

#[path = "hw_build.rs"]
mod build;
#[path = "hw_dev.rs"]
mod dev;
use build::{build_actions, build_condition, build_match, crypto_of, domain, OrderedLists};
pub(super) use dev::KeyHandle;
use dev::{open_device, spi_keys, start_port, PortPtr};

use super::super::apply::Nic;
use super::super::counters::CounterSource;
use super::super::queues::{current_queue, pipe_queues, QueueTable};
use super::super::translate::{
    DocaEntry, DocaPipeSpec, EntryAction, EntryKey, Fwd, KeyBits, PipeId, PipeType, PspKeyCfg,
    Translator,
};
use super::{DocaConfig, DocaError};
use crate::pipeline::stats::Counter;
use crate::pipeline::PortRole;
use crate::psp::kdf::DerivedKey;
use crate::psp::{Spi, Version};
use doca_sys as sys;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::ptr;

/// `doca_flow_entries_process` timeout per call.
const PROCESS_TIMEOUT_US: u64 = 10_000;
/// Calls before a flush gives up on entries still in process.
const PROCESS_TRIES: usize = 100;
const WAIT: u32 = sys::DOCA_FLOW_ENTRY_FLAGS_WAIT_FOR_BATCH as u32;

/// The entry-process callback (`doca_flow_cfg_set_cb_entry_process`):
/// DOCA calls it from `doca_flow_entries_process` on `pipe_queue` for each
/// entry operation that completed; every entry's `user_ctx` is the
/// [`QueueTable`], which records it for that queue's [`Hw::flush`].
extern "C" fn entry_processed(
    _entry: *mut sys::doca_flow_pipe_entry,
    pipe_queue: u16,
    status: sys::doca_flow_entry_status,
    _op: sys::doca_flow_entry_op,
    user_ctx: *mut std::ffi::c_void,
) {
    if user_ctx.is_null() {
        return;
    }
    // SAFETY: every entry is added with the leaked, never freed table as
    // its user_ctx (Hw::ctx), and the table is only used through `&`.
    let table = unsafe { &*(user_ctx as *const QueueTable) };
    table.completed(pipe_queue, status == sys::DOCA_FLOW_ENTRY_STATUS_SUCCESS);
}

/// The started device, ports, pipes and entries.
#[derive(Debug)]
pub(super) struct Hw {
    dev: *mut sys::doca_dev,
    secure: *mut sys::doca_flow_port,
    unsecured: *mut sys::doca_flow_port,
    port_ids: (u16, u16),
    rss_queues: Vec<u16>,
    /// DOCA's PSP shared-resource id of each translator `crypto_id`
    /// (index `crypto_id - 1`), from `doca_flow_port_shared_resource_get`.
    psp_ids: Vec<u32>,
    /// The pipe specs, for the entries' action templates and monitors.
    specs: Vec<DocaPipeSpec>,
    pipes: HashMap<PipeId, *mut sys::doca_flow_pipe>,
    entries: HashMap<EntryKey, (PipeId, *mut sys::doca_flow_pipe_entry)>,
    /// Entries added or updated since the last flush.
    pending: Vec<*mut sys::doca_flow_pipe_entry>,
    /// Queued operations since the last flush.
    queued: u32,
    /// Every pipe queue's completions (the callback's `user_ctx`; leaked,
    /// so it outlives any entry that points to it).
    queues: &'static QueueTable,
    /// The pipe queue of the thread applying steps now.
    queue: u16,
}

// SAFETY: the DOCA handles are only used by the thread that owns the
// backend (the flow programmer), on that thread's pipe queue (chosen at
// each apply); moving that owner to another thread is what DOCA's
// per-queue threading model allows.
unsafe impl Send for Hw {}

pub(super) fn check(call: &'static str, rc: sys::doca_error_t) -> Result<(), DocaError> {
    if rc == sys::DOCA_SUCCESS {
        return Ok(());
    }
    // SAFETY: doca_error_get_descr returns a static NUL-terminated
    // string (or null) for any code.
    let p = unsafe { sys::doca_error_get_descr(rc) };
    let descr = if p.is_null() {
        String::new()
    } else {
        // SAFETY: non-null and NUL-terminated, per the function's contract.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    };
    Err(DocaError::Call { call, code: rc as u32, descr })
}

impl Hw {
    fn port_id(&self, p: PortRole) -> u16 {
        match p {
            PortRole::Secure | PortRole::Rss => self.port_ids.0,
            PortRole::Unsecured => self.port_ids.1,
        }
    }

    fn fwd(&mut self, f: Fwd) -> sys::doca_flow_fwd {
        let mut d = sys::doca_flow_fwd::default();
        match f {
            Fwd::Port(p) => {
                d.type_ = sys::DOCA_FLOW_FWD_PORT;
                d.__bindgen_anon_1.__bindgen_anon_2.port_id = self.port_id(p);
            }
            Fwd::Pipe(id) => {
                d.type_ = sys::DOCA_FLOW_FWD_PIPE;
                d.__bindgen_anon_1.__bindgen_anon_3.next_pipe =
                    self.pipes.get(&id).copied().unwrap_or(ptr::null_mut());
            }
            Fwd::PipePerEntry => {
                d.type_ = sys::DOCA_FLOW_FWD_PIPE;
                d.__bindgen_anon_1.__bindgen_anon_3.next_pipe = ptr::null_mut();
            }
            Fwd::RssPerEntry => {
                d.type_ = sys::DOCA_FLOW_FWD_RSS;
                d.__bindgen_anon_1.__bindgen_anon_1.rss_type =
                    sys::DOCA_FLOW_RESOURCE_TYPE_NON_SHARED;
                // Changeable: each entry brings its RSS.
                d.__bindgen_anon_1.__bindgen_anon_1.__bindgen_anon_1.rss.nr_queues = -1;
            }
            Fwd::RssIpv4 | Fwd::RssIpv6 => {
                d.type_ = sys::DOCA_FLOW_FWD_RSS;
                let outer_flags = if f == Fwd::RssIpv4 {
                    sys::DOCA_FLOW_RSS_IPV4
                } else {
                    sys::DOCA_FLOW_RSS_IPV6
                };
                let rss = sys::doca_flow_resource_rss_cfg {
                    outer_flags: outer_flags as u32,
                    queues_array: self.rss_queues.as_mut_ptr(),
                    nr_queues: self.rss_queues.len() as i32,
                    ..Default::default()
                };
                d.__bindgen_anon_1.__bindgen_anon_1.rss_type =
                    sys::DOCA_FLOW_RESOURCE_TYPE_NON_SHARED;
                d.__bindgen_anon_1.__bindgen_anon_1.__bindgen_anon_1.rss = rss;
            }
            Fwd::Drop => d.type_ = sys::DOCA_FLOW_FWD_DROP,
            Fwd::Flood(id) => {
                d.type_ = sys::DOCA_FLOW_FWD_HASH_PIPE;
                d.__bindgen_anon_1.hash_pipe.pipe =
                    self.pipes.get(&id).copied().unwrap_or(ptr::null_mut());
                d.__bindgen_anon_1.hash_pipe.algorithm =
                    sys::DOCA_FLOW_PIPE_HASH_MAP_ALGORITHM_FLOODING;
            }
            Fwd::Changeable => d.type_ = sys::DOCA_FLOW_FWD_CHANGEABLE,
            Fwd::OrderedList(id, idx) => {
                d.type_ = sys::DOCA_FLOW_FWD_ORDERED_LIST_PIPE;
                d.__bindgen_anon_1.ordered_list_pipe.pipe =
                    self.pipes.get(&id).copied().unwrap_or(ptr::null_mut());
                // UINT32_MAX: each entry gives its index.
                d.__bindgen_anon_1.ordered_list_pipe.idx = idx.unwrap_or(u32::MAX);
            }
        }
        d
    }

    /// A per-entry counter (NVIDIA's `monitor_count`).
    fn monitor() -> sys::doca_flow_monitor {
        sys::doca_flow_monitor {
            counter_type: sys::DOCA_FLOW_RESOURCE_TYPE_NON_SHARED,
            ..Default::default()
        }
    }

    /// DOCA's shared-resource id of a translator `crypto_id`.
    fn psp_id(&self, crypto_id: u32) -> u32 {
        let i = (crypto_id as usize).wrapping_sub(1);
        self.psp_ids.get(i).copied().unwrap_or(crypto_id)
    }

    /// `doca_flow_init`, ports, key slots, pipes, fixed entries.
    pub(super) fn start(cfg: &DocaConfig, t: &Translator) -> Result<Hw, DocaError> {
        let specs = t.pipes();
        let dev = open_device(&cfg.pci)?;
        let mut flow_cfg = ptr::null_mut();
        // SAFETY: out-pointer to a local.
        check("doca_flow_cfg_create", unsafe { sys::doca_flow_cfg_create(&mut flow_cfg) })?;
        let mode = CString::new("switch,hws,isolated,expert").expect("no NUL");
        // SAFETY: flow_cfg was created above and is destroyed below;
        // `mode` outlives the calls (DOCA copies it); the callback is a
        // plain function that lives for the whole program.
        let r = unsafe {
            check(
                "doca_flow_cfg_set_pipe_queues",
                sys::doca_flow_cfg_set_pipe_queues(flow_cfg, pipe_queues(cfg.rss_queues)),
            )
            .and_then(|()| {
                check(
                    "doca_flow_cfg_set_mode_args",
                    sys::doca_flow_cfg_set_mode_args(flow_cfg, mode.as_ptr()),
                )
            })
            .and_then(|()| {
                check(
                    "doca_flow_cfg_set_cb_entry_process",
                    sys::doca_flow_cfg_set_cb_entry_process(flow_cfg, Some(entry_processed)),
                )
            })
            .and_then(|()| {
                check(
                    "doca_flow_cfg_set_resource_mode",
                    sys::doca_flow_cfg_set_resource_mode(
                        flow_cfg,
                        sys::DOCA_FLOW_RESOURCE_MODE_PORT,
                    ),
                )
            })
            .and_then(|()| check("doca_flow_init", sys::doca_flow_init(flow_cfg)))
        };
        // SAFETY: created above, no longer used.
        unsafe { sys::doca_flow_cfg_destroy(flow_cfg) };
        r?;
        let p = cfg.ports;
        let slots = t.crypto_ids().all().count() as u32;
        let counters = (cfg.pipeline.max_tunnels + cfg.pipeline.max_acl_entries + 64) as u32;
        let secure = start_port(p.secure, dev, Some((counters, slots)))?;
        let mut hw = Hw {
            dev,
            secure,
            unsecured: start_port(p.unsecured, ptr::null_mut(), None)?,
            port_ids: (p.secure, p.unsecured),
            rss_queues: (0..cfg.rss_queues.max(1)).collect(),
            psp_ids: Vec::with_capacity(slots as usize),
            specs: Vec::new(),
            pipes: HashMap::new(),
            entries: HashMap::new(),
            pending: Vec::new(),
            queued: 0,
            queues: Box::leak(Box::new(QueueTable::new(pipe_queues(cfg.rss_queues)))),
            queue: 0,
        };
        hw.queue = current_queue(hw.queues.len());
        for _ in 0..slots {
            let mut id = 0u32;
            // SAFETY: the port was started above; out-pointer to a local.
            check("doca_flow_port_shared_resource_get", unsafe {
                sys::doca_flow_port_shared_resource_get(
                    hw.secure,
                    sys::DOCA_FLOW_SHARED_RESOURCE_PSP,
                    &mut id,
                )
            })?;
            hw.psp_ids.push(id);
        }
        for spec in &specs {
            hw.create_pipe(spec)?;
        }
        for e in t.static_entries() {
            hw.add(&specs, &e)?;
        }
        hw.flush()?;
        hw.specs = specs;
        Ok(hw)
    }

    fn create_pipe(&mut self, spec: &DocaPipeSpec) -> Result<(), DocaError> {
        let mut cfg = ptr::null_mut();
        // SAFETY: out-pointer to a local; the port is started.
        check("doca_flow_pipe_cfg_create", unsafe {
            sys::doca_flow_pipe_cfg_create(&mut cfg, self.secure)
        })?;
        let r = self.fill_pipe_cfg(cfg, spec);
        // SAFETY: created above, no longer used (DOCA copied it).
        unsafe { sys::doca_flow_pipe_cfg_destroy(cfg) };
        let pipe = r?;
        self.pipes.insert(spec.id, pipe);
        Ok(())
    }

    fn fill_pipe_cfg(
        &mut self,
        cfg: *mut sys::doca_flow_pipe_cfg,
        spec: &DocaPipeSpec,
    ) -> Result<*mut sys::doca_flow_pipe, DocaError> {
        let name = CString::new(spec.name).expect("pipe names have no NUL");
        let (m, mask) = build_match(&spec.matches);
        let mut acts: Vec<_> =
            spec.actions.iter().map(|&a| build_actions(a, None, &|id| id)).collect();
        let mut a_ptrs: Vec<*mut sys::doca_flow_actions> =
            acts.iter_mut().map(|(a, _)| a as *mut _).collect();
        let mut m_ptrs: Vec<*mut sys::doca_flow_actions> =
            acts.iter_mut().map(|(_, m)| m as *mut _).collect();
        let mon = Self::monitor();
        let fwd = spec.fwd.map(|f| self.fwd(f));
        let miss = spec.fwd_miss.map(|f| self.fwd(f));
        // An ordered-list pipe's lists: list i, one crypto element, actions[i].
        let ol = OrderedLists::new(acts.iter().map(|(a, _)| crypto_of(a)).collect());
        // DOCA 3.x has no direction hint (doca_flow_pipe_cfg_set_dir_info
        // is gone): `spec.direction` stays a description only.
        let mut pipe = ptr::null_mut();
        // SAFETY: cfg is a live pipe configuration; every pointer passed
        // points to a local that outlives the call (DOCA copies them).
        unsafe {
            check(
                "doca_flow_pipe_cfg_set_name",
                sys::doca_flow_pipe_cfg_set_name(cfg, name.as_ptr()),
            )?;
            let kind = match spec.kind {
                PipeType::Basic => sys::DOCA_FLOW_PIPE_BASIC,
                PipeType::Control => sys::DOCA_FLOW_PIPE_CONTROL,
                PipeType::Flood => sys::DOCA_FLOW_PIPE_HASH,
                PipeType::OrderedList => sys::DOCA_FLOW_PIPE_ORDERED_LIST,
            };
            check("doca_flow_pipe_cfg_set_type", sys::doca_flow_pipe_cfg_set_type(cfg, kind))?;
            check(
                "doca_flow_pipe_cfg_set_domain",
                sys::doca_flow_pipe_cfg_set_domain(cfg, domain(spec.domain)),
            )?;
            check(
                "doca_flow_pipe_cfg_set_is_root",
                sys::doca_flow_pipe_cfg_set_is_root(cfg, spec.is_root),
            )?;
            check(
                "doca_flow_pipe_cfg_set_nr_entries",
                sys::doca_flow_pipe_cfg_set_nr_entries(cfg, spec.nr_entries),
            )?;
            check(
                "doca_flow_pipe_cfg_set_miss_counter",
                sys::doca_flow_pipe_cfg_set_miss_counter(cfg, spec.miss_counter),
            )?;
            if spec.kind == PipeType::Basic {
                let mask_ptr = mask.as_ref().map_or(ptr::null(), |k| k as *const _);
                check(
                    "doca_flow_pipe_cfg_set_match",
                    sys::doca_flow_pipe_cfg_set_match(cfg, &m, mask_ptr),
                )?;
                check(
                    "doca_flow_pipe_cfg_set_monitor",
                    sys::doca_flow_pipe_cfg_set_monitor(cfg, &mon),
                )?;
            }
            if spec.kind == PipeType::Flood {
                check(
                    "doca_flow_pipe_cfg_set_hash_map_algorithm",
                    sys::doca_flow_pipe_cfg_set_hash_map_algorithm(
                        cfg,
                        sys::DOCA_FLOW_PIPE_HASH_MAP_ALGORITHM_FLOODING as u32,
                    ),
                )?;
                check(
                    "doca_flow_pipe_cfg_set_monitor",
                    sys::doca_flow_pipe_cfg_set_monitor(cfg, &mon),
                )?;
            }
            if spec.kind == PipeType::OrderedList {
                check(
                    "doca_flow_pipe_cfg_set_ordered_lists",
                    sys::doca_flow_pipe_cfg_set_ordered_lists(
                        cfg,
                        ol.list_ptrs.as_ptr(),
                        ol.list_ptrs.len(),
                    ),
                )?;
            } else if !a_ptrs.is_empty() {
                check(
                    "doca_flow_pipe_cfg_set_actions",
                    sys::doca_flow_pipe_cfg_set_actions(
                        cfg,
                        a_ptrs.as_mut_ptr(),
                        m_ptrs.as_mut_ptr(),
                        ptr::null_mut(),
                        a_ptrs.len(),
                    ),
                )?;
            }
            let fp = fwd.as_ref().map_or(ptr::null(), |f| f as *const _);
            let mp = miss.as_ref().map_or(ptr::null(), |f| f as *const _);
            check("doca_flow_pipe_create", sys::doca_flow_pipe_create(cfg, fp, mp, &mut pipe))?;
        }
        Ok(pipe)
    }

    /// Queues one entry add (control pipes: with its priority and mask).
    fn add(&mut self, specs: &[DocaPipeSpec], e: &DocaEntry) -> Result<(), DocaError> {
        let spec = specs.iter().find(|s| s.id == e.pipe).expect("entry of a known pipe");
        let pipe = self.pipes.get(&e.pipe).copied().unwrap_or(ptr::null_mut());
        let (m, mask) = build_match(&e.matches);
        let psp_id = |id| self.psp_id(id);
        let (idx, (act, _)) = match (spec.actions.first(), &e.action, e.key) {
            (Some(_), EntryAction::Encrypt { action_idx, .. }, _) => (
                *action_idx,
                build_actions(spec.actions[usize::from(*action_idx)], Some(&e.action), &psp_id),
            ),
            // A fixed ordered-list entry picks the list of its index.
            (Some(_), _, EntryKey::Static(_, i)) if spec.kind == PipeType::OrderedList => {
                (0, build_actions(spec.actions[usize::from(i)], None, &psp_id))
            }
            (Some(&pa), _, _) => (0, build_actions(pa, None, &psp_id)),
            (None, _, _) => {
                (0, (sys::doca_flow_actions::default(), sys::doca_flow_actions::default()))
            }
        };
        let mon = Self::monitor();
        let fwd = e.fwd.map(|f| self.fwd(f));
        let fp = fwd.as_ref().map_or(ptr::null(), |f| f as *const _);
        let mut entry = ptr::null_mut();
        let ctx = self.ctx();
        // Control entries: their own action and mask, their condition.
        let own = match e.action {
            EntryAction::Apply(pa) => Some(build_actions(pa, None, &|id| id)),
            _ => None,
        };
        let cond = e.condition.map(build_condition);
        // SAFETY: pipe was created by create_pipe; every pointer points
        // to a local that outlives the call; ctx to the leaked table.
        unsafe {
            if spec.kind == PipeType::Control {
                // With a condition the match holds its operand and no mask
                // (NVIDIA: match_comp_value, mask NULL).
                let mask = mask.unwrap_or(m);
                let mask_ptr = if cond.is_some() { ptr::null() } else { &mask as *const _ };
                let cond_ptr = cond.as_ref().map_or(ptr::null(), |c| c as *const _);
                let (a_ptr, am_ptr) = own.as_ref().map_or((ptr::null(), ptr::null()), |(a, am)| {
                    (a as *const sys::doca_flow_actions, am as *const sys::doca_flow_actions)
                });
                check(
                    "doca_flow_pipe_control_add_entry",
                    sys::doca_flow_pipe_control_add_entry(
                        self.queue,
                        pipe,
                        &m,
                        mask_ptr,
                        cond_ptr,
                        a_ptr,
                        am_ptr,
                        ptr::null(),
                        &mon,
                        e.priority,
                        fp,
                        ctx,
                        &mut entry,
                    ),
                )?;
            } else if spec.kind == PipeType::OrderedList {
                // The entry's index (a key slot, or a fixed entry's) and
                // its list: an encrypt entry's action_idx, else the index.
                let (index, list) = match (e.key, &e.action) {
                    (EntryKey::Crypto(id), EntryAction::Encrypt { action_idx, .. }) => {
                        (id, u32::from(*action_idx))
                    }
                    (EntryKey::Static(_, i), _) => (u32::from(i), u32::from(i)),
                    (k, _) => unreachable!("no ordered-list entry {k:?}"),
                };
                let one = OrderedLists::new(vec![crypto_of(&act)]);
                let mut l = one.lists[0];
                l.idx = list;
                check(
                    "doca_flow_pipe_ordered_list_add_entry",
                    sys::doca_flow_pipe_ordered_list_add_entry(
                        self.queue, pipe, index, &l, fp, WAIT, ctx, &mut entry,
                    ),
                )?;
            } else if spec.kind == PipeType::Flood {
                let EntryKey::Static(_, index) = e.key else {
                    unreachable!("flooding pipes have fixed entries only")
                };
                check(
                    "doca_flow_pipe_hash_add_entry",
                    sys::doca_flow_pipe_hash_add_entry(
                        self.queue,
                        pipe,
                        u32::from(index),
                        0,
                        ptr::null(),
                        &mon,
                        fp,
                        WAIT,
                        ctx,
                        &mut entry,
                    ),
                )?;
            } else {
                check(
                    "doca_flow_pipe_basic_add_entry",
                    sys::doca_flow_pipe_basic_add_entry(
                        self.queue, pipe, &m, idx, &act, &mon, fp, WAIT, ctx, &mut entry,
                    ),
                )?;
            }
        }
        self.entries.insert(e.key, (e.pipe, entry));
        self.pending.push(entry);
        self.queued += 1;
        self.queues.queued(self.queue);
        Ok(())
    }

    /// The `user_ctx` of every entry: the queue table.
    fn ctx(&self) -> *mut std::ffi::c_void {
        self.queues as *const QueueTable as *mut std::ffi::c_void
    }

    /// `doca_flow_entries_process` until no queued entry is in process.
    fn flush(&mut self) -> Result<(), DocaError> {
        for _ in 0..PROCESS_TRIES {
            // SAFETY: the port is started; self.queue is this thread's.
            check("doca_flow_entries_process", unsafe {
                sys::doca_flow_entries_process(
                    self.secure,
                    self.queue,
                    PROCESS_TIMEOUT_US,
                    self.queued,
                )
            })?;
            // SAFETY: the entries were returned by add/update and not removed since.
            let busy = self.pending.iter().any(|&e| unsafe {
                sys::doca_flow_pipe_entry_get_status(e) == sys::DOCA_FLOW_ENTRY_STATUS_IN_PROCESS
            });
            if !busy {
                break;
            }
        }
        // SAFETY: as above.
        let bad = self
            .pending
            .iter()
            .filter(|&&e| unsafe {
                sys::doca_flow_pipe_entry_get_status(e) != sys::DOCA_FLOW_ENTRY_STATUS_SUCCESS
            })
            .count();
        self.pending.clear();
        self.queued = 0;
        // Removals have no entry left to ask: the callback counted them,
        // and what is still in the queue after the last try failed too.
        let o = self.queues.take(self.queue);
        let bad = bad.max((o.failed + o.in_queue) as usize);
        if bad > 0 {
            return Err(DocaError::Entries(bad));
        }
        Ok(())
    }

    fn program_key(&mut self, crypto_id: u32, key: &PspKeyCfg) -> Result<(), DocaError> {
        let mut words = key.words_copy();
        let mut res = sys::doca_flow_shared_resource_cfg::default();
        let key_type = match key.bits() {
            KeyBits::K128 => sys::DOCA_FLOW_CRYPTO_KEY_128,
            KeyBits::K256 => sys::DOCA_FLOW_CRYPTO_KEY_256,
        };
        // `words` outlives the call below.
        res.__bindgen_anon_1.psp_cfg.key_cfg.key_type = key_type;
        res.__bindgen_anon_1.psp_cfg.key_cfg.key = words.as_mut_ptr();
        // SAFETY: res points to the key words, valid for the call; the
        // secure port is started.
        check("doca_flow_port_shared_resource_set_cfg", unsafe {
            sys::doca_flow_port_shared_resource_set_cfg(
                self.secure,
                sys::DOCA_FLOW_SHARED_RESOURCE_PSP,
                self.psp_id(crypto_id),
                &mut res,
            )
        })
    }

    /// Starts a commit: its steps go on the calling thread's pipe queue.
    pub(super) fn begin(&mut self) {
        self.queue = current_queue(self.queues.len());
    }

    fn update_entry(&mut self, specs: &[DocaPipeSpec], e: &DocaEntry) -> Result<(), DocaError> {
        let Some(&(_, entry)) = self.entries.get(&e.key) else {
            return self.add(specs, e);
        };
        let spec = specs.iter().find(|p| p.id == e.pipe).expect("known pipe");
        let idx = match &e.action {
            EntryAction::Encrypt { action_idx, .. } => *action_idx,
            EntryAction::Template | EntryAction::Apply(_) => 0,
        };
        // A match pipe's entry changes its forward (a tunnel's new key
        // slot); an entry with actions, its actions.
        let psp_id = |id| self.psp_id(id);
        let act = spec
            .actions
            .get(usize::from(idx))
            .map(|&pa| build_actions(pa, Some(&e.action), &psp_id).0);
        let fwd = e.fwd.map(|f| self.fwd(f));
        let pipe = self.pipes[&e.pipe];
        let mon = Self::monitor();
        let ap = act.as_ref().map_or(ptr::null(), |a| a as *const _);
        let fp = fwd.as_ref().map_or(ptr::null(), |f| f as *const _);
        // SAFETY: entry belongs to pipe; pointers to locals.
        check("doca_flow_pipe_basic_update_entry", unsafe {
            sys::doca_flow_pipe_basic_update_entry(self.queue, pipe, idx, ap, &mon, fp, WAIT, entry)
        })?;
        self.pending.push(entry);
        self.queued += 1;
        self.queues.queued(self.queue);
        Ok(())
    }

    /// SPI/key pairs from the device's bulk generator.
    pub(super) fn spi_keys(&self, n: u32, v: Version) -> Result<Vec<(Spi, DerivedKey)>, DocaError> {
        spi_keys(self.secure, n, v)
    }

    /// A handle on the secure port's key generator.
    pub(super) fn key_handle(&self) -> KeyHandle {
        KeyHandle { port: std::sync::Arc::new(std::sync::Mutex::new(PortPtr(self.secure))) }
    }

    /// `doca_flow_resource_query_entry`.
    pub(super) fn query(&self, key: EntryKey) -> Result<Counter, DocaError> {
        let &(_, entry) = self.entries.get(&key).ok_or(DocaError::Entries(1))?;
        let mut q = sys::doca_flow_resource_query::default();
        // SAFETY: entry is live; q is a local.
        check("doca_flow_resource_query_entry", unsafe {
            sys::doca_flow_resource_query_entry(entry, &mut q)
        })?;
        // SAFETY: a counter query fills the counter member.
        let c = unsafe { q.__bindgen_anon_1.counter };
        Ok(Counter { packets: c.total_pkts, bytes: c.total_bytes })
    }
}

impl Nic for Hw {
    fn program_key(&mut self, crypto_id: u32, key: &PspKeyCfg) -> Result<(), DocaError> {
        Hw::program_key(self, crypto_id, key)
    }

    fn clear_key(&mut self, crypto_id: u32) -> Result<(), DocaError> {
        let zero = PspKeyCfg::new(&[0; 32]).expect("a 32-byte key");
        Hw::program_key(self, crypto_id, &zero)
    }

    fn add(&mut self, e: &DocaEntry) -> Result<(), DocaError> {
        let specs = std::mem::take(&mut self.specs);
        let r = Hw::add(self, &specs, e);
        self.specs = specs;
        r
    }

    fn update(&mut self, e: &DocaEntry) -> Result<(), DocaError> {
        let specs = std::mem::take(&mut self.specs);
        let r = self.update_entry(&specs, e);
        self.specs = specs;
        r
    }

    fn remove(&mut self, key: EntryKey) -> Result<(), DocaError> {
        let Some((_, entry)) = self.entries.remove(&key) else { return Ok(()) };
        // SAFETY: entry was added and not removed before.
        check("doca_flow_pipe_remove_entry", unsafe {
            sys::doca_flow_pipe_remove_entry(self.queue, WAIT, entry)
        })?;
        self.pending.retain(|&p| p != entry);
        self.queued += 1;
        self.queues.queued(self.queue);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DocaError> {
        Hw::flush(self)
    }
}

impl CounterSource for Hw {
    fn entry(&self, key: EntryKey) -> Result<Counter, DocaError> {
        self.query(key)
    }

    fn pipe_miss(&self, pipe: PipeId) -> Result<Counter, DocaError> {
        let &p = self.pipes.get(&pipe).ok_or(DocaError::Entries(1))?;
        let mut q = sys::doca_flow_resource_query::default();
        // SAFETY: p is a live pipe created with a miss counter; q is a local.
        check("doca_flow_resource_query_pipe_miss", unsafe {
            sys::doca_flow_resource_query_pipe_miss(p, &mut q)
        })?;
        // SAFETY: a counter query fills the counter member.
        let c = unsafe { q.__bindgen_anon_1.counter };
        Ok(Counter { packets: c.total_pkts, bytes: c.total_bytes })
    }
}
