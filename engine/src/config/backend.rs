//! `--backend auto|software|doca`: the one flag, the one backend enum and
//! the decision between them, in every build. Whether DOCA can run is the
//! caller's input (the DOCA probe of the `-p` device with feature `doca`,
//! "built without DOCA support" without it), so the rule is written once.

use core::fmt;
use core::str::FromStr;

/// The `--backend` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendFlag {
    /// DOCA when it can run, else software.
    #[default]
    Auto,
    /// The software pipeline on the packet cores.
    Software,
    /// DOCA Flow offload; an error if it cannot run.
    Doca,
}

/// A `--backend` value that is none of the three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--backend {0:?}: expected auto, software or doca")]
pub struct BadBackendFlag(pub String);

impl FromStr for BackendFlag {
    type Err = BadBackendFlag;
    fn from_str(s: &str) -> Result<BackendFlag, BadBackendFlag> {
        match s {
            "auto" => Ok(BackendFlag::Auto),
            "software" => Ok(BackendFlag::Software),
            "doca" => Ok(BackendFlag::Doca),
            _ => Err(BadBackendFlag(s.to_owned())),
        }
    }
}

/// The backend that runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `engine::tables::ReplicatedTables` and the software pipeline.
    Software,
    /// `engine::doca::DocaFlowBackend` (selected only in a `doca` build).
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

/// `--backend doca` where DOCA cannot run: the operator asked for offload,
/// so this is refused rather than quietly run in software.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--backend doca: {why}")]
pub struct DocaUnavailable {
    /// Why DOCA cannot run (the probe's words).
    pub why: String,
}

/// Where DOCA stands for this process: whether it can run, and the words
/// that say why (or why not) in the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocaReadiness {
    /// The SDK is in this build and the `-p` device is a DOCA device.
    pub capable: bool,
    /// E.g. "DOCA SDK absent from this build".
    pub why: String,
}

/// Resolves the flag. `software` never asks about DOCA (`doca` is called
/// only for `auto` and `doca`, so a probe of the device is skipped when the
/// operator chose software).
pub fn select(
    flag: BackendFlag,
    doca: impl FnOnce() -> DocaReadiness,
) -> Result<Selection, DocaUnavailable> {
    let pick = |backend, reason: String| Ok(Selection { backend, reason });
    let name = match flag {
        BackendFlag::Software => return pick(Backend::Software, "--backend software".to_owned()),
        BackendFlag::Auto => "auto",
        BackendFlag::Doca => "doca",
    };
    let d = doca();
    match (flag, d.capable) {
        (BackendFlag::Doca, false) => Err(DocaUnavailable { why: d.why }),
        (_, true) => pick(Backend::Doca, format!("--backend {name}: {}", d.why)),
        (_, false) => pick(Backend::Software, format!("--backend {name}: {}", d.why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(capable: bool) -> DocaReadiness {
        DocaReadiness { capable, why: format!("capable {capable}") }
    }

    #[test]
    fn every_combination() {
        use BackendFlag::*;
        for capable in [false, true] {
            let s = select(Software, || panic!("software asks nothing of DOCA")).unwrap();
            assert_eq!((s.backend, s.reason.as_str()), (Backend::Software, "--backend software"));
            let a = select(Auto, || ready(capable)).unwrap();
            assert_eq!(a.reason, format!("--backend auto: capable {capable}"));
            let d = select(Doca, || ready(capable));
            if capable {
                assert_eq!(a.backend, Backend::Doca);
                assert_eq!(d.unwrap().backend, Backend::Doca);
            } else {
                assert_eq!(a.backend, Backend::Software);
                assert_eq!(d.unwrap_err().to_string(), "--backend doca: capable false");
            }
        }
        let line = select(Auto, || ready(false)).unwrap().to_string();
        assert_eq!(line, "flow backend: software (--backend auto: capable false)");
    }

    #[test]
    fn parses_the_flag() {
        assert_eq!("auto".parse(), Ok(BackendFlag::Auto));
        assert_eq!("software".parse(), Ok(BackendFlag::Software));
        assert_eq!("doca".parse(), Ok(BackendFlag::Doca));
        let e = "hw".parse::<BackendFlag>().unwrap_err();
        assert_eq!(e.to_string(), "--backend \"hw\": expected auto, software or doca");
        assert_eq!(BackendFlag::default(), BackendFlag::Auto);
    }
}
