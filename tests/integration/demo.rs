//! `renkei demo`, the README's main command, run as a process the way a newcomer runs it: it
//! must pass its own end-to-end checks (exit 0) and print the day's key results.

use renkei_tests::{plugin_dir, renkei_bin};
use std::process::Command;
use std::time::{Duration, Instant};

fn demo(args: &[&str]) -> (i32, String, String, Duration) {
    let started = Instant::now();
    let out = Command::new(renkei_bin())
        .arg("demo")
        .args(args)
        .env_remove("RENKEI_PLUGIN_DIR")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn demo_plays_the_day_and_the_journal_agrees_with_both_emulators() {
    plugin_dir(); // builds the plugins and `renkei` next to each other
    let (code, stdout, stderr, elapsed) = demo(&[]);
    assert_eq!(
        code, 0,
        "renkei demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let expect = [
        // G-3, F-10: the bulk run's two failures, with F-REGI's own messages, verbatim.
        "100000820007: 売上処理時の指定された取引は売上受付済みです",
        "100000820013: 売上処理時の指定された取引は承認取消済みです",
        "198 captured, 2 failed",
        // F-2: F-REGI changes the authorization, then captures.
        "capture[authchange+sale]",
        // F-7: refused before anything is sent.
        "100000930009  checkout ¥1",
        // G-6: a warning, never a refund.
        "nothing was refunded (G-6)",
        // The lost reply, captured once: SBPS settles it by inquiry; F-REGI, which has no
        // inquiry, holds it for review and the operator decides from its admin screen.
        "reply lost → settled by inquiry",
        "no double capture",
        "100000930008  record payment             sent, outcome unknown  → held for an operator's review",
        "review queue (Shop::reviews): 1 order(s): 100000930008",
        "the operator opens F-REGI's admin screen:",
        "100000930008  売上済（未伝送）  ¥7,700",
        "operator-sato decides: the capture took effect",
        "the shop's record follows the decision: paid",
        // G-8: the admin-tool refunds, found by reconcile (SBPS) and on F-REGI's admin screen.
        "refunded in the gateway's tool (G-8)",
        "orders are reconciled from its admin screen",
        "3 differ from the journal, kept as drift events",
        "reported by operator-sato from the gateway's screen",
        "Open drift events (Shop::drifts(true))",
        // The operator adopts F-REGI's refund of 07: the journal then agrees with the screen.
        "adopts what F-REGI's admin screen shows for 100000930007",
        "the screen and the journal now agree on 100000930007: report_drift finds nothing",
        // The closing tables and their check against the emulators.
        "SBPS at the end of the day",
        "F-REGI at the end of the day",
        "返金済",
        "売上取消",
        "every expectation held",
    ];
    for line in expect {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("UNEXPECTED"), "{stdout}");
    // F-REGI runs without the emulator's inquiry extension: its `info` script is never sent.
    assert!(!stdout.contains("+info"), "{stdout}");
    // Debug build, shared machine: still far below the minute the README promises (release).
    assert!(
        elapsed < Duration::from_secs(60),
        "the demo took {elapsed:?}"
    );
}

#[test]
fn demo_without_the_plugins_says_how_to_build_them() {
    let dir = crate::support::scratch_dir("demo-empty");
    let (code, stdout, stderr, _) = demo(&["--dir", dir.to_str().unwrap()]);
    assert_ne!(code, 0, "{stdout}");
    assert!(stderr.contains("no SBPS plugin"), "{stderr}");
    assert!(stderr.contains("cargo build --release"), "{stderr}");
}
