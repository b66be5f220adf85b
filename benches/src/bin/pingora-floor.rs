//! The floor under arigate's numbers: the least a Pingora 0.9.1 service does for the two
//! requests `loadtest/compare/run.sh` measures, with none of arigate's work.
//!
//! ```text
//! pingora-floor answer LISTEN FILE      read the request body, answer FILE's bytes from memory
//! pingora-floor proxy LISTEN UPSTREAM   plain proxy to UPSTREAM (keep-alive, no filter, no timeout)
//! ```
//!
//! Same server set-up as the edge (one worker thread, Pingora's HTTP/1 session, `ProxyHttp`
//! phases); no authentication, rate limit, cache look-up, translation, metrics or spans. What
//! this process spends per request is what any service on this Pingora spends before its own
//! logic, so it bounds from below what arigate can reach against nginx.

use async_trait::async_trait;
use bytes::Bytes;
use pingora_core::server::configuration::ServerConf;
use pingora_core::server::Server;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_http::ResponseHeader;
use pingora_proxy::{ProxyHttp, Session};
use std::net::SocketAddr;
use std::process::ExitCode;

/// Which floor to serve.
enum Floor {
    /// Every request answered with these bytes once its body is read.
    Answer(Bytes),
    /// Every request proxied to this origin.
    Proxy(SocketAddr),
}

#[async_trait]
impl ProxyHttp for Floor {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn request_filter(
        &self,
        session: &mut Session,
        _ctx: &mut (),
    ) -> pingora_error::Result<bool> {
        let Floor::Answer(bytes) = self else {
            return Ok(false);
        };
        while session.read_request_body().await?.is_some() {}
        let mut head = ResponseHeader::build(200, Some(2))?;
        head.insert_header("content-type", "application/json")?;
        head.insert_header("content-length", bytes.len().to_string())?;
        session.write_response_header(Box::new(head), false).await?;
        session
            .write_response_body(Some(bytes.clone()), true)
            .await?;
        Ok(true)
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut (),
    ) -> pingora_error::Result<Box<HttpPeer>> {
        match self {
            Floor::Proxy(addr) => Ok(Box::new(HttpPeer::new(*addr, false, String::new()))),
            Floor::Answer(_) => pingora_error::Error::e_explain(
                pingora_error::ErrorType::InternalError,
                "the answer floor has no upstream",
            ),
        }
    }
}

fn parse(args: &[String]) -> Result<(String, Floor), String> {
    match args {
        [mode, listen, arg] if mode == "answer" => {
            let bytes = std::fs::read(arg).map_err(|e| format!("{arg}: {e}"))?;
            Ok((listen.clone(), Floor::Answer(Bytes::from(bytes))))
        }
        [mode, listen, arg] if mode == "proxy" => {
            let addr = arg.parse().map_err(|e| format!("{arg}: {e}"))?;
            Ok((listen.clone(), Floor::Proxy(addr)))
        }
        _ => Err("usage: pingora-floor answer LISTEN FILE | proxy LISTEN UPSTREAM".to_string()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (listen, floor) = match parse(&args) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let conf = ServerConf {
        threads: 1,
        // SIGTERM (the harness's clean-up) ends it at once, as it does the edge.
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = pingora_proxy::http_proxy_service(&server.configuration, floor);
    proxy.add_tcp(&listen);
    server.add_service(proxy);
    server.run_forever()
}
