//! Helpers shared by the psptool integration tests: running psptool, and
//! temporary directories.

#![allow(dead_code)] // each test binary uses a subset

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the built psptool with `args`.
pub fn psptool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_psptool")).args(args).output().expect("run psptool")
}

/// A directory removed when dropped, whatever happens to the test.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("psptool-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
    pub fn file(&self, f: &str) -> String {
        self.0.join(f).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
