//! pcap files for psptool: the engine's codec with file I/O, and errors
//! that name the file.

use anyhow::{Context, Result};
pub use engine::pcap::Record;

/// Reads a whole pcap file of Ethernet frames.
pub fn read_file(path: &str) -> Result<Vec<Record>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot open {path}"))?;
    engine::pcap::decode(&bytes).with_context(|| path.to_string())
}

/// Writes `records` as a microsecond pcap of Ethernet frames.
pub fn write_file(path: &str, records: &[Record]) -> Result<()> {
    std::fs::write(path, engine::pcap::encode(records))
        .with_context(|| format!("cannot create {path}"))
}

/// [`write_file`] with another snaplen in the file header.
pub fn write_file_snaplen(path: &str, records: &[Record], snaplen: u32) -> Result<()> {
    std::fs::write(path, engine::pcap::encode_with_snaplen(records, snaplen))
        .with_context(|| format!("cannot create {path}"))
}
