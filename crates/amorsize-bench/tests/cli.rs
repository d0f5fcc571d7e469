//! The binary's flags: listing, unknown workloads and bad flags fail with clear messages.

use std::process::Command;

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_amorsize-bench"))
        .args(args)
        .output()
        .expect("runs")
}

#[test]
fn list_names_every_workload() {
    let out = bench(&["--list"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for n in amorsize_bench::workloads::NAMES {
        assert!(text.contains(n), "{n} missing from --list");
    }
}

#[test]
fn unknown_workload_fails_and_lists_valid_names() {
    let out = bench(&["--only", "nope"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope"), "{err}");
    assert!(err.contains("heavy") && err.contains("big-output"), "{err}");
}

#[test]
fn bad_flags_fail_with_a_message() {
    for args in [&["--fast"][..], &["--json"][..], &["--only"][..]] {
        let out = bench(args);
        assert!(!out.status.success(), "{args:?} accepted");
        assert!(!out.stderr.is_empty(), "{args:?}: no message");
    }
}
