//! Request limits and client timeouts (`limits:`): what an agent may send, and how slowly.
//!
//! Pingora 0.9.1 gives us a strict HTTP/1 parser (at most 256 header fields and 1 MiB of header,
//! CL/TE conflicts and HTTP/1.0 with TE refused) and per-read timeouts, but no total deadline on a
//! request header: its read loop re-arms a 60 s timer on every read (and none at all on a reused
//! HTTP/1.1 connection, whose keep-alive is "infinite" unless the client says otherwise), so a
//! client sending one header byte a minute holds a connection — and its 1 MiB header buffer —
//! indefinitely. No `ProxyHttp` phase runs before the header is complete, so no filter can stop
//! that. The sound place is the transport: [`GuardedApp`] wraps Pingora's HTTP app and hands it
//! every accepted connection wrapped in a [`GuardedStream`], which
//!
//! - gives the whole first header `header_read_timeout` from the accept, and each later header
//!   `header_read_timeout` from its first byte (slowloris is cut off),
//! - closes a keep-alive connection idle for `keepalive_timeout` between requests,
//! - ends a connection whose answer makes no progress into the client's socket for
//!   `write_timeout` (a client that never reads).
//!
//! The stream cannot tell a header from a body by itself, so the proxy tells it: `Edge` marks
//! the header done in `early_request_filter` (Pingora parsed it) and the request finished in
//! `logging`; it reaches the stream through `Stream::as_any` ([`guard_of`]). The body has its own
//! total deadline (`body_read_timeout`, answered 408) where the edge reads it
//! ([`crate::api::read_body`]). Header field count and size, target length, and body caps per route
//! class are checked once the header is parsed ([`check_head`]), with JSON 431/414/413 answers.
//! Nothing here allocates per request; a connection costs two timers at most.

use crate::errors::ApiError;
use crate::metrics::{self, ClientTimeout};
use arigate_config::{RequestLimits, RouteClass};
use async_trait::async_trait;
use pingora_core::apps::ServerApp;
use pingora_core::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, Ssl, Stream, UniqueID,
    UniqueIDType, ALPN,
};
use pingora_core::server::ShutdownWatch;
use pingora_http::RequestHeader;
use pingora_proxy::{HttpProxy, Session};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Waiting for the next request, no byte of it yet (keep-alive idle).
const IDLE: u8 = 0;
/// Reading a request header (from the accept, or from the header's first byte).
const HEADER: u8 = 1;
/// The header is parsed; the request is being handled (body and answer have their own limits).
const IN_REQUEST: u8 = 2;

/// An accepted client connection with the header, idle and write deadlines described above.
pub struct GuardedStream {
    inner: Stream,
    /// [`IDLE`], [`HEADER`] or [`IN_REQUEST`]; set by the proxy through [`guard_of`].
    phase: AtomicU8,
    header_timeout: Duration,
    idle_timeout: Duration,
    write_timeout: Duration,
    /// The read deadline in force and the phase it was armed for.
    read_deadline: Option<(u8, Instant)>,
    read_timer: Option<Pin<Box<Sleep>>>,
    write_deadline: Option<Instant>,
    write_timer: Option<Pin<Box<Sleep>>>,
    /// Bytes of the header being read have arrived (a cut then answers 408 before closing).
    header_started: bool,
}

/// What a client whose header is cut off gets before the connection closes (best effort: one
/// non-blocking write). A connection that sent nothing is closed without an answer.
const HEADER_TIMEOUT_ANSWER: &[u8] = b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: 90\r\nconnection: close\r\n\r\n{\"error\":{\"code\":\"request_timeout\",\"message\":\"the request header did not arrive in time\"}}";

impl std::fmt::Debug for GuardedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedStream")
            .field("inner", &self.inner)
            .field("phase", &self.phase.load(Ordering::Relaxed))
            .finish()
    }
}

/// Whether `deadline` has passed, polling `timer` (armed for it) so the task wakes then.
fn expired(timer: &mut Option<Pin<Box<Sleep>>>, deadline: Instant, cx: &mut Context<'_>) -> bool {
    let t = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
    if t.deadline() != deadline {
        t.as_mut().reset(deadline);
    }
    t.as_mut().poll(cx).is_ready()
}

use std::future::Future as _;

impl GuardedStream {
    pub fn new(inner: Stream, limits: &RequestLimits) -> GuardedStream {
        GuardedStream {
            inner,
            phase: AtomicU8::new(HEADER),
            header_timeout: limits.header_read_timeout,
            idle_timeout: limits.keepalive_timeout,
            write_timeout: limits.write_timeout,
            read_deadline: Some((HEADER, Instant::now() + limits.header_read_timeout)),
            read_timer: None,
            write_deadline: None,
            write_timer: None,
            header_started: false,
        }
    }

    /// The proxy parsed a request header: the header deadline no longer applies.
    pub fn header_done(&self) {
        self.phase.store(IN_REQUEST, Ordering::Release);
    }

