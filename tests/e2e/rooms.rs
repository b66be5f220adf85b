//! One room, one row: a search merges the same real room from several suppliers into one row,
//! and never puts two different rooms of one supplier together.

use crate::harness::*;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_shows_one_row_per_real_room_with_offers_from_several_suppliers() {
    let stack = Stack::start().await;
    let ids = shared_hotels(4);
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let s = stack
        .agent("POST", "/v1/search", Some(&search_body(&ids, 30)))
        .await;
    assert_eq!(s.status, 200, "{}", s.raw);
    let mut multi_supplier_rows = 0;
    for h in s.body["hotels"].as_array().into_iter().flatten() {
        let mut keys = BTreeSet::new();
        for r in h["rooms"].as_array().into_iter().flatten() {
            let key = r["room_key"].as_str().unwrap_or("");
            assert!(
                !key.is_empty() && keys.insert(key.to_string()),
                "room keys are unique per hotel: {key}"
            );
            // Within a row, each supplier contributes one room (its own codes never merge).
            let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for o in r["offers"].as_array().into_iter().flatten() {
                names
                    .entry(o["supplier"].as_str().unwrap_or("").to_string())
                    .or_default()
                    .insert(o["supplier_room_name"].as_str().unwrap_or("").to_string());
            }
            assert!(
                names.values().all(|n| n.len() == 1),
                "two rooms of one supplier merged: {names:?}"
            );
            if names.len() >= 3 {
                multi_supplier_rows += 1;
            }
        }
    }
    // The simulated world names each real room differently at each supplier; most shared rooms
    // must come together.
    assert!(
        multi_supplier_rows >= 4,
        "only {multi_supplier_rows} rows merged three or more suppliers: {}",
        s.raw
    );
}

#[test]
fn rooms_compare_explains_same_and_different() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_arigate"))
            .arg("rooms")
            .arg("compare")
            .args(args)
            .output()
            .expect("arigate runs");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let same: serde_json::Value = serde_json::from_str(&run(&[
        "Superior Room, 1 King Bed, Sea View",
        "KING SUPERIOR SEA VIEW",
        "--supplier-b",
        "hotelbeds",
        "--code-b",
        "KNG.SU",
        "--json",
    ]))
    .expect("json");
    assert_eq!(same["same"], true, "{same}");
    let different: serde_json::Value = serde_json::from_str(&run(&[
        "Superior Double Sea View",
        "Superior Twin Sea View",
        "--json",
    ]))
    .expect("json");
    assert_eq!(different["same"], false, "{different}");
    assert!(
        different["reason"]
            .as_str()
            .is_some_and(|r| r.contains("bed")),
        "{different}"
    );
    let text = run(&["Double or Twin Room", "Twin Room"]);
    assert!(text.contains("DIFFERENT"), "{text}");
}
