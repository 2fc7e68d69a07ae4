//! The software [`FlowBackend`]: the programmer's commits go to the
//! [`ReplicatedTables`] the packet cores read.

use super::{BackendFailure, FlowBackend};
use crate::tables::{ReplicatedTables, TableOp};

impl FlowBackend for ReplicatedTables {
    fn ready(&mut self) -> bool {
        self.spare_free()
    }

    /// Never fails: the copies are in memory.
    fn commit(&mut self, ops: &[TableOp]) -> Result<u64, BackendFailure> {
        Ok(self.publish(ops))
    }

    fn visible_version(&self) -> u64 {
        ReplicatedTables::visible_version(self)
    }

    fn sessions(&self) -> Option<crate::tables::SessionTotals> {
        Some(ReplicatedTables::sessions(self))
    }
}
