//! The PSP reference tools' configuration file (`psp_encrypt -c FILE`,
//! `psp_decrypt -c FILE`), read so that psptool takes the same files.
//!
//! Whitespace-separated fields, in order (the reference's files put one
//! field a line, the keys one line each):
//!
//! 1. master key 0: 32 hex bytes (`34 44 8a ...`);
//! 2. master key 1: 32 hex bytes;
//! 3. SPI: up to 8 hex digits (bit 31 picks the master key);
//! 4. mode: `transport` or `tunnel`;
//! 5. algorithm: `aes-gcm-128` or `aes-gcm-256`;
//! 6. crypt offset of transport mode, in 4-byte units;
//! 7. crypt offset of tunnel mode over IPv4;
//! 8. crypt offset of tunnel mode over IPv6;
//! 9. `vc` or `no-vc`: whether the header carries a (zero) cookie.
//!
//! The decryptor's file holds fields 1 and 2 only; `decrypt --cfg` reads
//! those two from either kind of file. Every error names the file and the
//! line of the field that is wrong (or the last line, when one is missing).

use engine::psp::kdf::MasterKey;
use engine::psp::{Mode, Spi, Version, MAX_CRYPT_OFFSET};
use zeroize::Zeroizing;

/// A cfg file that cannot be used: `file:line: what`.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {what}")]
pub struct CfgError {
    /// The file as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

/// What an encryptor's cfg file says.
#[derive(Debug)]
pub struct EncryptCfg {
    /// Master keys 0 and 1.
    pub masters: (MasterKey, MasterKey),
    /// The SPI.
    pub spi: Spi,
    /// Tunnel or transport.
    pub mode: Mode,
    /// Version 0 (aes-gcm-128) or 1 (aes-gcm-256).
    pub version: Version,
    /// Crypt offset of transport mode.
    pub transport_offset: u8,
    /// Crypt offset of tunnel mode over IPv4.
    pub ipv4_tunnel_offset: u8,
    /// Crypt offset of tunnel mode over IPv6.
    pub ipv6_tunnel_offset: u8,
    /// Whether packets carry a virtualization cookie (the reference's is 0).
    pub vc: bool,
}

impl EncryptCfg {
    /// The crypt offset for an inner packet of this IP version.
    pub fn crypt_offset(&self, inner_v6: bool) -> u8 {
        match (self.mode, inner_v6) {
            (Mode::Transport, _) => self.transport_offset,
            (Mode::Tunnel, false) => self.ipv4_tunnel_offset,
            (Mode::Tunnel, true) => self.ipv6_tunnel_offset,
        }
    }
}

/// Fields of a file with the line each is on, borrowed from the file's
/// text (which [`read`] zeroizes when dropped: it holds master keys).
struct Fields<'a> {
    file: &'a str,
    tokens: Vec<(usize, &'a str)>,
    next: usize,
    last_line: usize,
}

impl<'a> Fields<'a> {
    fn new(file: &'a str, text: &'a str) -> Fields<'a> {
        let tokens: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .flat_map(|(i, l)| l.split_whitespace().map(move |t| (i + 1, t)))
            .collect();
        Fields { file, tokens, next: 0, last_line: text.lines().count().max(1) }
    }

    fn err(&self, line: usize, what: String) -> CfgError {
        CfgError { file: self.file.to_string(), line, what }
    }

    /// The next field, or an error naming what is missing.
    fn take(&mut self, what: &str) -> Result<(usize, &'a str), CfgError> {
        let t = self.tokens.get(self.next).copied();
        self.next += 1;
        t.ok_or_else(|| self.err(self.last_line, format!("{what} is missing (the file ends)")))
    }

