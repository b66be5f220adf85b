//! `arigate demo`: the edge plus five simulated suppliers on loopback, with the embedded
//! configuration `config/arigate.demo.yaml` and mapping `config/demo-hotels.yaml`.

use anyhow::Context;
use arigate_config::duration::HumanDuration;
use arigate_config::schema::RedisFile;
use arigate_config::Config;
use arigate_sim::world::PROTOCOLS;
use arigate_sim::{SimHandle, SimOptions};
use sha2::Digest;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

pub const DEMO_CONFIG: &str = include_str!("../../config/arigate.demo.yaml");
pub const DEMO_MAPPING: &str = include_str!("../../config/demo-hotels.yaml");

/// The embedded demo config with these addresses and simulator URLs.
pub fn demo_config(
    listen: SocketAddr,
    admin: SocketAddr,
    sims: &[(String, String)],
    token_secret: &str,
) -> anyhow::Result<Config> {
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("DEMO_LISTEN".into(), listen.to_string());
    vars.insert("DEMO_ADMIN_LISTEN".into(), admin.to_string());
    vars.insert("DEMO_TOKEN_SECRET".into(), token_secret.to_string());
    for (protocol, url) in sims {
        vars.insert(
            format!("DEMO_{}_URL", protocol.to_uppercase().replace('-', "_")),
            url.clone(),
        );
    }
    let files = |name: &str| {
        if name == "demo-hotels.yaml" {
            Ok(DEMO_MAPPING.to_string())
        } else {
            Err(format!("{name}: not embedded"))
        }
    };
    arigate_config::load_str(DEMO_CONFIG, &files, &|k| vars.get(k).cloned())
        .map_err(|e| anyhow::anyhow!("demo config: {e}"))
}

/// An [`App`](crate::app::App) on the demo config with suppliers at unused loopback addresses,
/// for unit tests that need the edge's state but no traffic.
#[cfg(test)]
pub(crate) fn test_app() -> crate::app::App {
    let sims: Vec<(String, String)> = PROTOCOLS
        .iter()
        .map(|p| (p.to_string(), "http://127.0.0.1:9".to_string()))
        .collect();
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let config =
        demo_config(loopback, loopback, &sims, &"s".repeat(40)).expect("the demo config is valid");
    crate::app::App::new(config)
}

/// Starts the five simulators (seed `seed`) on free loopback ports; they deliver webhooks to the edge.
pub async fn start_simulators(listen: SocketAddr, seed: u64) -> anyhow::Result<Vec<SimHandle>> {
    let mut handles = Vec::new();
    for p in PROTOCOLS {
        let mut opts = SimOptions::defaults(p);
        opts.seed = seed;
        opts.webhook_url = Some(format!("http://{listen}/webhooks/{p}"));
        let addr: SocketAddr = "127.0.0.1:0".parse().context("loopback address")?;
        handles.push(
            arigate_sim::start(opts, addr)
                .await
                .with_context(|| format!("starting the {p} simulator"))?,
        );
    }
    Ok(handles)
}