    /// The request is answered: what comes next is idle time, then the next header.
    pub fn request_done(&self) {
        self.phase.store(IDLE, Ordering::Release);
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let phase = this.phase.load(Ordering::Acquire);
        let deadline = match (phase, this.read_deadline) {
            (IN_REQUEST, _) => None,
            (p, Some((armed, at))) if armed == p => Some(at),
            (p, _) => {
                let at = Instant::now()
                    + if p == IDLE {
                        this.idle_timeout
                    } else {
                        this.header_timeout
                    };
                this.read_deadline = Some((p, at));
                Some(at)
            }
        };
        if phase == IN_REQUEST {
            this.read_deadline = None;
            this.header_started = false;
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if phase == HEADER && buf.filled().len() > before {
                    this.header_started = true;
                }
                if phase == IDLE && buf.filled().len() > before {
                    // The next request's first byte: its header has `header_timeout` from now.
                    if this
                        .phase
                        .compare_exchange(IDLE, HEADER, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        this.read_deadline = Some((HEADER, Instant::now() + this.header_timeout));
                        this.header_started = true;
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match deadline {
                Some(at) if expired(&mut this.read_timer, at, cx) => {
                    if phase == IDLE {
                        // Idle keep-alive connection: end it as a clean close (no bytes read).
                        Poll::Ready(Ok(()))
                    } else {
                        metrics::client_timeout(ClientTimeout::Header);
                        if std::mem::take(&mut this.header_started) {
                            // Whatever does not fit the socket now is dropped with the connection.
                            let inner = Pin::new(&mut this.inner);
                            if let Poll::Ready(Ok(_)) = inner.poll_write(cx, HEADER_TIMEOUT_ANSWER)
                            {
                                let _ = Pin::new(&mut this.inner).poll_flush(cx);
                            }
                        }
                        Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "request header not complete within limits.header_read_timeout",
                        )))
                    }
                }
                _ => Poll::Pending,
            },
        }
    }
}

