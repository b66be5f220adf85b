//! arigate: the hotel-distribution edge on Pingora.
//!
//! [`service`] is the Pingora `ProxyHttp`: agent routes in [`api`], supplier calls as subrequest
//! legs in [`legs`], errors mapped to HTTP once in [`errors`]. [`admin`] serves the admin listener
//! (with the Prometheus [`metrics`]), [`demo`] wires the edge to five in-process simulated suppliers.
#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod app;
pub mod cache;
pub mod cluster;
pub mod demo;
pub mod errors;
pub mod legs;
pub mod limits;
pub mod metrics;
pub mod protection;
pub mod quota;
pub mod reload;
pub mod service;
pub mod supplier_calls;
pub mod trace_api;
pub mod traces;

use app::App;
use pingora_core::server::configuration::ServerConf;
use pingora_core::server::Server;
use std::sync::Arc;

/// Runs the edge and its admin listener until the process is stopped. `config_path` is the file
/// hot reload watches (`None`: the embedded demo config); `upgrade` takes the listening sockets
/// over from a running arigate (graceful binary upgrade, then SIGQUIT to the old process).
pub fn serve(mut app: App, config_path: Option<std::path::PathBuf>, upgrade: bool) -> ! {
    app.traces = match traces::Traces::start(&app.config.traces) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the trace pipeline");
            std::process::exit(1)
        }
    };
    // Pingora binds each listener in its service's own thread and, when the port is taken, only
    // that thread panics: the process would run on without the listener (and a health check on
    // the port would reach whoever holds it). Refuse to start instead. Not on an upgrade, where
    // the running arigate holds the sockets and hands them over.
    if !upgrade {
        for (what, addr) in [
            ("listen", app.config.listen),
            ("admin_listen", app.config.admin_listen),
        ] {
            if let Err(e) = std::net::TcpListener::bind(addr) {
                tracing::error!(%addr, error = %e, "cannot bind {what}; not starting");
                std::process::exit(1)
            }
        }
    }
    let grace = app.config.shutdown_grace;
    let conf = ServerConf {
        threads: app.config.threads,
        grace_period_seconds: Some(grace.as_secs_f64().ceil() as u64),
        graceful_shutdown_timeout_seconds: Some(1),
        upgrade_sock: app.config.upgrade_sock.clone(),
        ..ServerConf::default()
    };
    let opt = pingora_core::server::configuration::Opt {
        upgrade,
        ..Default::default()
    };
    let (listen, admin_listen, reload_poll) = (
        app.config.listen,
        app.config.admin_listen,
        app.config.reload_poll,
    );
    let inflight = app.inflight.clone();
    let suppliers = app.suppliers.len();
    let live: app::Live = Arc::new(arc_swap::ArcSwap::from_pointee(app));
    let reloader = reload::Reloader::new(live.clone(), config_path);
    if !reload_poll.is_zero() {
        reloader.watch(reload_poll);
    }
    let mut server = Server::new_with_opt_and_conf(opt, conf);
    server.bootstrap();
    legs::init_connector(&server.configuration);
    drain_on_shutdown(&server, inflight, grace);
    // Pingora's HTTP proxy app, fed connections with header/idle/write deadlines (see `limits`).
    let mut proxy = pingora_proxy::HttpProxy::new(
        service::Edge { live: live.clone() },
        server.configuration.clone(),
    );
    proxy.handle_init_modules();
    let mut edge = pingora_core::services::listening::Service::new(
        "arigate".to_string(),
        limits::GuardedApp {
            proxy: Arc::new(proxy),
            live: live.clone(),
        },
    );
    edge.add_tcp(&listen.to_string());
    let mut admin = pingora_core::services::listening::Service::new(
        "arigate-admin".to_string(),
        admin::Admin {
            live: live.clone(),
            reloader,
        },
    );
    admin.add_tcp(&admin_listen.to_string());
    server.add_service(edge);
    server.add_service(admin);
    tracing::info!(listen = %listen, admin = %admin_listen, suppliers, upgrade, "arigate is up");
    server.run_forever()
}

/// On SIGTERM (or once an upgrade handed the sockets over) the listeners stop accepting; this
/// waits until the agent requests in flight — bookings included — have finished, at most
/// `grace`, and then ends the process instead of sitting out the whole grace period.
fn drain_on_shutdown(
    server: &Server,
    inflight: Arc<std::sync::atomic::AtomicUsize>,
    grace: std::time::Duration,
) {
    use pingora_core::server::ExecutionPhase;
    use std::sync::atomic::Ordering;
    let mut phases = server.watch_execution_phase();
    let spawned = std::thread::Builder::new()
        .name("arigate-drain".into())
        .spawn(move || loop {
            match phases.blocking_recv() {
                Ok(ExecutionPhase::GracefulTerminate | ExecutionPhase::ShutdownGracePeriod) => {
                    let until = std::time::Instant::now() + grace;
                    let mut waiting = inflight.load(Ordering::SeqCst);
                    tracing::info!(
                        in_flight = waiting,
                        grace_ms = grace.as_millis() as u64,
                        "draining"
                    );
                    while waiting > 0 && std::time::Instant::now() < until {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        waiting = inflight.load(Ordering::SeqCst);
                    }
                    if waiting > 0 {
                        tracing::warn!(
                            in_flight = waiting,
                            "grace period over with requests in flight"
                        );
                    }
                    // Let the last answers leave their sockets.
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    tracing::info!("drained; exiting");
                    std::process::exit(0);
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot watch for shutdown; the full grace period applies");
    }
}
