//! `-m/--core-mask`: the EAL core mask, as the DOCA application takes it.
//!
//! Every core in the mask runs the datapath: one RSS queue per core on each
//! port. The lowest core is DPDK's main lcore; with a one-core mask the
//! datapath runs on the main lcore itself.

use super::Error;

/// A set of CPU cores from a hex mask such as `0x3` (bit n = core n).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreMask {
    cores: Vec<u32>,
}

impl core::str::FromStr for CoreMask {
    type Err = Error;

    /// Parses `0x...` or bare hex digits, up to 128 cores.
    fn from_str(s: &str) -> Result<CoreMask, Error> {
        let bad = |why| Error::CoreMask { value: s.to_string(), why };
        let hex = s.trim().strip_prefix("0x").or_else(|| s.trim().strip_prefix("0X"));
        let hex = hex.unwrap_or(s.trim());
        if hex.is_empty() {
            return Err(bad("empty"));
        }
        if hex.len() > 32 {
            return Err(bad("more than 128 cores"));
        }
        let mask = u128::from_str_radix(hex, 16).map_err(|_| bad("not a hex core mask"))?;
        if mask == 0 {
            return Err(bad("selects no core"));
        }
        let cores = (0..128).filter(|i| mask >> i & 1 == 1).collect();
        Ok(CoreMask { cores })
    }
}

impl CoreMask {
    /// The cores, ascending.
    pub fn cores(&self) -> &[u32] {
        &self.cores
    }

    /// DPDK's main lcore: the lowest core of the mask.
    pub fn main_core(&self) -> u32 {
        self.cores[0]
    }

    /// Number of datapath cores, hence of RSS queues per port.
    pub fn queues(&self) -> u16 {
        // At most 128 cores fit a mask.
        self.cores.len() as u16
    }

    /// The EAL `-l` list (`0,2,3`).
    pub fn eal_list(&self) -> String {
        self.cores.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
    }

    /// Refuses cores this machine does not have (`online` cores, e.g. from
    /// `std::thread::available_parallelism` or the affinity mask).
    pub fn check_against(&self, online: &[u32]) -> Result<(), Error> {
        match self.cores.iter().find(|c| !online.contains(c)) {
            Some(_) => Err(Error::CoreMask {
                value: format!("{:#x}", self.cores.iter().fold(0u128, |m, c| m | 1 << c)),
                why: "names a core this machine does not have",
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_masks() {
        let m: CoreMask = "0xd".parse().unwrap();
        assert_eq!(m.cores(), &[0, 2, 3]);
        assert_eq!((m.main_core(), m.queues(), m.eal_list()), (0, 3, "0,2,3".into()));
        let one: CoreMask = "2".parse().unwrap();
        assert_eq!((one.cores(), one.queues()), (&[1u32][..], 1));
        assert_eq!("0X80".parse::<CoreMask>().unwrap().cores(), &[7]);
    }

    #[test]
    fn refuses_bad_masks_naming_the_flag() {
        for (s, why) in [("", "empty"), ("0x0", "no core"), ("0xg", "not a hex"), ("0x", "empty")] {
            let e = s.parse::<CoreMask>().unwrap_err().to_string();
            assert!(e.starts_with("-m/--core-mask"), "{e}");
            assert!(e.contains(why), "{e}");
        }
        assert!("1".repeat(33).parse::<CoreMask>().is_err());
        let m: CoreMask = "0x6".parse().unwrap();
        assert!(m.check_against(&[0, 1, 2]).is_ok());
        assert!(m.check_against(&[0, 1]).unwrap_err().to_string().contains("0x6"));
    }
}
