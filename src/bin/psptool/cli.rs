//! Command line of psptool.

use clap::{Args, Parser, Subcommand, ValueEnum};
use engine::psp::kdf::MasterKey;
use engine::psp::{Spi, Version};
use engine::wire::MacAddr;
use std::net::IpAddr;

#[derive(Debug, Parser)]
#[command(
    name = "psptool",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("PSPGW_BUILD_INFO"), ")"),
    about = "Offline PSP tool: derive keys, encrypt and decrypt pcap captures"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Print the key derived for an SPI (hex).
    Derive(DeriveArgs),
    /// Encrypt every IPv4/IPv6 frame of a capture into PSP.
    Encrypt(EncryptArgs),
    /// Decrypt the PSP frames of a capture, deriving keys from SPIs.
    Decrypt(DecryptArgs),
    /// Write a sample capture of clear IPv4/IPv6 UDP, TCP and ICMP frames.
    Gen(GenArgs),
}

#[derive(Debug, Args)]
pub struct Masters {
    /// Master key 0: 32 bytes in hex (SPIs with bit 31 clear).
    #[arg(long = "master-key0", value_name = "HEX", value_parser = parse_master)]
    pub key0: MasterKeyArg,
    /// Master key 1: 32 bytes in hex (SPIs with bit 31 set).
    #[arg(long = "master-key1", value_name = "HEX", value_parser = parse_master)]
    pub key1: MasterKeyArg,
}

/// A master key from the command line (clap needs `Clone + Send + Sync`).
#[derive(Debug, Clone)]
pub struct MasterKeyArg(pub MasterKey);

/// Which derived key: an SPI and the version whose key length it takes.
#[derive(Debug, Args)]
pub struct KeySelect {
    /// SPI in hex (0x prefix optional); its key derives from the master keys.
    #[arg(long, value_name = "HEX", value_parser = parse_spi)]
    pub spi: Spi,
    /// PSP version: 0 AES-GCM-128, 1 AES-GCM-256, 2 AES-GMAC-128, 3 AES-GMAC-256.
    #[arg(long, value_name = "N", value_parser = parse_version)]
    pub version: Version,
}

#[derive(Debug, Args)]
pub struct DeriveArgs {
    #[command(flatten)]
    pub masters: Masters,
    #[command(flatten)]
    pub key: KeySelect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Outer IP/UDP/PSP around the whole inner packet.
    Tunnel,
    /// UDP/PSP between the IP header and its payload.
    Transport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OuterArg {
    /// Outer IPv6 (the default, as in the DOCA application).
    Ipv6,
    /// Outer IPv4.
    Ipv4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompatArg {
    /// psptool's own choices: outer headers from the flags, ECMP-friendly
    /// UDP source port, flow label.
    Native,
    /// Byte-identical to the reference encryptor (google/psp psp_encrypt):
    /// outer IP header copied from the inner one, UDP source port = inner
    /// ports XORed, IPv6 packets that are not TCP/UDP skipped, snaplen 9014.
    Reference,
}

/// Flags that a `--cfg` file replaces.
const CFG_FIELDS: [&str; 7] = ["key0", "key1", "spi", "version", "mode", "crypt_offset", "vc"];

#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// Input capture of clear Ethernet frames (pcap).
    #[arg(long = "in", value_name = "PCAP")]
    pub input: String,
    /// Output capture of PSP frames.
    #[arg(long = "out", value_name = "PCAP")]
    pub output: String,
    /// The reference tool's encryption cfg file (master keys, SPI, mode,
    /// algorithm, the three crypt offsets, vc/no-vc) instead of the flags.
    #[arg(long, value_name = "FILE", conflicts_with_all = CFG_FIELDS)]
    pub cfg: Option<String>,
    /// Master key 0: 32 bytes in hex (SPIs with bit 31 clear).
    #[arg(long = "master-key0", value_name = "HEX", value_parser = parse_master,
          required_unless_present = "cfg")]
    pub key0: Option<MasterKeyArg>,
    /// Master key 1: 32 bytes in hex (SPIs with bit 31 set).
    #[arg(long = "master-key1", value_name = "HEX", value_parser = parse_master,
          required_unless_present = "cfg")]
    pub key1: Option<MasterKeyArg>,
    /// SPI in hex (0x prefix optional); its key derives from the master keys.
    #[arg(long, value_name = "HEX", value_parser = parse_spi, required_unless_present = "cfg")]
    pub spi: Option<Spi>,
    /// PSP version: 0 AES-GCM-128, 1 AES-GCM-256, 2 AES-GMAC-128, 3 AES-GMAC-256.
    #[arg(long, value_name = "N", value_parser = parse_version, required_unless_present = "cfg")]
    pub version: Option<Version>,
    /// Encapsulation mode.
    #[arg(long, value_enum, default_value_t = ModeArg::Tunnel)]
    pub mode: ModeArg,
    /// Crypt offset in 4-byte units after the IV (0-63).
    #[arg(long = "crypt-offset", value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u8).range(0..=63))]
    pub crypt_offset: u8,
    /// Virtualization cookie: 16 hex digits (sets the V bit).
    #[arg(long, value_name = "HEX16", value_parser = parse_vc)]
    pub vc: Option<u64>,
    /// Whose rules the fields outside PSP follow.
    #[arg(long, value_enum, default_value_t = CompatArg::Native)]
    pub compat: CompatArg,
    /// Outer IP version in tunnel mode.
    #[arg(long, value_enum, default_value_t = OuterArg::Ipv6)]
    pub outer: OuterArg,
    /// Outer source address (default: the inner source; IPv4-mapped for
    /// IPv4 inside IPv6).
    #[arg(long = "outer-src", value_name = "IP")]
    pub outer_src: Option<IpAddr>,
    /// Outer destination address (default: from the inner destination).
    #[arg(long = "outer-dst", value_name = "IP")]
    pub outer_dst: Option<IpAddr>,
    /// Source MAC of the output frames (default: the input frame's).
    #[arg(long = "src-mac", value_name = "MAC", value_parser = parse_mac)]
    pub src_mac: Option<MacAddr>,
    /// Destination MAC of the output frames (default: the input frame's).
    #[arg(long = "dst-mac", value_name = "MAC", value_parser = parse_mac)]
    pub dst_mac: Option<MacAddr>,
    /// IV of the first packet; later packets count up from it.
    #[arg(long = "iv-start", value_name = "N", default_value_t = 1, value_parser = parse_u64)]
    pub iv_start: u64,
}

