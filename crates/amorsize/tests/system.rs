//! End-to-end detection on fake `/proc` + `/sys` trees (tests/fixtures/system/<case>/), and a
//! sanity check of detection on the machine the tests run on.

use amorsize::system::{self, CoreLimit, SystemInfo};
use std::path::PathBuf;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn fixture(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/system")
        .join(case)
}

fn detect(case: &str, affinity: Option<usize>) -> SystemInfo {
    let root = fixture(case);
    assert!(root.is_dir(), "missing fixture {}", root.display());
    system::detect_from(&root, affinity)
}

#[test]
fn cgroup_v1_quota_and_nested_memory_limit() {
    // Docker on cgroup v1 without a namespace: cpu mounted at the container's cgroup with a
    // 150000/100000 quota; memory mounted from the root with the nested path /docker/abc.
    let info = detect("v1_quota", None);
    let c = &info.cores;
    assert_eq!((c.logical, c.physical), (8, 4));
    assert_eq!(c.cgroup_quota, Some(1.5));
    assert_eq!(
        c.affinity,
        Some(4),
        "cpuset.cpus stands in for the affinity mask"
    );
    assert_eq!((c.effective, c.limited_by), (2, CoreLimit::CgroupQuota));

    let m = &info.memory;
    assert_eq!(m.total, 16 * GIB);
    assert_eq!(m.cgroup_limit, Some(GIB));
    assert_eq!(m.cgroup_current, Some(600 * MIB));
    assert_eq!(m.cgroup_reclaimable, Some(100 * MIB), "total_inactive_file");
    // 1 GiB - (600 MiB - 100 MiB) is below MemAvailable (10 GiB).
    assert_eq!(m.available, GIB - 500 * MIB);
    assert!(info.pressure.is_some());
}

#[test]
fn cgroup_v2_quota_and_memory_max() {
    let info = detect("v2_quota", None);
    let c = &info.cores;
    assert_eq!((c.logical, c.physical), (8, 4));
    assert_eq!(
        c.cgroup_quota,
        Some(2.0),
        "the leaf's cpu.max, parents say max"
    );
    assert_eq!(c.affinity, Some(8));
    assert_eq!((c.effective, c.limited_by), (2, CoreLimit::CgroupQuota));

    let m = &info.memory;
    assert_eq!(m.cgroup_limit, Some(4 * GIB));
    assert_eq!(m.cgroup_current, Some(GIB));
    assert_eq!(
        m.cgroup_reclaimable,
        Some(256 * MIB),
        "inactive_file preferred over file"
    );
    // Cgroup headroom 3.25 GiB, MemAvailable 2 GiB: the machine binds.
    assert_eq!(m.available, 2 * GIB);
    assert_eq!(m.total, 8 * GIB);

    let p = info.pressure.expect("PSI present");
    assert_eq!(
        (p.some_avg10, p.some_avg60, p.some_avg300, p.full_avg10),
        (1.25, 0.5, 0.1, 0.75)
    );
}

#[test]
fn no_cgroup_no_psi_old_kernel() {
    let info = detect("no_cgroup_no_psi", None);
    let c = &info.cores;
    assert_eq!((c.logical, c.physical), (4, 2));
    assert_eq!((c.cgroup_quota, c.affinity), (None, None));
    assert_eq!((c.effective, c.limited_by), (2, CoreLimit::Physical));

    let m = &info.memory;
    assert_eq!(m.total, 4 * GIB);
    // No MemAvailable: MemFree + Buffers + Cached = 1 GiB + 100 MiB + 900 MiB.
    assert_eq!(m.available, GIB + 1000 * MIB);
    assert_eq!((m.cgroup_limit, m.cgroup_current), (None, None));
    assert_eq!(info.pressure, None);
}

#[test]
fn quota_lower_than_cores_in_a_v2_container() {
    // A cgroup-namespaced container: its cgroup is "/", cpu.max gives half a core.
    let info = detect("v2_container", None);
    let c = &info.cores;
    assert_eq!((c.logical, c.physical), (16, 8));
    assert_eq!(c.cgroup_quota, Some(0.5));
    assert_eq!(c.affinity, Some(2));
    assert_eq!((c.effective, c.limited_by), (1, CoreLimit::CgroupQuota));
}

#[test]
fn memory_limit_lower_than_mem_available() {
    let info = detect("v2_container", None);
    let m = &info.memory;
    assert_eq!(m.cgroup_limit, Some(512 * MIB));
    assert_eq!(m.cgroup_current, Some(300 * MIB));
    assert_eq!(m.cgroup_reclaimable, Some(100 * MIB));
    // 512 - (300 - 100) MiB, far below MemAvailable (8 GiB).
    assert_eq!(m.available, 312 * MIB);
    assert!(m.available < 8 * GIB);
    let p = info.pressure.expect("PSI present, only the some line");
    assert_eq!(p.full_avg10, 0.0);
}

