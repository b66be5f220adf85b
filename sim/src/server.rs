//! The HTTP/1.1 server every simulator runs: counters, scenarios, the `/__sim/` admin API and
//! signed webhook delivery, around one [`Supplier`].

use crate::catalog::Catalog;
use crate::scenario::{DefaultScenario, Op, Scenario};
use crate::state::{Reprice, Sellout, SimState};
use crate::world::World;
use crate::{After, ErrorKind, SimOptions, SimRequest, SimResponse, Supplier};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Request bodies over this are refused with 413.
const MAX_BODY: usize = 4 * 1024 * 1024;
/// How long `timeout` and `commit_then_timeout` hold a connection.
const HANG: Duration = Duration::from_secs(120);

/// A running simulator. Dropping it stops the listener.
pub struct SimHandle {
    pub addr: SocketAddr,
    pub state: Arc<SimState>,
    shutdown: watch::Sender<bool>,
}

impl SimHandle {
    /// `http://127.0.0.1:port`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts a simulator on `addr` (use `127.0.0.1:0` for a free port) in the current tokio runtime.
pub async fn start(options: SimOptions, addr: SocketAddr) -> anyhow::Result<SimHandle> {
    let supplier: Arc<dyn Supplier> = Arc::from(
        crate::supplier_for(&options.protocol)
            .ok_or_else(|| anyhow::anyhow!("unknown protocol {:?}", options.protocol))?,
    );
    let world = World::new(options.seed);
    let catalog = Catalog::new(&world, &options.protocol)
        .ok_or_else(|| anyhow::anyhow!("unknown protocol {:?}", options.protocol))?;
    let state = Arc::new(SimState::new(options, catalog, world));
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (tx, mut rx) = watch::channel(false);
    let st = state.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = rx.changed() => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let Ok((stream, mut abort_handle)) = with_abort_handle(stream) else { continue };
                    let st = st.clone();
                    let sup = supplier.clone();
                    let mut rx2 = rx.clone();
                    let reset = Arc::new(tokio::sync::Notify::new());
                    let reset_svc = reset.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req| {
                            let st = st.clone();
                            let sup = sup.clone();
                            let reset = reset_svc.clone();
                            async move {
                                let resp = serve_one(st, sup, req).await;
                                if resp.extensions().get::<ResetConnection>().is_some() {
                                    // The connection task aborts the connection; this answer is never sent.
                                    reset.notify_one();
                                    std::future::pending::<()>().await;
                                }
                                Ok::<_, Infallible>(resp)
                            }
                        });
                        let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
                        tokio::select! {
                            _ = conn => {}
                            _ = rx2.changed() => {}
                            _ = reset.notified() => {
                                // SO_LINGER 0: closing the last handle sends RST, not FIN.
                                if let Some(dup) = abort_handle.take() {
                                    if let Ok(s) = tokio::net::TcpStream::from_std(dup) {
                                        let _ = s.set_zero_linger();
                                    }
                                }
                            }
                        }
                    });
                }
            }
        }
    });
    Ok(SimHandle {
        addr,
        state,
        shutdown: tx,
    })
}

