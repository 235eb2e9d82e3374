//! `msgpool bench`: every scenario runs and reports its figures.

use std::process::Command;

#[path = "../../tests/support/cli.rs"]
mod cli;
#[path = "../../tests/support/mod.rs"]
mod support;

#[tokio::test]
async fn the_benchmark_runs_every_scenario_and_reports_each_figure() {
    // Tiny sizes: this checks that the benchmark works, not how fast msgpool is.
    let out = Command::new(env!("CARGO_BIN_EXE_msgpool"))
        .args([
            "bench",
            "--ingest-seconds",
            "1",
            "--ingest-clients",
            "2",
            "--burn-down",
            "200",
            "--fan-out",
            "20",
        ])
        .args(["--latency-samples", "10", "--history", "500"])
        .args([
            "--provider-deliveries",
            "100",
            "--provider-latency-ms",
            "10",
        ])
        .args(["--console-messages", "2000", "--console-samples", "3"])
        .env_remove("DATABASE_URL")
        .output()
        .expect("run the benchmark");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = &stdout[stdout.find('{').expect("a JSON summary")..];
    let summary: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
    let names: Vec<&str> = summary["figures"]
        .as_array()
        .expect("figures")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    for name in [
        "ingest_bare_insert",
        "ingest_send",
        "ingest_ratio",
        "ingest_send_dedup",
        "ingest_ratio_dedup",
        "burn_down",
        "worker_peak_rss",
        "fan_out",
        "latency_p50",
        "latency_p95",
        "latency_p99",
        "latency_max",
        "latency_p50_send",
        "latency_p50_wake_up",
        "latency_p50_expand",
        "latency_p50_render",
        "latency_p50_inbox_write",
        "burn_down_with_history",
        "history_ratio",
        "providers_webhook",
        "providers_sms",
        "providers_email",
        "providers_worker_peak_rss",
        "providers_hung_ratio",
        "providers_hung_smtp_ratio",
        "providers_fixed_32",
        "providers_fixed_256_latency",
        "providers_adaptive",
        "console_activity_list_p95",
        "console_activity_filtered_p95",
        "console_message_page_p95",
        "console_deliveries_dead_email_p95",
        "console_inbox_page_p95",
        "providers_adaptive_limit",
        "providers_adaptive_ratio",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert!(
        summary["figures"]
            .as_array()
            .expect("figures")
            .iter()
            .all(|f| f["value"].as_f64().is_some_and(|v| v > 0.0))
    );
}