impl GuardedStream {
    /// Applies the write deadline to one write-side poll of the inner stream.
    fn guard_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match poll {
            Poll::Pending => {
                let at = *self
                    .write_deadline
                    .get_or_insert_with(|| Instant::now() + self.write_timeout);
                if expired(&mut self.write_timer, at, cx) {
                    metrics::client_timeout(ClientTimeout::Write);
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "client took no answer bytes within limits.write_timeout",
                    )));
                }
                Poll::Pending
            }
            ready => {
                self.write_deadline = None;
                ready
            }
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.guard_write(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.guard_write(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.guard_write(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.guard_write(cx, poll)
    }
}

#[async_trait]
impl Shutdown for GuardedStream {
    async fn shutdown(&mut self) {
        // Bounded like any write: a client that never reads cannot hold the shutdown either.
        let _ = tokio::time::timeout(self.write_timeout, self.inner.shutdown()).await;
    }
}

impl UniqueID for GuardedStream {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for GuardedStream {
    fn get_ssl(&self) -> Option<&pingora_core::protocols::tls::TlsRef> {
        self.inner.get_ssl()
    }
    fn get_ssl_digest(&self) -> Option<Arc<pingora_core::protocols::tls::SslDigest>> {
        self.inner.get_ssl_digest()
    }
    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for GuardedStream {
    fn get_timing_digest(&self) -> Vec<Option<pingora_core::protocols::TimingDigest>> {
        self.inner.get_timing_digest()
    }
    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }
    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for GuardedStream {
    fn get_proxy_digest(&self) -> Option<Arc<pingora_core::protocols::raw_connect::ProxyDigest>> {
        self.inner.get_proxy_digest()
    }
    fn set_proxy_digest(&mut self, digest: pingora_core::protocols::raw_connect::ProxyDigest) {
        self.inner.set_proxy_digest(digest)
    }
}

impl GetSocketDigest for GuardedStream {
    fn get_socket_digest(&self) -> Option<Arc<pingora_core::protocols::SocketDigest>> {
        self.inner.get_socket_digest()
    }
    fn set_socket_digest(&mut self, digest: pingora_core::protocols::SocketDigest) {
        self.inner.set_socket_digest(digest)
    }
}

#[async_trait]
impl Peek for GuardedStream {
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}

/// The downstream connection's guard, when the request came in over one (not for legs).
pub fn guard_of(session: &Session) -> Option<&GuardedStream> {
    let stream = session.as_downstream().stream()?;
    // `**stream` is the `dyn IO` inside the `Box`: its `as_any` names the concrete type.
    (**stream).as_any().downcast_ref::<GuardedStream>()
}

/// Pingora's HTTP proxy app, fed connections wrapped in a [`GuardedStream`].
pub struct GuardedApp<SV: pingora_proxy::ProxyHttp> {
    pub proxy: Arc<HttpProxy<SV>>,
    pub live: crate::app::Live,
}

#[async_trait]
impl<SV> ServerApp for GuardedApp<SV>
where
    SV: pingora_proxy::ProxyHttp + Send + Sync + 'static,
    SV::CTX: Send + Sync,
{
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        // The generation current at the accept sets this connection's timeouts.
        let guarded = GuardedStream::new(stream, &self.live.load().config.request_limits);
        ServerApp::process_new(&self.proxy, Box::new(guarded), shutdown).await
    }

    async fn cleanup(&self) {
        ServerApp::cleanup(&*self.proxy).await
    }
}

/// The route class whose body cap applies to `route`.
pub fn class_of(route: &crate::api::Route) -> RouteClass {
    use crate::api::Route;
    match route {
        Route::Search => RouteClass::Browse,
        Route::Destinations | Route::HotelsInDestination | Route::Hotel(_) => RouteClass::Static,
        Route::Availability | Route::Book | Route::BookingQuery(_) | Route::Cancel(_) => {
            RouteClass::Transactional
        }
        Route::Webhook(_) => RouteClass::Webhook,
    }
}

/// Header field count and bytes (431) and target length (414) of a parsed request head.
pub fn check_head(req: &RequestHeader, limits: &RequestLimits) -> Result<(), ApiError> {
    let target = req.raw_path().len();
    if target > limits.max_uri_bytes {
        return Err(ApiError::new(
            414,
            "uri_too_long",
            format!(
                "request targets are limited to {} bytes",
                limits.max_uri_bytes
            ),
        ));
    }
    let count = req.headers.len();
    if count > limits.max_header_count {
        return Err(ApiError::new(
            431,
            "headers_too_large",
            format!(
                "requests may carry at most {} header fields",
                limits.max_header_count
            ),
        ));
    }
    // name ": " value CRLF for each field.
    let bytes: usize = req
        .headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if bytes > limits.max_header_bytes {
        return Err(ApiError::new(
            431,
            "headers_too_large",
            format!(
                "request header fields are limited to {} bytes",
                limits.max_header_bytes
            ),
        ));
    }
    // RFC 9112 §3.2: an HTTP/1.1 request carries exactly one Host field, else 400.
    if req.version == http::Version::HTTP_11
        && req.headers.get_all(http::header::HOST).iter().count() != 1
    {
        return Err(ApiError::bad_request(
            "HTTP/1.1 requests carry exactly one Host header field",
        ));
    }
    Ok(())
}

/// The 503 of a request shed because `limits.max_inflight` requests are already in flight.
pub fn overloaded(max: usize) -> ApiError {
    metrics::shed();
    ApiError {
        status: 503,
        code: "overloaded".into(),
        message: format!("the edge is at its limit of {max} requests in flight; retry shortly"),
        retry_after: Some(1),
        challenge: None,
        close: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(target: &str, fields: usize, value_len: usize) -> RequestHeader {
        let mut h = RequestHeader::build("GET", target.as_bytes(), None).expect("head");
        if fields > 0 {
            h.append_header("host", "edge").expect("host");
        }
        for i in 1..fields {
            h.append_header(format!("x-f{i}"), "v".repeat(value_len))
                .expect("field");
        }
        h
    }

    #[test]
    fn heads_over_the_limits_are_refused_with_their_status() {
        let l = RequestLimits::default();
        assert!(check_head(&head("/v1/destinations", 10, 10), &l).is_ok());
        let long = format!("/v1/hotels/{}", "a".repeat(l.max_uri_bytes));
        assert_eq!(
            check_head(&head(&long, 1, 1), &l).map_err(|e| e.status),
            Err(414)
        );
        assert_eq!(
            check_head(&head("/", l.max_header_count + 1, 1), &l).map_err(|e| e.status),
            Err(431)
        );
        assert_eq!(
            check_head(&head("/", 5, l.max_header_bytes / 4), &l).map_err(|e| e.status),
            Err(431)
        );
        assert!(check_head(&head("/", l.max_header_count, 1), &l).is_ok());
    }

    #[test]
    fn an_http_1_1_request_carries_exactly_one_host() {
        let l = RequestLimits::default();
        let none = head("/v1/destinations", 0, 0);
        assert_eq!(check_head(&none, &l).map_err(|e| e.status), Err(400));
        let mut two = head("/v1/destinations", 1, 1);
        two.append_header("host", "other").expect("host");
        assert_eq!(check_head(&two, &l).map_err(|e| e.status), Err(400));
        let mut old = head("/v1/destinations", 0, 0);
        old.set_version(http::Version::HTTP_10);
        assert!(check_head(&old, &l).is_ok(), "HTTP/1.0 needs no Host");
    }

    #[test]
    fn the_header_timeout_answer_is_well_formed_json() {
        let text = std::str::from_utf8(HEADER_TIMEOUT_ANSWER).expect("utf-8");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|v| v.parse().ok())
            .expect("content-length");
        assert_eq!(length, body.len());
        let v: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(v["error"]["code"], "request_timeout");
    }
}
