//! The ops files that cannot run here (no Docker engine) are still checked: the compose file
//! against the Compose Specification's JSON schema, the alert rules with promtool. The tools come
//! from package registries via `ops/tools.sh` (run by `.ci/run`).

use std::{path::Path, process::Command};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{what}: cannot run ({e}); install the tools with `bash ops/tools.sh`")
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

#[test]
fn the_compose_file_conforms_to_the_compose_specification() {
    let schema = std::env::var("COMPOSE_SPEC_SCHEMA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root().join("target/ops-tools/compose-spec.json"));
    assert!(
        schema.exists(),
        "{} is missing: run `bash ops/tools.sh`",
        schema.display()
    );
    let out = run(
        Command::new("python3")
            .arg(root().join("ops/validate_compose.py"))
            .arg(&schema)
            .arg(root().join("docker-compose.yml"))
            .env_remove("WORKERS"),
        "compose validation",
    );
    for service in ["redis", "postgres", "api", "worker", "prometheus"] {
        assert!(out.contains(service), "service {service} missing: {out}");
    }
}

#[test]
fn the_alert_rules_pass_their_promtool_unit_tests() {
    let out = run(
        Command::new("promtool")
            .current_dir(root().join("ops/prometheus"))
            .args(["test", "rules", "alerts_test.yml"]),
        "promtool test rules",
    );
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn the_alert_rules_pass_promtool() {
    let out = run(
        Command::new("promtool")
            .args(["check", "rules"])
            .arg(root().join("ops/prometheus/alerts.yml")),
        "promtool check rules",
    );
    assert!(out.contains("SUCCESS"), "{out}");
    let rules = std::fs::read_to_string(root().join("ops/prometheus/alerts.yml")).unwrap();
    for alert in [
        "BatchJobStale",
        "ExternalApiHighErrorRate",
        "PremiumRateSpike",
        "RedisDown",
        "MissedTicks",
        "AlertDeliveriesFailing",
        "HistorySpoolFilling",
        "CachedValuesNotDecoding",
    ] {
        assert!(
            rules.contains(&format!("alert: {alert}")),
            "alert {alert} missing"
        );
    }
}