#[test]
fn limits_on_a_parent_cgroup_bind_the_child() {
    let info = detect("v2_nested_parent_limit", None);
    assert_eq!(info.cores.cgroup_quota, Some(1.0));
    assert_eq!(
        (info.cores.effective, info.cores.limited_by),
        (1, CoreLimit::CgroupQuota)
    );
    let m = &info.memory;
    assert_eq!(m.cgroup_limit, Some(256 * MIB), "the pod's memory.max");
    assert_eq!(
        m.cgroup_current,
        Some(200 * MIB),
        "the pod's usage goes with its limit"
    );
    assert_eq!(m.available, 56 * MIB);
}

#[test]
fn hybrid_v1_without_limits_like_the_dev_vm() {
    let info = detect("v1_hybrid_unlimited", Some(2));
    let c = &info.cores;
    assert_eq!((c.logical, c.physical, c.cgroup_quota), (2, 2, None));
    assert_eq!((c.effective, c.limited_by), (2, CoreLimit::Affinity));
    let m = &info.memory;
    assert_eq!(m.cgroup_limit, None, "9223372036854771712 means unlimited");
    assert_eq!(
        m.cgroup_current,
        Some(8138752),
        "read from the nested memory cgroup"
    );
    assert_eq!(m.cgroup_reclaimable, Some(40960));
    assert_eq!(m.available, 24285444 * 1024);
    assert!(info.pressure.is_some());
}

#[test]
fn the_affinity_parameter_wins_over_cpuset_and_ties_name_the_quota() {
    let narrower = detect("v2_quota", Some(1));
    assert_eq!(narrower.cores.affinity, Some(1));
    assert_eq!(
        (narrower.cores.effective, narrower.cores.limited_by),
        (1, CoreLimit::Affinity)
    );
    // Quota 2 and affinity 2: the quota is the more specific reason.
    let tie = detect("v2_quota", Some(2));
    assert_eq!(
        (tie.cores.effective, tie.cores.limited_by),
        (2, CoreLimit::CgroupQuota)
    );
}

#[test]
fn the_parts_agree_with_the_whole() {
    let root = fixture("v2_container");
    let whole = system::detect_from(&root, Some(3));
    assert_eq!(system::cores_from(&root, Some(3)), whole.cores);
    assert_eq!(system::memory_from(&root), whole.memory);
    assert_eq!(system::pressure_from(&root), whole.pressure);
}

#[test]
fn a_missing_root_gives_safe_defaults() {
    let info = system::detect_from(&fixture("does-not-exist"), Some(1));
    assert_eq!(
        (info.cores.effective, info.cores.limited_by),
        (1, CoreLimit::Affinity)
    );
    assert_eq!((info.memory.total, info.memory.available), (0, 0));
    assert_eq!(info.pressure, None);
}

#[test]
fn display_and_json_report_the_facts() {
    let info = detect("v2_container", None);
    let text = info.to_string();
    assert!(text.contains("1 effective"), "{text}");
    assert!(text.contains("cgroup CPU quota"), "{text}");
    assert!(text.contains("312.0 MiB available"), "{text}");
    assert!(text.contains("cgroup limit 512.0 MiB"), "{text}");
    assert!(text.contains("pressure: some 0.00%"), "{text}");
    let no_psi = detect("no_cgroup_no_psi", None).to_string();
    assert!(no_psi.contains("physical cores"), "{no_psi}");
    assert!(no_psi.contains("pressure: not reported"), "{no_psi}");

    let json: serde_json::Value = serde_json::to_value(&info).unwrap();
    assert_eq!(json["cores"]["effective"], 1);
    assert_eq!(json["cores"]["limited_by"], "cgroup_quota");
    assert_eq!(json["memory"]["cgroup_limit"], 512 * MIB);
}

#[test]
fn this_machine_is_detected_sensibly() {
    // Facts that hold on any Linux machine, whatever it is.
    let info = system::detect();
    let c = &info.cores;
    assert!(c.effective >= 1);
    assert!(c.effective <= c.logical && c.physical <= c.logical);
    if let Some(a) = c.affinity {
        assert!(c.effective <= a);
    }
    assert!(info.memory.total > 0, "/proc/meminfo is readable on Linux");
    assert!(info.memory.available <= info.memory.total);
    let now = system::memory_now();
    assert_eq!(now.total, info.memory.total);
    if std::fs::read_to_string("/proc/pressure/memory").is_ok() {
        assert!(
            system::pressure_now().is_some(),
            "a readable PSI file parses"
        );
    }
    println!("{info}");
}
