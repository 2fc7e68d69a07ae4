//! `--backend auto|software|doca`: which flow backend runs, decided from
//! the flag and the [`Probe`] of the `-p` device (whether this build has
//! the DOCA SDK, and whether a DOCA device is there); with a one-line
//! reason for the log.

use super::probe::Probe;
use core::fmt;
use core::str::FromStr;

/// The `--backend` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendFlag {
    /// DOCA when the SDK and a capable device are present, else software.
    #[default]
    Auto,
    /// The software pipeline on the packet cores.
    Software,
    /// DOCA Flow offload; an error if it cannot run.
    Doca,
}

impl FromStr for BackendFlag {
    type Err = String;
    fn from_str(s: &str) -> Result<BackendFlag, String> {
        match s {
            "auto" => Ok(BackendFlag::Auto),
            "software" => Ok(BackendFlag::Software),
            "doca" => Ok(BackendFlag::Doca),
            _ => Err(format!("--backend {s}: expected auto, software or doca")),
        }
    }
}

/// The backend that runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `engine::tables::ReplicatedTables` and the software pipeline.
    Software,
    /// `engine::doca::DocaFlowBackend`.
    Doca,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Software => "software",
            Backend::Doca => "doca",
        })
    }
}

/// The decision and why, for one log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The backend.
    pub backend: Backend,
    /// Why, e.g. "--backend auto: DOCA SDK absent from this build".
    pub reason: String,
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flow backend: {} ({})", self.backend, self.reason)
    }
}

/// Resolves the flag from the [`Probe`] of the `-p` device. `--backend
/// doca` without the SDK or without a DOCA device is an error (the operator
/// asked for offload), carrying the reason; `auto` then picks software and
/// says why.
pub fn select(flag: BackendFlag, probe: &Probe) -> Result<Selection, String> {
    let pick = |backend, reason: String| Ok(Selection { backend, reason });
    match (flag, probe.capable()) {
        (BackendFlag::Software, _) => pick(Backend::Software, "--backend software".to_owned()),
        (BackendFlag::Doca, true) => pick(Backend::Doca, format!("--backend doca: {probe}")),
        (BackendFlag::Doca, false) => Err(format!("--backend doca: {probe}")),
        (BackendFlag::Auto, true) => pick(Backend::Doca, format!("--backend auto: {probe}")),
        (BackendFlag::Auto, false) => pick(Backend::Software, format!("--backend auto: {probe}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probes() -> Vec<Probe> {
        vec![
            Probe::SdkAbsent,
            Probe::NotPci("net_null0".into()),
            Probe::ListFailed("x".into()),
            Probe::NoDevice { pci: "0000:03:00.0".into(), found: vec![] },
            Probe::Device { pci: "0000:03:00.0".into() },
        ]
    }

    #[test]
    fn every_combination() {
        use BackendFlag::*;
        for p in probes() {
            let s = select(Software, &p).unwrap();
            assert_eq!(s.backend, Backend::Software);
            assert_eq!(s.reason, "--backend software");
            let a = select(Auto, &p).unwrap();
            let d = select(Doca, &p);
            assert_eq!(a.reason, format!("--backend auto: {p}"));
            if p.capable() {
                assert_eq!(a.backend, Backend::Doca);
                assert_eq!(d.unwrap().backend, Backend::Doca);
            } else {
                assert_eq!(a.backend, Backend::Software);
                assert_eq!(d.unwrap_err(), format!("--backend doca: {p}"));
            }
        }
        assert_eq!(
            select(Auto, &Probe::SdkAbsent).unwrap().to_string(),
            "flow backend: software (--backend auto: DOCA SDK absent from this build)"
        );
        assert_eq!(
            select(Doca, &Probe::SdkAbsent).unwrap_err(),
            "--backend doca: DOCA SDK absent from this build"
        );
        assert_eq!(
            select(Auto, &Probe::Device { pci: "0000:03:00.0".into() }).unwrap().to_string(),
            "flow backend: doca (--backend auto: DOCA SDK present and -p 0000:03:00.0 is a \
             DOCA device)"
        );
    }

    #[test]
    fn parses_the_flag() {
        assert_eq!("auto".parse(), Ok(BackendFlag::Auto));
        assert_eq!("software".parse(), Ok(BackendFlag::Software));
        assert_eq!("doca".parse(), Ok(BackendFlag::Doca));
        assert!("hw".parse::<BackendFlag>().unwrap_err().contains("auto, software or doca"));
        assert_eq!(BackendFlag::default(), BackendFlag::Auto);
    }
}