    fn master_key(&mut self, n: u8) -> Result<MasterKey, CfgError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        for i in 0..32 {
            let what = format!("master key {n}");
            let (line, t) = self.take(&format!("{what} (byte {} of 32)", i + 1))?;
            let h = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
            if h.is_empty() || h.len() > 2 || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
                // The token itself is not echoed: it may be key material.
                return Err(self
                    .err(line, format!("{what}: byte {} of 32 is not a hex byte (00-ff)", i + 1)));
            }
            bytes[i] = u8::from_str_radix(h, 16).unwrap_or_default();
        }
        MasterKey::from_bytes(&bytes[..])
            .map_err(|e| self.err(self.last_line, format!("master key {n}: {e}")))
    }

    fn spi(&mut self) -> Result<Spi, CfgError> {
        let (line, t) = self.take("SPI")?;
        let h = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
        if h.is_empty() || h.len() > 8 {
            return Err(self.err(line, format!("SPI {t:?}: expected 1 to 8 hex digits")));
        }
        u32::from_str_radix(h, 16)
            .map(Spi)
            .map_err(|_| self.err(line, format!("SPI {t:?} is not hex")))
    }

    fn word<T: Copy>(&mut self, what: &str, choices: &[(&str, T)]) -> Result<T, CfgError> {
        let (line, t) = self.take(what)?;
        choices.iter().find(|(name, _)| *name == t).map(|&(_, v)| v).ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            self.err(line, format!("{what} {t:?}: expected {}", names.join(" or ")))
        })
    }

    fn offset(&mut self, what: &str) -> Result<u8, CfgError> {
        let (line, t) = self.take(what)?;
        match t.parse::<u8>() {
            Ok(n) if n <= MAX_CRYPT_OFFSET => Ok(n),
            _ => Err(self.err(
                line,
                format!(
                    "{what} {t:?}: expected 0 to {MAX_CRYPT_OFFSET} (4-byte units; the header \
                     field has 6 bits)"
                ),
            )),
        }
    }

    fn end(&self) -> Result<(), CfgError> {
        match self.tokens.get(self.next) {
            None => Ok(()),
            Some(&(line, t)) => {
                Err(self.err(line, format!("unexpected {t:?} after the last field (vc or no-vc)")))
            }
        }
    }
}

fn read(path: &str) -> Result<Zeroizing<String>, CfgError> {
    std::fs::read_to_string(path).map(Zeroizing::new).map_err(|e| CfgError {
        file: path.to_string(),
        line: 0,
        what: format!("cannot read: {e}"),
    })
}

/// Parses an encryptor's cfg file text; `file` names it in errors.
pub fn parse_encrypt(file: &str, text: &str) -> Result<EncryptCfg, CfgError> {
    let mut f = Fields::new(file, text);
    let masters = (f.master_key(0)?, f.master_key(1)?);
    let spi = f.spi()?;
    let mode = f.word("mode", &[("transport", Mode::Transport), ("tunnel", Mode::Tunnel)])?;
    let version = f.word(
        "crypto algorithm",
        &[("aes-gcm-128", Version::AesGcm128), ("aes-gcm-256", Version::AesGcm256)],
    )?;
    let transport_offset = f.offset("transport crypt offset")?;
    let ipv4_tunnel_offset = f.offset("IPv4 tunnel crypt offset")?;
    let ipv6_tunnel_offset = f.offset("IPv6 tunnel crypt offset")?;
    let vc = f.word("virtualization cookie", &[("vc", true), ("no-vc", false)])?;
    f.end()?;
    Ok(EncryptCfg {
        masters,
        spi,
        mode,
        version,
        transport_offset,
        ipv4_tunnel_offset,
        ipv6_tunnel_offset,
        vc,
    })
}

/// Parses the master keys at the start of a cfg file (a decryptor's file,
/// or an encryptor's, whose other fields are not read).
pub fn parse_masters(file: &str, text: &str) -> Result<(MasterKey, MasterKey), CfgError> {
    let mut f = Fields::new(file, text);
    Ok((f.master_key(0)?, f.master_key(1)?))
}

/// Reads and parses an encryptor's cfg file.
pub fn read_encrypt(path: &str) -> Result<EncryptCfg, CfgError> {
    parse_encrypt(path, &read(path)?)
}

