//! Classic pcap files (not pcapng), over bytes: decoding that validates
//! every record and names the one that is wrong, and encoding. Sans-IO:
//! callers read and write the files. psptool, the perf harnesses and the
//! DPDK tests (whose `net_pcap` ports replay and record pcap) share it.

/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Largest record accepted (libpcap's default snaplen cap).
pub const MAX_RECORD: u32 = 262_144;

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Seconds of the timestamp.
    pub ts_sec: u32,
    /// Sub-second part, in microseconds (nanosecond files are converted).
    pub ts_usec: u32,
    /// Original length on the wire (0 when written: the captured length).
    pub orig_len: u32,
    /// The captured bytes.
    pub data: Vec<u8>,
}

impl Record {
    /// A record of `data` with a zero timestamp.
    pub fn frame(data: Vec<u8>) -> Record {
        Record { ts_sec: 0, ts_usec: 0, orig_len: 0, data }
    }
}

/// Why bytes are not a pcap of Ethernet frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Shorter than the file header.
    #[error("not a pcap file: shorter than the 24-byte header")]
    ShortHeader,
    /// A pcapng file.
    #[error("pcapng is not supported; convert with `editcap -F pcap in out`")]
    Pcapng,
    /// Not a pcap magic number.
    #[error("not a pcap file (magic {0:#010x})")]
    Magic(u32),
    /// Not Ethernet.
    #[error("link type {0} is not Ethernet (1)")]
    LinkType(u32),
    /// A record header cut short.
    #[error("record {record}: header truncated ({got} of 16 bytes)")]
    RecordHeader {
        /// 1-based record number.
        record: usize,
        /// Bytes present.
        got: usize,
    },
    /// A captured length above [`MAX_RECORD`].
    #[error("record {record}: captured length {len} exceeds {MAX_RECORD}")]
    TooLong {
        /// 1-based record number.
        record: usize,
        /// The captured length.
        len: u32,
    },
    /// Record data cut short.
    #[error("record {record}: data truncated ({got} of {len} bytes)")]
    Data {
        /// 1-based record number.
        record: usize,
        /// Bytes present.
        got: usize,
        /// The captured length.
        len: u32,
    },
}

/// Decodes a whole pcap file of Ethernet frames.
pub fn decode(bytes: &[u8]) -> Result<Vec<Record>, Error> {
    let hdr = bytes.get(..24).ok_or(Error::ShortHeader)?;
    let magic = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
    let (big_endian, nanos) = match magic {
        0xa1b2_c3d4 => (false, false),
        0xa1b2_3c4d => (false, true),
        0xd4c3_b2a1 => (true, false),
        0x4d3c_b2a1 => (true, true),
        0x0a0d_0d0a => return Err(Error::Pcapng),
        m => return Err(Error::Magic(m)),
    };
    let u32_at = |b: &[u8], at: usize| {
        let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    };
    let linktype = u32_at(hdr, 20) & 0x0fff_ffff;
    if linktype != LINKTYPE_ETHERNET {
        return Err(Error::LinkType(linktype));
    }
    let mut out = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let record = out.len() + 1;
        let rh = &bytes[at..];
        if rh.len() < 16 {
            return Err(Error::RecordHeader { record, got: rh.len() });
        }
        let len = u32_at(rh, 8);
        if len > MAX_RECORD {
            return Err(Error::TooLong { record, len });
        }
        let data = &rh[16..];
        if data.len() < len as usize {
            return Err(Error::Data { record, got: data.len(), len });
        }
        let frac = u32_at(rh, 4);
        out.push(Record {
            ts_sec: u32_at(rh, 0),
            ts_usec: if nanos { frac / 1000 } else { frac },
            orig_len: u32_at(rh, 12),
            data: data[..len as usize].to_vec(),
        });
        at += 16 + len as usize;
    }
    Ok(out)
}

/// Encodes `records` as a little-endian, microsecond pcap of Ethernet
/// frames (snaplen 65535).
pub fn encode(records: &[Record]) -> Vec<u8> {
    encode_with_snaplen(records, 65_535)
}

/// [`encode`] with another snaplen in the file header (the PSP reference
/// tools write 9014, their jumbo-frame limit).
pub fn encode_with_snaplen(records: &[Record], snaplen: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + records.iter().map(|r| 16 + r.data.len()).sum::<usize>());
    for x in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, snaplen, LINKTYPE_ETHERNET] {
        out.extend_from_slice(&x.to_le_bytes());
    }
    for r in records {
        let len = r.data.len() as u32;
        for x in [r.ts_sec, r.ts_usec, len, r.orig_len.max(len)] {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.extend_from_slice(&r.data);
    }
    out
}

/// Encodes frames with zero timestamps.
pub fn encode_frames(frames: &[Vec<u8>]) -> Vec<u8> {
    let records: Vec<Record> = frames.iter().cloned().map(Record::frame).collect();
    encode(&records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: u8) -> Record {
        Record { ts_sec: 10, ts_usec: 20, orig_len: 3, data: vec![n; 3] }
    }

    #[test]
    fn roundtrip() {
        let v = encode(&[rec(1), rec(2)]);
        assert_eq!(decode(&v).unwrap(), vec![rec(1), rec(2)]);
        assert_eq!(decode(&encode_frames(&[vec![7; 5]])).unwrap()[0].data, vec![7; 5]);
    }

    #[test]
    fn big_endian_nanosecond_files() {
        let mut v = Vec::new();
        v.extend_from_slice(&0xa1b2_3c4du32.to_be_bytes());
        v.extend_from_slice(&[0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 1]);
        for x in [7u32, 5_000, 2, 2] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v.extend_from_slice(&[9, 9]);
        let r = decode(&v).unwrap();
        assert_eq!(r, vec![Record { ts_sec: 7, ts_usec: 5, orig_len: 2, data: vec![9, 9] }]);
    }

    #[test]
    fn errors_name_the_problem() {
        let v = encode(&[rec(1), rec(2)]);
        let e = decode(&v[..v.len() - 1]).unwrap_err().to_string();
        assert_eq!(e, "record 2: data truncated (2 of 3 bytes)");
        let e = decode(&v[..30]).unwrap_err().to_string();
        assert_eq!(e, "record 1: header truncated (6 of 16 bytes)");
        assert!(decode(&v[..10]).unwrap_err().to_string().contains("24-byte header"));
        assert!(decode(&[0u8; 24]).unwrap_err().to_string().contains("not a pcap file"));
        let mut ng = v.clone();
        ng[..4].copy_from_slice(&0x0a0d_0d0au32.to_le_bytes());
        assert!(decode(&ng).unwrap_err().to_string().contains("pcapng"));
        let mut raw = v.clone();
        raw[20] = 101;
        assert!(decode(&raw).unwrap_err().to_string().contains("not Ethernet"));
        let mut huge = v.clone();
        huge[24 + 8..24 + 12].copy_from_slice(&1_000_000u32.to_le_bytes());
        assert!(decode(&huge).unwrap_err().to_string().contains("exceeds"));
    }
}