#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// Input capture of PSP frames (pcap).
    #[arg(long = "in", value_name = "PCAP")]
    pub input: String,
    /// Output capture of the decrypted frames.
    #[arg(long = "out", value_name = "PCAP")]
    pub output: String,
    /// A reference tool cfg file whose first two fields are the master keys
    /// (its decrypt.cfg, or any of its encryption cfg files).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["key0", "key1"])]
    pub cfg: Option<String>,
    /// Master key 0: 32 bytes in hex (SPIs with bit 31 clear).
    #[arg(long = "master-key0", value_name = "HEX", value_parser = parse_master,
          required_unless_present = "cfg")]
    pub key0: Option<MasterKeyArg>,
    /// Master key 1: 32 bytes in hex (SPIs with bit 31 set).
    #[arg(long = "master-key1", value_name = "HEX", value_parser = parse_master,
          required_unless_present = "cfg")]
    pub key1: Option<MasterKeyArg>,
    /// Rewrite the destination MAC of decrypted frames.
    #[arg(long = "decap-dmac", value_name = "MAC", value_parser = parse_mac)]
    pub decap_dmac: Option<MacAddr>,
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Output capture.
    #[arg(long = "out", value_name = "PCAP")]
    pub output: String,
    /// Number of frames.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub count: u32,
    /// Seed of the payload generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn strip_0x(s: &str) -> &str {
    s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s)
}

fn parse_master(s: &str) -> Result<MasterKeyArg, String> {
    let bytes = hex::decode(strip_0x(s)).map_err(|e| format!("not hex: {e}"))?;
    MasterKey::from_bytes(&bytes)
        .map(MasterKeyArg)
        .map_err(|_| format!("must be 32 bytes (64 hex digits), got {} bytes", bytes.len()))
}

fn parse_spi(s: &str) -> Result<Spi, String> {
    let t = strip_0x(s);
    if t.is_empty() || t.len() > 8 {
        return Err("must be 1 to 8 hex digits".into());
    }
    u32::from_str_radix(t, 16).map(Spi).map_err(|_| "not hex".into())
}

fn parse_version(s: &str) -> Result<Version, String> {
    let n: u8 = s.parse().map_err(|_| "must be 0, 1, 2 or 3".to_string())?;
    Version::from_wire(n).ok_or_else(|| "must be 0, 1, 2 or 3".into())
}

fn parse_vc(s: &str) -> Result<u64, String> {
    let t = strip_0x(s);
    if t.len() != 16 {
        return Err("must be exactly 16 hex digits".into());
    }
    u64::from_str_radix(t, 16).map_err(|_| "not hex".into())
}

fn parse_u64(s: &str) -> Result<u64, String> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    }
    .map_err(|_| "must be an unsigned 64-bit integer".into())
}

fn parse_mac(s: &str) -> Result<MacAddr, String> {
    s.parse().map_err(|e: engine::wire::Error| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_parsers() {
        assert_eq!(parse_spi("0x9A345678"), Ok(Spi(0x9a34_5678)));
        assert_eq!(parse_spi("1"), Ok(Spi(1)));
        assert!(parse_spi("123456789").is_err());
        assert!(parse_spi("").is_err());
        assert!(parse_spi("xyz").is_err());
        assert_eq!(parse_version("3"), Ok(Version::AesGmac256));
        assert!(parse_version("4").is_err());
        assert!(parse_master(&"00".repeat(31)).unwrap_err().contains("31 bytes"));
        assert!(parse_master(&"zz".repeat(32)).unwrap_err().contains("not hex"));
        assert!(parse_master(&format!("0x{}", "ab".repeat(32))).is_ok());
        assert_eq!(parse_vc("0x0102030405060708"), Ok(0x0102_0304_0506_0708));
        assert!(parse_vc("01").is_err());
        assert_eq!(parse_u64("0x10"), Ok(16));
        assert!(parse_mac("01:02").is_err());
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