async fn serve_one(
    state: Arc<SimState>,
    supplier: Arc<dyn Supplier>,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => {
            return to_hyper(SimResponse::json(
                413,
                &json!({"error": "request body too large"}),
            ))
        }
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let gzip = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("content-encoding") && v.eq_ignore_ascii_case("gzip"));
    let body = if gzip {
        match gunzip(&body) {
            Some(b) => b,
            None => return to_hyper(SimResponse::json(400, &json!({"error": "bad gzip body"}))),
        }
    } else {
        body
    };
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let query = url::form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect();
    let sreq = SimRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query,
        raw_query,
        headers,
        body,
    };
    if sreq.path.starts_with("/__sim/") {
        return to_hyper(admin(&state, &sreq).await);
    }
    let Some(route) = supplier.route(&sreq) else {
        state.count("unknown");
        return to_hyper(SimResponse::json(
            404,
            &json!({"error": "no such endpoint"}),
        ));
    };
    state.count(&route.endpoint);
    let scenario = pick_scenario(&state, &sreq, route.op);
    if scenario == Scenario::Reset {
        let mut r = hyper::Response::new(Full::new(Bytes::new()));
        r.extensions_mut().insert(ResetConnection);
        return r;
    }
    match &scenario {
        Scenario::Slow(ms) => tokio::time::sleep(Duration::from_millis(*ms)).await,
        Scenario::Timeout => {
            tokio::time::sleep(HANG).await;
            return to_hyper(SimResponse::json(
                504,
                &json!({"error": "simulated timeout"}),
            ));
        }
        _ => {}
    }
    let resp = match &scenario {
        Scenario::ServerError => {
            supplier.error_response(&state, &route, &sreq, ErrorKind::ServerError)
        }
        Scenario::AuthFail => supplier.error_response(&state, &route, &sreq, ErrorKind::AuthFail),
        Scenario::RateLimited => {
            supplier.error_response(&state, &route, &sreq, ErrorKind::RateLimited)
        }
        _ => supplier.handle(&state, &route, &sreq, &scenario),
    };
    if resp.after == After::Hang {
        tokio::time::sleep(HANG).await;
    }
    let resp = if scenario == Scenario::MalformedBody {
        let mut r = resp;
        r.status = 200;
        let half = r.body.len() / 2;
        r.body.truncate(half);
        r
    } else if scenario == Scenario::Garbage {
        let mut r = resp;
        r.status = 200;
        r.body = garbage(state.next_seq());
        r
    } else {
        resp
    };
    to_hyper(resp)
}

/// Marks an answer that must not be sent: the connection is aborted with a TCP reset instead.
#[derive(Clone, Copy)]
struct ResetConnection;

/// The stream and a second handle on its socket (kept aside, so that a `reset` scenario can set
/// SO_LINGER 0 on it before the connection's own handle is dropped).
fn with_abort_handle(
    stream: tokio::net::TcpStream,
) -> std::io::Result<(tokio::net::TcpStream, Option<std::net::TcpStream>)> {
    let std_stream = stream.into_std()?;
    let dup = std_stream.try_clone().ok();
    Ok((tokio::net::TcpStream::from_std(std_stream)?, dup))
}

/// 512 bytes that are no protocol at all (not UTF-8, not JSON, not XML), from a seed.
fn garbage(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..512)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The request header wins over the default scenario; a default limited to operations applies only to those.
fn pick_scenario(state: &SimState, req: &SimRequest, op: Op) -> Scenario {
    if let Some(s) = req.header("x-sim-scenario").and_then(Scenario::parse) {
        return s;
    }
    match state.default_scenario.lock().as_ref() {
        Some(d) if op != Op::Other && d.applies_to(op) => d.scenario.clone(),
        _ => Scenario::Ok,
    }
}

fn gunzip(body: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() <= MAX_BODY).then_some(out)
}

