//! Operations: the admin listener's Prometheus endpoint and the shipped limit settings.

use crate::harness::*;
use arigate::metrics::DESIGN_FAMILIES;

/// The value of the sample line starting with `series` (name and labels as rendered).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_every_design_family_and_count_admin_purges() {
    let stack = Stack::start_with(Options {
        extra_yaml: Some("circuit: {consecutive_failures: 3, open_for: 2s}\n".to_string()),
        ..Options::default()
    })
    .await;
    let url = format!("{}/metrics", stack.admin);
    let first = http("GET", &url, &[], None).await;
    assert_eq!(first.status, 200);
    assert!(
        first
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{:?}",
        first.headers
    );
    for (family, kind) in DESIGN_FAMILIES {
        assert!(
            first.raw.contains(&format!("# TYPE {family} {kind}\n")),
            "{family} missing"
        );
    }
    for supplier in [
        "hotelbeds",
        "expedia-rapid",
        "ota-soap",
        "derbysoft",
        "dida",
    ] {
        assert_eq!(
            sample(
                &first.raw,
                &format!("arigate_supplier_circuit_open{{supplier=\"{supplier}\"}}")
            ),
            Some(0.0),
            "{supplier}'s circuit is closed at start"
        );
    }
    assert_eq!(
        sample(&first.raw, "arigate_invalidations_total{source=\"admin\"}"),
        Some(0.0)
    );

    let purge = http(
        "POST",
        &format!("{}/admin/cache/purge", stack.admin),
        &[],
        Some(&serde_json::json!({"supplier": "dida"})),
    )
    .await;
    assert_eq!(purge.status, 200, "{}", purge.raw);
    let after = http("GET", &url, &[], None).await;
    assert_eq!(
        sample(&after.raw, "arigate_invalidations_total{source=\"admin\"}"),
        Some(1.0),
        "one tag invalidated by the purge"
    );

    // One accepted reload, then one of a broken file.
    let reload = format!("{}/admin/config/reload", stack.admin);
    assert_eq!(http("POST", &reload, &[], None).await.status, 200);
    let path = stack.config_path();
    let good = std::fs::read_to_string(&path).expect("config");
    std::fs::write(&path, good.replace("circuit: {", "circuit: {nonsense: 1, ")).expect("write");
    assert_eq!(http("POST", &reload, &[], None).await.status, 422);
    let reloaded = http("GET", &url, &[], None).await;
    assert_eq!(
        sample(&reloaded.raw, "arigate_config_reloads_total{result=\"ok\"}"),
        Some(1.0)
    );
    assert!(
        sample(
            &reloaded.raw,
            "arigate_config_reloads_total{result=\"invalid\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "the file watcher may refuse it too"
    );
}
