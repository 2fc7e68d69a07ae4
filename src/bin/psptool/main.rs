//! psptool: offline PSP tool for operators.
//!
//! `derive` prints the key of an SPI; `encrypt` turns a capture of clear
//! IPv4/IPv6 frames into PSP; `decrypt` derives each packet's key from its
//! SPI and restores the inner frames; `gen` writes a sample capture.

mod cfg;
mod cli;
mod compat;
mod gen;
mod pcap;
mod run;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind::{DisplayHelp, DisplayVersion};
            if matches!(e.kind(), DisplayHelp | DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One line: clap's first paragraph names the flag and the
            // problem (missing arguments are listed on indented lines).
            let text = e.render().to_string();
            let line: Vec<&str> =
                text.lines().take_while(|l| !l.trim().is_empty()).map(str::trim).collect();
            eprintln!("psptool: {}", line.join(" ").trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    match run::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("psptool: {e:#}");
            ExitCode::from(2)
        }
    }
}
