//! `--backend auto|software|doca`: which flow backend runs, decided before
//! the EAL starts, with the one log line that says which and why.
//!
//! The rule is `engine::config::select`; this file gives it what this build
//! knows of DOCA: with the `doca` feature, the probe of the `-p` device;
//! without it, that this binary has no DOCA backend.

use engine::config::{select, BackendFlag, DocaReadiness, DocaUnavailable, PortSpec, Selection};

/// Decides; the error is one line naming the flag. Probes DOCA devices
/// only when the flag lets DOCA be chosen.
pub fn choose(flag: BackendFlag, secure: &PortSpec) -> Result<Selection, DocaUnavailable> {
    select(flag, || readiness(secure))
}

#[cfg(feature = "doca")]
fn readiness(secure: &PortSpec) -> DocaReadiness {
    engine::doca::probe(secure).readiness()
}

#[cfg(not(feature = "doca"))]
fn readiness(_secure: &PortSpec) -> DocaReadiness {
    DocaReadiness {
        capable: false,
        why: "this binary was built without DOCA support (rebuild with --features doca)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::config::Backend;

    fn pci() -> PortSpec {
        PortSpec::parse("-p", "03:00.0").unwrap()
    }

    #[test]
    fn software_is_software() {
        let c = choose(BackendFlag::Software, &pci()).unwrap();
        assert_eq!(c.backend, Backend::Software);
        assert_eq!(c.to_string(), "flow backend: software (--backend software)");
    }

    #[cfg(not(feature = "doca"))]
    #[test]
    fn without_the_doca_feature() {
        let c = choose(BackendFlag::Auto, &pci()).unwrap();
        assert_eq!(c.backend, Backend::Software);
        assert_eq!(
            c.to_string(),
            "flow backend: software (--backend auto: this binary was built without DOCA support \
             (rebuild with --features doca))"
        );
        let e = choose(BackendFlag::Doca, &pci()).unwrap_err().to_string();
        assert!(e.starts_with("--backend doca: this binary was built without DOCA support"), "{e}");
        assert!(!e.contains('\n'));
    }

    /// With the feature but no SDK (this project's CI): auto is software
    /// because the SDK is absent, doca is refused for the same reason.
    #[cfg(feature = "doca")]
    #[test]
    fn with_the_doca_feature() {
        let vdev = PortSpec::parse("-p", "net_null0").unwrap();
        if engine::doca::probe(&pci()) == engine::doca::Probe::SdkAbsent {
            let c = choose(BackendFlag::Auto, &pci()).unwrap();
            assert_eq!(c.backend, Backend::Software);
            assert_eq!(
                c.to_string(),
                "flow backend: software (--backend auto: DOCA SDK absent from this build)"
            );
            let e = choose(BackendFlag::Doca, &pci()).unwrap_err();
            assert_eq!(e.to_string(), "--backend doca: DOCA SDK absent from this build");
        } else {
            // With an SDK, a virtual device is never a DOCA device.
            let c = choose(BackendFlag::Auto, &vdev).unwrap();
            assert_eq!(c.backend, Backend::Software);
            assert!(choose(BackendFlag::Doca, &vdev).is_err());
        }
    }
}
