//! `--backend auto|software|doca`: which flow backend runs, decided before
//! the EAL starts, with the one log line that says which and why.
//!
//! With the `doca` feature the decision is `engine::doca::select` over the
//! probe of the `-p` device; without it, this binary has no DOCA backend:
//! `auto` is software and says so, `doca` is refused.

use crate::config::BackendChoice;
use engine::config::PortSpec;

/// The backend that runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    /// The software pipeline on the packet cores.
    Software,
    /// DOCA Flow (only with the `doca` feature).
    #[cfg(feature = "doca")]
    Doca,
}

/// The decision and its log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The backend.
    pub backend: Chosen,
    /// "flow backend: software (--backend auto: ...)".
    pub line: String,
}

fn software(reason: &str) -> Choice {
    Choice { backend: Chosen::Software, line: format!("flow backend: software ({reason})") }
}

/// Decides; the error is one line naming the flag.
#[cfg(not(feature = "doca"))]
pub fn choose(flag: BackendChoice, _secure: &PortSpec) -> Result<Choice, String> {
    match flag {
        BackendChoice::Software => Ok(software("--backend software")),
        BackendChoice::Auto => {
            Ok(software("--backend auto: this binary was built without DOCA support"))
        }
        BackendChoice::Doca => Err("--backend doca: this binary was built without DOCA support \
                                    (rebuild with --features doca)"
            .to_owned()),
    }
}

/// Decides; the error is one line naming the flag. Probes DOCA devices
/// only when the flag lets DOCA be chosen.
#[cfg(feature = "doca")]
pub fn choose(flag: BackendChoice, secure: &PortSpec) -> Result<Choice, String> {
    use engine::doca::{Backend, BackendFlag};
    let flag = match flag {
        BackendChoice::Software => return Ok(software("--backend software")),
        BackendChoice::Auto => BackendFlag::Auto,
        BackendChoice::Doca => BackendFlag::Doca,
    };
    let s = engine::doca::select(flag, &engine::doca::probe(secure))?;
    let backend = match s.backend {
        Backend::Software => Chosen::Software,
        Backend::Doca => Chosen::Doca,
    };
    Ok(Choice { backend, line: s.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pci() -> PortSpec {
        PortSpec::parse("-p", "03:00.0").unwrap()
    }

    #[test]
    fn software_is_software() {
        let c = choose(BackendChoice::Software, &pci()).unwrap();
        assert_eq!(c.backend, Chosen::Software);
        assert_eq!(c.line, "flow backend: software (--backend software)");
    }

    #[cfg(not(feature = "doca"))]
    #[test]
    fn without_the_doca_feature() {
        let c = choose(BackendChoice::Auto, &pci()).unwrap();
        assert_eq!(c.backend, Chosen::Software);
        assert_eq!(
            c.line,
            "flow backend: software (--backend auto: this binary was built without DOCA support)"
        );
        let e = choose(BackendChoice::Doca, &pci()).unwrap_err();
        assert!(e.starts_with("--backend doca: this binary was built without DOCA support"), "{e}");
        assert!(!e.contains('\n'));
    }

    /// With the feature but no SDK (this project's CI): auto is software
    /// because the SDK is absent, doca is refused for the same reason.
    #[cfg(feature = "doca")]
    #[test]
    fn with_the_doca_feature() {
        let vdev = PortSpec::parse("-p", "net_null0").unwrap();
        if doca_sdk_absent() {
            let c = choose(BackendChoice::Auto, &pci()).unwrap();
            assert_eq!(c.backend, Chosen::Software);
            assert_eq!(
                c.line,
                "flow backend: software (--backend auto: DOCA SDK absent from this build)"
            );
            let e = choose(BackendChoice::Doca, &pci()).unwrap_err();
            assert_eq!(e, "--backend doca: DOCA SDK absent from this build");
        } else {
            // With an SDK, a virtual device is never a DOCA device.
            let c = choose(BackendChoice::Auto, &vdev).unwrap();
            assert_eq!(c.backend, Chosen::Software);
            assert!(choose(BackendChoice::Doca, &vdev).is_err());
        }
    }

    #[cfg(feature = "doca")]
    fn doca_sdk_absent() -> bool {
        engine::doca::probe(&pci()) == engine::doca::Probe::SdkAbsent
    }
}