fn to_hyper(resp: SimResponse) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder().status(resp.status);
    for (k, v) in &resp.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder
        .body(Full::new(Bytes::from(resp.body)))
        .unwrap_or_else(|_| {
            let mut r = hyper::Response::new(Full::new(Bytes::from_static(
                b"{\"error\":\"bad response\"}",
            )));
            *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
}

fn bad(msg: &str) -> SimResponse {
    SimResponse::json(400, &json!({"error": msg}))
}

/// `/__sim/` admin API (`shared/protocols/README.md`, "Admin API").
async fn admin(state: &SimState, req: &SimRequest) -> SimResponse {
    let body: Value = if req.body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(e) => return bad(&format!("invalid JSON: {e}")),
        }
    };
    let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/__sim/counters") => SimResponse::json(200, &json!(state.counters())),
        ("POST", "/__sim/scenario") => {
            let Some(scenario) = s("scenario").as_deref().and_then(Scenario::parse) else {
                return bad("unknown or missing scenario");
            };
            let operations = match body.get("operations") {
                None | Some(Value::Null) => None,
                Some(Value::Array(ops)) => {
                    let parsed: Option<Vec<Op>> =
                        ops.iter().map(|o| o.as_str().and_then(Op::parse)).collect();
                    match parsed {
                        Some(p) => Some(p),
                        None => return bad("unknown operation"),
                    }
                }
                Some(_) => return bad("operations must be an array"),
            };
            *state.default_scenario.lock() = Some(DefaultScenario {
                scenario,
                operations,
            });
            SimResponse::json(200, &json!({"ok": true}))
        }
        ("DELETE", "/__sim/scenario") => {
            *state.default_scenario.lock() = None;
            SimResponse::json(200, &json!({"ok": true}))
        }
        ("POST", "/__sim/sellout") => {
            let Some(hotel) = s("hotel") else {
                return bad("hotel is required");
            };
            let date = match s("date") {
                Some(d) => match d.parse() {
                    Ok(d) => Some(d),
                    Err(_) => return bad("date must be YYYY-MM-DD"),
                },
                None => None,
            };
            state.sellouts.lock().push(Sellout {
                hotel,
                room: s("room"),
                date,
            });
            SimResponse::json(200, &json!({"ok": true}))
        }
        ("POST", "/__sim/reprice") => {
            let Some(hotel) = s("hotel") else {
                return bad("hotel is required");
            };
            let pct = match body.get("pct") {
                Some(Value::Number(n)) => n.to_string().parse().ok(),
                Some(Value::String(p)) => p.parse().ok(),
                _ => None,
            };
            let Some(pct) = pct else {
                return bad("pct is required");
            };
            state.reprices.lock().push(Reprice {
                hotel,
                room: s("room"),
                pct,
            });
            SimResponse::json(200, &json!({"ok": true}))
        }
        ("POST", "/__sim/webhook") => webhook(state, &body).await,
        ("GET", "/__sim/bookings") => SimResponse::json(200, &json!(*state.bookings.lock())),
        ("GET", "/__sim/catalog") => {
            let hotels: Vec<Value> = state
                .catalog
                .hotels
                .iter()
                .map(|h| json!({"code": h.code, "unified_id": h.unified_id, "name": h.name, "rooms": h.rooms}))
                .collect();
            SimResponse::json(
                200,
                &json!({"protocol": state.catalog.protocol, "hotels": hotels}),
            )
        }
        _ => SimResponse::json(404, &json!({"error": "no such admin endpoint"})),
    }
}

/// Applies an ARI change and delivers it, signed, to the configured webhook URL.
async fn webhook(state: &SimState, body: &Value) -> SimResponse {
    let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    let Some(kind) = s("type") else {
        return bad("type is required");
    };
    let Some(hotel) = s("hotel") else {
        return bad("hotel is required");
    };
    if state.catalog.hotel(&hotel).is_none() {
        return bad("unknown hotel");
    }
    let room = s("room");
    match kind.as_str() {
        "ROOM_SOLD_OUT" => state.sellouts.lock().push(Sellout {
            hotel: hotel.clone(),
            room: room.clone(),
            date: None,
        }),
        "PRICE_CHANGED" => state.reprices.lock().push(Reprice {
            hotel: hotel.clone(),
            room: room.clone(),
            pct: rust_decimal::Decimal::from(10),
        }),
        "NEW_AVAILABILITY" => state
            .sellouts
            .lock()
            .retain(|x| x.hotel != hotel || (room.is_some() && x.room != room)),
        _ => return bad("type must be ROOM_SOLD_OUT, PRICE_CHANGED or NEW_AVAILABILITY"),
    }
    let Some(url) = state.options.webhook_url.clone() else {
        return SimResponse::json(
            200,
            &json!({"delivered": false, "error": "no --webhook-url configured"}),
        );
    };
    let event_id = format!("evt-{:04}", state.next_seq());
    let payload = json!({
        "event_id": event_id,
        "type": kind,
        "supplier": state.catalog.protocol,
        "hotel": hotel,
        "room": room,
        "rate": s("rate"),
        "dates": [],
        "occurred_at": state.now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    });
    let raw = payload.to_string();
    let t = state.now().timestamp();
    let signature = format!(
        "t={t},v1={}",
        sign(&state.options.webhook_secret, t, raw.as_bytes())
    );
    match deliver(&url, &event_id, &signature, raw).await {
        Ok(status) => SimResponse::json(
            200,
            &json!({"delivered": true, "status": status, "event_id": event_id}),
        ),
        Err(e) => SimResponse::json(200, &json!({"delivered": false, "error": e.to_string()})),
    }
}

