//! Classic pcap files (not pcapng): a reader that validates every record and
//! a writer. Errors name the record and what is wrong with it.

use anyhow::{bail, Context, Result};
use std::io::{BufReader, BufWriter, Read, Write};

/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Largest record we accept (the pcap default snaplen cap of libpcap).
const MAX_RECORD: u32 = 262_144;

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Seconds of the timestamp.
    pub ts_sec: u32,
    /// Sub-second part, in microseconds (nanosecond files are converted).
    pub ts_usec: u32,
    /// Original length on the wire.
    pub orig_len: u32,
    /// The captured bytes.
    pub data: Vec<u8>,
}

/// Reads a whole pcap file of Ethernet frames.
pub fn read_file(path: &str) -> Result<Vec<Record>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {path}"))?;
    read(BufReader::new(f)).with_context(|| path.to_string())
}

/// Reads pcap records from `r`.
pub fn read<R: Read>(mut r: R) -> Result<Vec<Record>> {
    let mut hdr = [0u8; 24];
    r.read_exact(&mut hdr).context("not a pcap file: shorter than the 24-byte header")?;
    let magic = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
    let (big_endian, nanos) = match magic {
        0xa1b2_c3d4 => (false, false),
        0xa1b2_3c4d => (false, true),
        0xd4c3_b2a1 => (true, false),
        0x4d3c_b2a1 => (true, true),
        0x0a0d_0d0a => bail!("pcapng is not supported; convert with `editcap -F pcap in out`"),
        m => bail!("not a pcap file (magic {m:#010x})"),
    };
    let u32_at = |b: &[u8], at: usize| {
        let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    };
    let linktype = u32_at(&hdr, 20) & 0x0fff_ffff;
    if linktype != LINKTYPE_ETHERNET {
        bail!("link type {linktype} is not Ethernet (1)");
    }
    let mut out = Vec::new();
    loop {
        let mut rh = [0u8; 16];
        match read_full(&mut r, &mut rh)? {
            0 => return Ok(out),
            16 => {}
            n => bail!("record {}: header truncated ({n} of 16 bytes)", out.len() + 1),
        }
        let incl = u32_at(&rh, 8);
        if incl > MAX_RECORD {
            bail!("record {}: captured length {incl} exceeds {MAX_RECORD}", out.len() + 1);
        }
        let mut data = vec![0u8; incl as usize];
        let got = read_full(&mut r, &mut data)?;
        if got != data.len() {
            bail!("record {}: data truncated ({got} of {incl} bytes)", out.len() + 1);
        }
        let frac = u32_at(&rh, 4);
        out.push(Record {
            ts_sec: u32_at(&rh, 0),
            ts_usec: if nanos { frac / 1000 } else { frac },
            orig_len: u32_at(&rh, 12),
            data,
        });
    }
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("read error"),
        }
    }
    Ok(n)
}

/// Writes `records` as a microsecond pcap of Ethernet frames.
pub fn write_file(path: &str, records: &[Record]) -> Result<()> {
    let f = std::fs::File::create(path).with_context(|| format!("cannot create {path}"))?;
    let mut w = BufWriter::new(f);
    write(&mut w, records).with_context(|| format!("writing {path}"))?;
    w.flush().with_context(|| format!("writing {path}"))
}

/// Writes `records` to `w`.
pub fn write<W: Write>(w: &mut W, records: &[Record]) -> Result<()> {
    let mut hdr = Vec::with_capacity(24);
    hdr.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    hdr.extend_from_slice(&0i32.to_le_bytes());
    hdr.extend_from_slice(&0u32.to_le_bytes());
    hdr.extend_from_slice(&65_535u32.to_le_bytes());
    hdr.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    w.write_all(&hdr)?;
    for r in records {
        let mut rh = [0u8; 16];
        rh[0..4].copy_from_slice(&r.ts_sec.to_le_bytes());
        rh[4..8].copy_from_slice(&r.ts_usec.to_le_bytes());
        rh[8..12].copy_from_slice(&(r.data.len() as u32).to_le_bytes());
        rh[12..16].copy_from_slice(&r.orig_len.max(r.data.len() as u32).to_le_bytes());
        w.write_all(&rh)?;
        w.write_all(&r.data)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: u8) -> Record {
        Record { ts_sec: 10, ts_usec: 20, orig_len: 3, data: vec![n; 3] }
    }

    #[test]
    fn roundtrip() {
        let mut v = Vec::new();
        write(&mut v, &[rec(1), rec(2)]).unwrap();
        assert_eq!(read(&v[..]).unwrap(), vec![rec(1), rec(2)]);
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
        let r = read(&v[..]).unwrap();
        assert_eq!(r, vec![Record { ts_sec: 7, ts_usec: 5, orig_len: 2, data: vec![9, 9] }]);
    }

    #[test]
    fn errors_name_the_problem() {
        let mut v = Vec::new();
        write(&mut v, &[rec(1), rec(2)]).unwrap();
        let e = read(&v[..v.len() - 1]).unwrap_err().to_string();
        assert_eq!(e, "record 2: data truncated (2 of 3 bytes)");
        let e = read(&v[..30]).unwrap_err().to_string();
        assert_eq!(e, "record 1: header truncated (6 of 16 bytes)");
        assert!(read(&v[..10]).unwrap_err().to_string().contains("24-byte header"));
        assert!(read(&[0u8; 24][..]).unwrap_err().to_string().contains("not a pcap file"));
        let mut ng = v.clone();
        ng[..4].copy_from_slice(&0x0a0d_0d0au32.to_le_bytes());
        assert!(read(&ng[..]).unwrap_err().to_string().contains("pcapng"));
        let mut raw = v.clone();
        raw[20] = 101;
        assert!(read(&raw[..]).unwrap_err().to_string().contains("not Ethernet"));
        let mut huge = v.clone();
        huge[24 + 8..24 + 12].copy_from_slice(&1_000_000u32.to_le_bytes());
        assert!(read(&huge[..]).unwrap_err().to_string().contains("exceeds"));
    }
}
