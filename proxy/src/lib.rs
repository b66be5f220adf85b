//! arigate: the hotel-distribution edge on Pingora.
//!
//! [`service`] is the Pingora `ProxyHttp`: agent routes in [`api`], supplier calls as subrequest
//! legs in [`legs`], errors mapped to HTTP once in [`errors`]. [`admin`] serves the admin listener,
//! [`demo`] wires the edge to five in-process simulated suppliers.
#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod app;
pub mod cache;
pub mod demo;
pub mod errors;
pub mod legs;
pub mod service;
pub mod supplier_calls;
pub mod trace_api;
pub mod traces;

use app::App;
use pingora_core::server::configuration::ServerConf;
use pingora_core::server::Server;
use std::sync::Arc;

/// Runs the edge and its admin listener until the process is stopped.
pub fn serve(mut app: App) -> ! {
    app.traces = match traces::Traces::start(&app.config.traces) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the trace pipeline");
            std::process::exit(1)
        }
    };
    let app = Arc::new(app);
    let conf = ServerConf {
        threads: app.config.threads,
        grace_period_seconds: Some(1),
        graceful_shutdown_timeout_seconds: Some(5),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut edge = pingora_proxy::http_proxy_service_with_name(
        &server.configuration,
        service::Edge { app: app.clone() },
        "arigate",
    );
    edge.add_tcp(&app.config.listen.to_string());
    let mut admin = pingora_core::services::listening::Service::new(
        "arigate-admin".to_string(),
        admin::Admin { app: app.clone() },
    );
    admin.add_tcp(&app.config.admin_listen.to_string());
    server.add_service(edge);
    server.add_service(admin);
    tracing::info!(listen = %app.config.listen, admin = %app.config.admin_listen, suppliers = app.suppliers.len(), "arigate is up");
    server.run_forever()
}
