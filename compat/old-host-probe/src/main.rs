//! `renkei-old-host-probe LIBRARY`: what a 0.1.0 host makes of a plugin library.
//!
//! Prints one `key=value` line per step and exits 0 whatever the outcome; a crash (a signal or
//! another exit code) is what the tests look for as the failure.
//!
//! - `sdk_version=…`: the version abi_stable's header names, as the 0.1.0 loader reads it;
//! - `policy=accepted|refused …`: the 0.1.0 host's semver range (same minor, at least 0.1.0);
//! - `init=loaded gateway=…` or `init=refused kind=… reason=…`: the 0.1.0 loader's layout check
//!   and constructor, run even where the policy refused, to show that it refuses too.

use renkei_sdk::abi::load::{AbiError, PluginLibrary};
use std::path::PathBuf;

fn kind(e: &AbiError) -> &'static str {
    match e {
        AbiError::NotALibrary(_) => "NotALibrary",
        AbiError::NotAPlugin => "NotAPlugin",
        AbiError::AbiStableHeader(_) => "AbiStableHeader",
        AbiError::BadVersion(_) => "BadVersion",
        AbiError::IncompatibleVersion(_) => "IncompatibleVersion",
        AbiError::Layout { .. } => "Layout",
        AbiError::Constructor(_) => "Constructor",
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn main() {
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: renkei-old-host-probe LIBRARY");
        std::process::exit(2);
    };
    let library = match PluginLibrary::open(&path) {
        Ok(library) => library,
        Err(e) => {
            println!(
                "open=refused kind={} reason={}",
                kind(&e),
                one_line(&e.to_string())
            );
            return;
        }
    };
    let found = library.sdk_version().clone();
    println!("sdk_version={found}");
    // The 0.1.0 host's `compatible_range()` (host/src/loader.rs at 640bf08).
    let host = renkei_sdk::sdk_version();
    let accepts = semver::VersionReq::parse(&format!(
        ">={}.{}.0, <0.{}.0",
        host.major,
        host.minor,
        host.minor + 1
    ))
    .expect("a well-formed requirement");
    if accepts.matches(&found) {
        println!("policy=accepted");
    } else {
        println!("policy=refused accepts={accepts}");
    }
    match library.init() {
        Ok(module) => match module.manifest_json() {
            Ok(json) => {
                let doc: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
                println!(
                    "init=loaded gateway={}",
                    doc["gateway_id"].as_str().unwrap_or("?")
                );
            }
            Err(e) => println!("init=loaded manifest_error={}", one_line(&e.to_string())),
        },
        Err(e) => println!(
            "init=refused kind={} reason={}",
            kind(&e),
            one_line(&e.to_string())
        ),
    }
}
