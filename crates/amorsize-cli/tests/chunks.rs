//! `amorsize chunks` end to end.

use assert_cmd::Command;
use predicates::prelude::*;

fn cmd() -> Command {
    Command::cargo_bin("amorsize").unwrap()
}

#[test]
fn prints_a_recommendation_with_reasons() {
    cmd()
        .args([
            "chunks",
            "--shape",
            "20000,20000",
            "--dtype",
            "f64",
            "--workers",
            "4",
        ])
        .args(["--budget", "1G"])
        .assert()
        .success()
        .stdout(predicate::str::contains("chunks ["))
        .stdout(predicate::str::contains("budget"))
        .stdout(predicate::str::contains("working set"));
}

#[test]
fn without_the_working_set_rule_four_chunks_per_worker() {
    cmd()
        .args([
            "chunks",
            "--shape",
            "20000,20000",
            "--dtype",
            "f64",
            "--workers",
            "4",
        ])
        .args(["--budget", "1G", "--working-set", "0"])
        .assert()
        .success()
        .stdout(predicate::str::contains("4 × 4 workers"));
}

#[test]
fn json_output_fits_the_budget_and_aligns() {
    let out = cmd()
        .args([
            "chunks",
            "--shape",
            "50000,50000",
            "--dtype",
            "f64",
            "--json",
        ])
        .args([
            "--memory-fraction",
            "0.2",
            "--workers",
            "2",
            "--previous",
            "1000,1000",
        ])
        .args(["--budget", "512M"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &v["recommendation"];
    let chunks: Vec<u64> = r["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert_eq!(chunks.len(), 2);
    assert!(
        chunks.iter().all(|c| c % 1000 == 0 || 1000 % c == 0),
        "{chunks:?}"
    );
    assert!(r["projected_peak"].as_u64().unwrap() <= r["per_chunk_budget"].as_u64().unwrap());
    assert!(r["per_chunk_budget"].as_u64().unwrap() * 2 <= 512 << 20);
    assert!(!r["reasons"].as_array().unwrap().is_empty());
}

#[test]
fn machine_budget_works_without_an_explicit_one() {
    cmd()
        .args(["chunks", "--shape", "1000,1000,100", "--dtype", "f32"])
        .assert()
        .success()
        .stdout(predicate::str::contains("projected peak"));
}

#[test]
fn a_shape_with_a_zero_length_axis_gets_chunks_of_at_least_one() {
    cmd()
        .args([
            "chunks",
            "--shape",
            "10,0",
            "--budget",
            "1G",
            "--workers",
            "2",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("chunks [10, 1]"))
        .stdout(predicate::str::contains("0 chunks"))
        .stdout(predicate::str::contains(
            "no elements (axis 1 has length 0)",
        ))
        .stdout(predicate::str::contains("NaN").not());
    for shape in ["0,5", "0", "4,0,6"] {
        let out = cmd()
            .args(["chunks", "--shape", shape, "--budget", "1G", "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{shape}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["array_bytes"].as_f64(), Some(0.0), "{shape}");
        let r = &v["recommendation"];
        assert_eq!(r["n_chunks"].as_u64(), Some(0), "{shape}");
        let chunks = r["chunks"].as_array().unwrap();
        assert_eq!(chunks.len(), shape.split(',').count(), "{shape}");
        assert!(
            chunks.iter().all(|c| c.as_u64().unwrap() >= 1),
            "{shape}: {chunks:?}"
        );
        assert!(!r["reasons"].as_array().unwrap().is_empty());
    }
}

#[test]
fn bad_input_is_one_line_and_exit_255() {
    for args in [
        vec!["--shape", "10,x"],
        vec!["--shape", "10,10", "--previous", "10,0"],
        vec!["--shape", ""],
        vec!["--shape", "10,10", "--dtype", "f65"],
        vec!["--shape", "10,10", "--memory-fraction", "1.5"],
        vec!["--shape", "10,10", "--memory-fraction", "abc"],
        vec!["--shape", "10,10", "--workers", "0"],
        vec!["--shape", "10,10", "--previous", "5"],
        vec!["--shape", "10,10", "--budget", "4"],
        // More elements than 64 bits count (the chunk count wrapped to 0 before).
        vec!["--shape", "18446744073709551615,18446744073709551615"],
    ] {
        let out = cmd().arg("chunks").args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(255), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}
