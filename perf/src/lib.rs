//! End-to-end performance harnesses that users run on their own hardware.
//!
//! - `throughput`: packets through the real DPDK datapath (a `net_pcap`
//!   port replaying a capture forever into the pipeline, out to a sink),
//!   Mpps and Gbit/s per packet core, against the raw AEAD rate of the same
//!   core.
//!
//! The tunnel-setup harness (issue 4) comes with the gRPC control plane.

/// Writes `frames` as a classic pcap file (Ethernet, microseconds).
pub fn write_pcap(path: &std::path::Path, frames: &[Vec<u8>]) -> std::io::Result<()> {
    std::fs::write(path, engine::pcap::encode_frames(frames))
}

/// An Ethernet/IPv4/UDP frame whose IP packet is `ip_len` bytes (at least
/// 28), from `src` to `dst`, with UDP source port `sport`.
pub fn udp_frame(ip_len: usize, src: [u8; 4], dst: [u8; 4], sport: u16) -> Vec<u8> {
    let ip_len = ip_len.max(28);
    let mut f = vec![0u8; 14 + ip_len];
    f[..12].copy_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    engine::wire::ipv4_emit(&mut f[14..], src.into(), dst.into(), 17, 0, 64, ip_len as u16);
    engine::wire::udp_emit(&mut f[34..], sport, 5001, (ip_len - 20) as u16);
    for (i, b) in f[42..].iter_mut().enumerate() {
        *b = i as u8;
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_pcap() {
        let f = udp_frame(64, [10, 0, 0, 1], [10, 0, 0, 2], 7);
        assert_eq!(f.len(), 78);
        let ip = engine::wire::Ipv4Packet::new_checked(&f[14..]).unwrap();
        assert!(ip.verify_checksum());
        let p = std::env::temp_dir().join(format!("perf-pcap-{}", std::process::id()));
        write_pcap(&p, &[f.clone(), f]).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 24 + 2 * (16 + 78));
        std::fs::remove_file(&p).unwrap();
    }
}
