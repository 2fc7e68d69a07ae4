//! `--backend auto|software|doca`: which flow backend runs, decided from
//! the flag, whether this build has the DOCA SDK, and whether a capable
//! device is present; with a one-line reason for the log.

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
    /// `engine::flows::ReplicatedTables` and the software pipeline.
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

/// Resolves the flag. `--backend doca` without the SDK or without a capable
/// device is an error (the operator asked for offload), carrying the reason.
pub fn select(
    flag: BackendFlag,
    sdk_present: bool,
    capable_device: bool,
) -> Result<Selection, String> {
    let missing = match (sdk_present, capable_device) {
        (false, _) => Some("DOCA SDK absent from this build"),
        (true, false) => Some("no DOCA device with PSP offload found"),
        (true, true) => None,
    };
    let pick = |backend, reason: String| Ok(Selection { backend, reason });
    match (flag, missing) {
        (BackendFlag::Software, _) => pick(Backend::Software, "--backend software".to_owned()),
        (BackendFlag::Doca, None) => {
            pick(Backend::Doca, "--backend doca: DOCA SDK and a capable device present".to_owned())
        }
        (BackendFlag::Doca, Some(why)) => Err(format!("--backend doca: {why}")),
        (BackendFlag::Auto, None) => {
            pick(Backend::Doca, "--backend auto: DOCA SDK and a capable device present".to_owned())
        }
        (BackendFlag::Auto, Some(why)) => pick(Backend::Software, format!("--backend auto: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_combination() {
        use BackendFlag::*;
        for sdk in [false, true] {
            for dev in [false, true] {
                let s = select(Software, sdk, dev).unwrap();
                assert_eq!(s.backend, Backend::Software);
                assert_eq!(s.reason, "--backend software");
                let a = select(Auto, sdk, dev).unwrap();
                let d = select(Doca, sdk, dev);
                if sdk && dev {
                    assert_eq!(a.backend, Backend::Doca);
                    assert_eq!(d.unwrap().backend, Backend::Doca);
                } else {
                    assert_eq!(a.backend, Backend::Software);
                    let e = d.unwrap_err();
                    assert!(e.starts_with("--backend doca: "), "{e}");
                }
            }
        }
        assert_eq!(
            select(Auto, false, true).unwrap().reason,
            "--backend auto: DOCA SDK absent from this build"
        );
        assert_eq!(
            select(Auto, true, false).unwrap().reason,
            "--backend auto: no DOCA device with PSP offload found"
        );
        assert_eq!(
            select(Auto, true, true).unwrap().to_string(),
            "flow backend: doca (--backend auto: DOCA SDK and a capable device present)"
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
