//! The `arigate` command: run the edge, check a config, run the demo or one simulated supplier.

use anyhow::Context;
use clap::{Parser, Subcommand};

/// mimalloc: the edge allocates and frees many small buffers per request (headers, JSON, spans);
/// it is markedly cheaper there than glibc's malloc (loadtest/results/compare.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "arigate",
    version,
    about = "The hotel-distribution edge on Pingora"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the edge with a configuration file.
    Run {
        #[arg(long)]
        config: PathBuf,
        /// Take the listening sockets over from a running arigate (then send it SIGQUIT).
        #[arg(long)]
        upgrade: bool,
    },
    /// Validate a configuration file; prints each problem with its path.
    Check {
        #[arg(long)]
        config: PathBuf,
    },
    /// Create the ClickHouse trace database and table of a configuration now (the edge also
    /// does it on start).
    Migrate {
        #[arg(long)]
        config: PathBuf,
    },
    /// The edge plus five simulated suppliers on loopback (no Redis or ClickHouse needed).
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[arg(long, default_value = "127.0.0.1:9090")]
        admin_listen: SocketAddr,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Join a cluster of demo nodes sharing this Redis (`redis://127.0.0.1:6379`): shared
        /// cache, cluster-wide invalidation and quotas. Run a second demo on other ports to see it.
        #[arg(long)]
        redis: Option<String>,
    },
    /// Run one simulated supplier.
    Sim {
        /// hotelbeds, expedia-rapid, ota-soap, derbysoft or dida
        #[arg(long)]
        protocol: String,
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long)]
        webhook_url: Option<String>,
        #[arg(long)]
        webhook_secret: Option<String>,
        /// Accepted API key / user / client id (default: the spec's worked example).
        #[arg(long)]
        key: Option<String>,
        #[arg(long)]
        secret: Option<String>,
        /// native, basic or oauth1 (dida only).
        #[arg(long, default_value = "native")]
        auth: String,
        /// DerbySoft access-token lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        token_ttl: u64,
    },
    /// Room mapping tools for supplier integration engineers.
    Rooms {
        #[command(subcommand)]
        command: RoomsCommand,
    },
    /// Print the SHA-256 of an API key, as `agents[].key_sha256` wants it.
    HashKey { key: String },
    /// Print the hotel mapping of the simulated world for a seed.
    Mapping {
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum RoomsCommand {
    /// Parse two room names (and codes) and say whether they are the same room, and why.
    Compare {
        a: String,
        b: String,
        #[arg(long)]
        supplier_a: Option<String>,
        #[arg(long)]
        supplier_b: Option<String>,
        #[arg(long)]
        code_a: Option<String>,
        #[arg(long)]
        code_b: Option<String>,
        /// One JSON object: `same`, `reason` and both attribute sets.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,pingora=warn,pingora_cache::meta=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Run { config, upgrade } => {
            let cfg = arigate_config::load(&config, &|k| std::env::var(k).ok())
                .map_err(|e| anyhow::anyhow!("{}:\n{e}", config.display()))?;
            arigate::serve(arigate::app::App::new(cfg), Some(config), upgrade)
        }
        Command::Check { config } => {
            match arigate_config::load(&config, &|k| std::env::var(k).ok()) {
                Ok(c) => {
                    println!(
                        "{}: ok ({} suppliers, {} agents, {} hotels)",
                        config.display(),
                        c.suppliers.len(),
                        c.agents.len(),
                        c.mapping.hotels.len()
                    );
                    Ok(())
                }
                Err(e) => {
                    eprint!("{}: invalid\n{e}", config.display());
                    std::process::exit(1)
                }
            }
        }
        Command::Migrate { config } => {
            let cfg = arigate_config::load(&config, &|k| std::env::var(k).ok())
                .map_err(|e| anyhow::anyhow!("{}:\n{e}", config.display()))?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            match rt.block_on(arigate::traces::migrate(&cfg.traces)) {
                Ok(report) => {
                    println!("trace store ready: {report}");
                    Ok(())
                }
                Err(e) => anyhow::bail!("migrate failed: {e}"),
            }
        }
        Command::Demo {
            listen,
            admin_listen,
            seed,
            redis,
        } => arigate::demo::run(listen, admin_listen, seed, redis),
        Command::Sim {
            protocol,
            listen,
            seed,
            webhook_url,
            webhook_secret,
            key,
            secret,
            auth,
            token_ttl,
        } => {
            let mut opts = arigate_sim::SimOptions::defaults(&protocol);
            opts.seed = seed;
            opts.webhook_url = webhook_url;
            if let Some(s) = webhook_secret {
                opts.webhook_secret = s;
            }
            if let Some(k) = key {
                opts.key = k;
            }
            if let Some(s) = secret {
                opts.secret = s;
            }
            opts.token_ttl = token_ttl;
            opts.auth = match auth.as_str() {
                "native" => arigate_sim::SimAuth::Native,
                "basic" => arigate_sim::SimAuth::Basic,
                "oauth1" => arigate_sim::SimAuth::Oauth1,
                other => anyhow::bail!("unknown --auth {other:?} (native, basic, oauth1)"),
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let h = arigate_sim::start(opts, listen)
                    .await
                    .context("starting the simulator")?;
                eprintln!("{protocol} simulator on {}", h.base_url());
                tokio::signal::ctrl_c().await.ok();
                Ok(())
            })
        }
        Command::Rooms {
            command:
                RoomsCommand::Compare {
                    a,
                    b,
                    supplier_a,
                    supplier_b,
                    code_a,
                    code_b,
                    json,
                },
        } => {
            use arigate_filters::rooms::{compare, RoomInput};
            let a = RoomInput::new(supplier_a.as_deref(), &a, code_a.as_deref());
            let b = RoomInput::new(supplier_b.as_deref(), &b, code_b.as_deref());
            let c = compare(&a, &b);
            if json {
                println!("{}", serde_json::to_string(&c)?);
            } else {
                println!("{c}");
            }
            Ok(())
        }
        Command::HashKey { key } => {
            println!("{}", arigate_filters::agent_auth::hash_key(&key));
            Ok(())
        }
        Command::Mapping { seed } => {
            print!("{}", arigate_sim::world::World::new(seed).mapping_yaml());
            Ok(())
        }
    }
}