/// Reads the master keys of a cfg file.
pub fn read_masters(path: &str) -> Result<(MasterKey, MasterKey), CfgError> {
    parse_masters(path, &read(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K0: &str = "34 44 8a 06 42 92 60 1b 11 a0 97 8f 56 a2 d3 4c \
                      f3 fc 35 ed e1 a6 bc 04 f8 db 3e 52 43 a2 b0 ca";
    const K1: &str = "56 39 52 56 5d 3a 78 ae 77 3e c1 b7 79 f2 f2 d9 \
                      9f 4a 7f 53 a6 fb b9 b0 7d 5b 71 f3 93 64 d7 39";

    fn file(rest: &str) -> String {
        format!("{K0}\n{K1}\n{rest}")
    }

    #[test]
    fn reads_the_reference_format() {
        let c =
            parse_encrypt("t.cfg", &file("9A345678\ntunnel\naes-gcm-256\n3\n8\n13\nvc\n")).unwrap();
        assert_eq!(
            (c.spi, c.mode, c.version, c.vc),
            (Spi(0x9a34_5678), Mode::Tunnel, Version::AesGcm256, true)
        );
        assert_eq!((c.crypt_offset(false), c.crypt_offset(true)), (8, 13));
        let k0: Vec<u8> =
            K0.split_whitespace().map(|h| u8::from_str_radix(h, 16).unwrap()).collect();
        assert_eq!(&c.masters.0.expose()[..], &k0[..]);
        let t =
            parse_encrypt("t.cfg", &file("1a345678 transport aes-gcm-128 1 6 11 no-vc")).unwrap();
        assert_eq!((t.mode, t.vc, t.crypt_offset(true)), (Mode::Transport, false, 1));
        let (m0, m1) = parse_masters("d.cfg", &format!("{K0}\n{K1}\n")).unwrap();
        assert_eq!((m0.expose()[0], m1.expose()[31]), (0x34, 0x39));
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = |text: &str| parse_encrypt("x.cfg", text).unwrap_err().to_string();
        assert_eq!(
            e(&file("9A345678\ntunnle\naes-gcm-128\n0\n0\n0\nvc\n")),
            "x.cfg:4: mode \"tunnle\": expected transport or tunnel"
        );
        assert_eq!(
            e(&file("9A345678\ntunnel\naes-gcm-192\n0\n0\n0\nvc\n")),
            "x.cfg:5: crypto algorithm \"aes-gcm-192\": expected aes-gcm-128 or aes-gcm-256"
        );
        assert!(e(&file("9A345678\ntunnel\naes-gcm-128\n0\n64\n0\nvc\n"))
            .starts_with("x.cfg:7: IPv4 tunnel crypt offset \"64\": expected 0 to 63"));
        assert_eq!(
            e(&file("9A345678\ntunnel\naes-gcm-128\n0\n0\n0\n")),
            "x.cfg:8: virtualization cookie is missing (the file ends)"
        );
        assert_eq!(
            e(&file("9A345678\ntunnel\naes-gcm-128\n0\n0\n0\nvc\nextra\n")),
            "x.cfg:10: unexpected \"extra\" after the last field (vc or no-vc)"
        );
        assert_eq!(
            e(&file("12345678Z\n")),
            "x.cfg:3: SPI \"12345678Z\": expected 1 to 8 hex digits"
        );
        let bad_key = K1.replace("d9", "zz");
        let msg = e(&format!("{K0}\n{bad_key}\n"));
        assert_eq!(msg, "x.cfg:2: master key 1: byte 16 of 32 is not a hex byte (00-ff)");
        assert!(!msg.contains("zz"), "key material is not echoed");
        assert_eq!(
            parse_masters("d.cfg", &format!("{K0}\n")).unwrap_err().to_string(),
            "d.cfg:1: master key 1 (byte 1 of 32) is missing (the file ends)"
        );
    }
}