/// What a demo node needs to join others through Redis: every node signs offer ids with the same
/// secret (derived from the Redis URL and the seed, so any node verifies any other's offers) and
/// shares cache keys under a prefix of that seed (nodes of one seed simulate the same world, so
/// their cached answers are interchangeable).
pub fn demo_cluster(redis_url: &str, seed: u64) -> anyhow::Result<(RedisFile, String)> {
    redis::Client::open(redis_url).map_err(|e| anyhow::anyhow!("--redis {redis_url:?}: {e}"))?;
    let digest = sha2::Sha256::digest(format!("arigate-demo-tokens\n{redis_url}\n{seed}"));
    let secret = format!("demo-{}", hex_string(&digest));
    let settings = RedisFile {
        url: redis_url.to_string(),
        pool_size: 2,
        key_prefix: format!("arigate-demo-{seed}:"),
        timeout: HumanDuration(Duration::from_millis(30)),
        max_entry_bytes: 1024 * 1024,
        write_queue: 4096,
    };
    Ok((settings, secret))
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the demo until the process is stopped; with `redis`, as one node of a demo cluster.
pub fn run(
    listen: SocketAddr,
    admin: SocketAddr,
    seed: u64,
    redis: Option<String>,
) -> anyhow::Result<()> {
    let cluster = redis
        .as_deref()
        .map(|u| demo_cluster(u, seed))
        .transpose()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("simulators")
        .build()?;
    let sims = rt.block_on(start_simulators(listen, seed))?;
    let urls: Vec<(String, String)> = sims
        .iter()
        .map(|s| (s.state.options.protocol.clone(), s.base_url()))
        .collect();
    for (p, u) in &urls {
        tracing::info!(supplier = %p, url = %u, "simulated supplier listening");
    }
    let addrs: Vec<SocketAddr> = sims.iter().map(|s| s.addr).collect();
    // The simulators live as long as the process.
    std::thread::Builder::new()
        .name("simulators".into())
        .spawn(move || {
            let _sims = sims;
            rt.block_on(std::future::pending::<()>())
        })?;
    let secret = match &cluster {
        Some((_, shared)) => shared.clone(),
        None => format!("demo-{}", uuid::Uuid::new_v4().simple()),
    };
    let mut config = demo_config(listen, admin, &urls, &secret)?;
    config.cache.redis = cluster.as_ref().map(|(settings, _)| settings.clone());
    let mut app = crate::app::App::new(config);
    app.ready_checks = addrs;
    eprintln!(
        "arigate demo: agent API on http://{listen} (API key: demo-key), admin on http://{admin}"
    );
    if let Some((settings, _)) = &cluster {
        eprintln!(
            "arigate demo: sharing cache, invalidations and quotas through {} (see http://{admin}/admin/cache)",
            settings.redacted_url()
        );
    }
    crate::serve(app, None, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_mapping_is_the_simulated_world_of_seed_42() {
        assert_eq!(
            DEMO_MAPPING,
            arigate_sim::world::World::new(42).mapping_yaml(),
            "regenerate with `arigate mapping --seed 42`"
        );
    }

    #[test]
    fn demo_nodes_of_one_redis_and_seed_share_their_token_secret_and_prefix() {
        let (a, sa) = demo_cluster("redis://127.0.0.1:6379", 42).expect("valid");
        let (b, sb) = demo_cluster("redis://127.0.0.1:6379", 42).expect("valid");
        assert_eq!((sa.clone(), a.key_prefix.clone()), (sb, b.key_prefix));
        assert!(sa.len() >= 32);
        let (c, sc) = demo_cluster("redis://127.0.0.1:6379", 7).expect("valid");
        assert_ne!((sa, a.key_prefix), (sc, c.key_prefix));
        assert!(demo_cluster("not a url", 42).is_err());
    }

    #[test]
    fn the_embedded_demo_config_is_valid_and_maps_every_supplier() {
        let sims: Vec<(String, String)> = PROTOCOLS
            .iter()
            .enumerate()
            .map(|(i, p)| (p.to_string(), format!("http://127.0.0.1:{}", 9101 + i)))
            .collect();
        let cfg = demo_config(
            "127.0.0.1:8080".parse().expect("addr"),
            "127.0.0.1:9090".parse().expect("addr"),
            &sims,
            "a-demo-secret-of-at-least-32-chars!",
        )
        .expect("valid demo config");
        assert_eq!(cfg.suppliers.len(), 5);
        assert_eq!(cfg.mapping.hotels.len(), 304);
        assert!(
            cfg.mapping
                .hotels
                .iter()
                .filter(|h| h.codes.len() == 5)
                .count()
                >= 8 * 16
        );
        assert_eq!(
            cfg.agents[0].key_sha256,
            arigate_filters::agent_auth::hash_key("demo-key")
        );
    }
}
