//! `amorsize sysinfo` end to end: the report and the JSON.

use assert_cmd::Command;

fn amorsize() -> Command {
    Command::cargo_bin("amorsize").expect("the amorsize binary is built")
}

#[test]
fn json_parses_and_has_an_effective_core_count() {
    let out = amorsize().args(["sysinfo", "--json"]).assert().success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).expect("UTF-8");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    let effective = json["cores"]["effective"]
        .as_u64()
        .expect("cores.effective");
    assert!(effective >= 1);
    let logical = json["cores"]["logical"].as_u64().expect("cores.logical");
    assert!(effective <= logical);
    assert!(json["cores"]["limited_by"].is_string());
    let total = json["memory"]["total"].as_u64().expect("memory.total");
    let available = json["memory"]["available"]
        .as_u64()
        .expect("memory.available");
    assert!(available <= total);
    assert!(
        json.get("pressure").is_some(),
        "pressure is present (null without PSI)"
    );
}

#[test]
fn the_report_names_cores_memory_and_pressure() {
    let out = amorsize().arg("sysinfo").assert().success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).expect("UTF-8");
    for section in [
        "cores",
        "effective",
        "limited by",
        "memory",
        "available",
        "cgroup limit",
        "memory pressure",
    ] {
        assert!(stdout.contains(section), "missing {section:?} in\n{stdout}");
    }
}

#[test]
fn an_unknown_flag_is_refused() {
    amorsize().args(["sysinfo", "--nope"]).assert().code(255);
}
