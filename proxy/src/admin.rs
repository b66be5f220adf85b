//! The admin listener (loopback by default): `/healthz`, `/readyz`, `/admin/suppliers`.

use crate::app::App;
use async_trait::async_trait;
use http::Response;
use pingora_core::apps::http_app::ServeHttp;
use pingora_core::protocols::http::ServerSession;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

pub struct Admin {
    pub app: Arc<App>,
}

fn json_response(status: u16, body: serde_json::Value) -> Response<Vec<u8>> {
    let body = body.to_string().into_bytes();
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("content-length", body.len())
        .body(body)
        .unwrap_or_else(|_| Response::new(Vec::new()))
}

async fn listening(addr: std::net::SocketAddr) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect(addr)
        )
        .await,
        Ok(Ok(_))
    )
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let path = session.req_header().uri.path().to_string();
        let app = &self.app;
        match path.as_str() {
            "/healthz" => json_response(200, json!({"status": "ok"})),
            "/readyz" => {
                let mut waiting = Vec::new();
                for addr in
                    std::iter::once(app.config.listen).chain(app.ready_checks.iter().copied())
                {
                    if !listening(addr).await {
                        waiting.push(addr.to_string());
                    }
                }
                if waiting.is_empty() {
                    json_response(200, json!({"status": "ready"}))
                } else {
                    json_response(503, json!({"status": "starting", "waiting_for": waiting}))
                }
            }
            "/admin/suppliers" => {
                let list: Vec<_> = app
                    .suppliers
                    .iter()
                    .map(|s| {
                        let c = &s.config;
                        json!({
                            "code": c.code,
                            "protocol": c.protocol.as_str(),
                            "endpoint": c.endpoint,
                            "enabled": c.enabled,
                            "auth": format!("{:?}", c.credentials.mode).to_lowercase(),
                            "timeout_ms": c.timeout.as_millis() as u64,
                            "booking_timeout_ms": c.booking_timeout.as_millis() as u64,
                            "webhooks": !c.webhook_secrets.is_empty(),
                        })
                    })
                    .collect();
                json_response(200, json!({"suppliers": list}))
            }
            _ => json_response(
                404,
                json!({"error": {"code": "not_found", "message": format!("no admin route {path}")}}),
            ),
        }
    }
}