/// Lowercase hex HMAC-SHA256 over `"<t>." + body`.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

async fn deliver(url: &str, event_id: &str, signature: &str, body: String) -> anyhow::Result<u16> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let req = hyper::Request::post(url)
        .header("content-type", "application/json")
        .header("x-webhook-id", event_id)
        .header("x-arigate-signature", signature)
        .body(Full::new(Bytes::from(body)))?;
    let resp = tokio::time::timeout(Duration::from_secs(10), client.request(req)).await??;
    Ok(resp.status().as_u16())
}

/// A minimal HTTP/1.1 client for tests and tools: one request, whole body back.
pub async fn http_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> anyhow::Result<(u16, Vec<(String, String)>, Vec<u8>)> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut builder = hyper::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let resp = tokio::time::timeout(
        Duration::from_secs(30),
        client.request(builder.body(Full::new(Bytes::from(body)))?),
    )
    .await??;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = resp.into_body().collect().await?.to_bytes().to_vec();
    Ok((status, headers, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_signature_worked_example() {
        let body = br#"{"event_id":"evt-0001","type":"ROOM_SOLD_OUT","supplier":"hotelbeds","hotel":"100042","room":"DBL.ST","rate":null,"dates":["2027-01-15"],"occurred_at":"2027-01-01T00:00:00Z"}"#;
        assert_eq!(
            sign("whsec_demo", 1767225600, body),
            "1dce26f81379c929834bb7b3dab0907d01b791b86e0df3b7787ed6a946538799"
        );
    }

    /// One request over a raw socket; what the socket read gave (bytes or the error kind).
    async fn raw_exchange(addr: SocketAddr, scenario: &str) -> Result<Vec<u8>, std::io::ErrorKind> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let body = "{}";
        let req = format!(
            "POST /api/rate/PriceSearch?$format=json HTTP/1.1\r\nHost: x\r\nX-Sim-Scenario: {scenario}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        match tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
            .await
            .expect("the simulator answers or aborts within 5 s")
        {
            Ok(_) => Ok(out),
            Err(e) => Err(e.kind()),
        }
    }

    #[tokio::test]
    async fn reset_aborts_the_connection_and_garbage_answers_200_with_no_protocol() {
        let sim = crate::start(SimOptions::defaults("dida"), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(
            raw_exchange(sim.addr, "reset").await,
            Err(std::io::ErrorKind::ConnectionReset)
        );
        let ok = raw_exchange(sim.addr, "ok").await.unwrap();
        assert!(
            ok.starts_with(b"HTTP/1.1 "),
            "{}",
            String::from_utf8_lossy(&ok)
        );
        let got = raw_exchange(sim.addr, "garbage").await.unwrap();
        assert!(
            got.starts_with(b"HTTP/1.1 200 "),
            "{}",
            String::from_utf8_lossy(&got)
        );
        let at = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let body = &got[at..];
        assert_eq!(body.len(), 512);
        assert!(serde_json::from_slice::<Value>(body).is_err());
        // Both faulty requests were received and counted like any other.
        assert_eq!(sim.state.counters().values().sum::<u64>(), 3);
    }
}
