//! Flow metadata: the `rte_flow` metadata dynamic field of an mbuf (32
//! bits, with a valid flag in `ol_flags`). The datapath uses it for the
//! sampling sentinel; it is what `RTE_FLOW_ITEM_TYPE_META` matches on
//! transmit and what `RTE_FLOW_ACTION_TYPE_SET_META` writes on receive.

use super::eal::Eal;
use super::error::{Error, Result};
use super::mbuf::Mbuf;

/// Proof that the metadata dynamic field is registered in this process
/// (its offset is known), which the accessors need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowMetadata {
    _private: (),
}

impl FlowMetadata {
    /// Registers the field (`rte_flow_dynf_metadata_register`; repeated
    /// calls return the same registration).
    pub fn register(_eal: &Eal) -> Result<FlowMetadata> {
        // SAFETY: the EAL is initialised (_eal exists); the call only
        // registers a dynfield and its flag.
        let r = unsafe { dpdk_sys::rte_flow_dynf_metadata_register() };
        if r < 0 {
            return Err(Error::last("rte_flow_dynf_metadata_register"));
        }
        // SAFETY: reads the globals that registration just set.
        debug_assert!(unsafe { dpdk_sys::pspgw_flow_dynf_metadata_avail() } != 0);
        Ok(FlowMetadata { _private: () })
    }
}

impl Mbuf {
    /// The packet's flow metadata, if its valid flag is set.
    pub fn flow_metadata(&self, _meta: FlowMetadata) -> Option<u32> {
        let m = self.as_ptr().cast_mut();
        // SAFETY: self owns a valid mbuf; the field is registered (the
        // FlowMetadata token), so its offset lies inside the mbuf.
        unsafe {
            (dpdk_sys::pspgw_flow_dynf_metadata_flag_get(m) != 0)
                .then(|| dpdk_sys::pspgw_flow_dynf_metadata_get(m))
        }
    }

    /// Sets the packet's flow metadata and its valid flag, or clears the
    /// flag with `None`.
    pub fn set_flow_metadata(&mut self, _meta: FlowMetadata, value: Option<u32>) {
        let m = self.as_mut_ptr();
        // SAFETY: self owns a valid mbuf exclusively; the field is
        // registered (the FlowMetadata token).
        unsafe {
            if let Some(v) = value {
                dpdk_sys::pspgw_flow_dynf_metadata_set(m, v);
            }
            dpdk_sys::pspgw_flow_dynf_metadata_flag_set(m, i32::from(value.is_some()));
        }
    }
}
