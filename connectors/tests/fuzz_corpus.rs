//! Replays the fuzz corpora of the connector parsers (`fuzz/corpus/connector_<protocol>/`) and
//! every crash or regression input (`fuzz/regressions/connector_<protocol>/`) through the same
//! entry the fuzz targets use ([`arigate_connectors::fuzz::Harness`]): no panic, no violation.
//! The simulator seeds must still read as replies (`sim-ok-*`) or classified errors (`sim-err-*`),
//! which proves the replay reaches the real parsers rather than bouncing off the input format.
//!
//! `regenerate_seed_corpus` (ignored; run it with `-- --ignored`) records the `sim-*` seeds and
//! `fuzz/calls/<protocol>.json` again: the connector builds each call, the in-process simulator
//! answers it, the connector reads the answer into the next call's input.

// Test code: a failed read or write is the test failing.
#![allow(clippy::unwrap_used)]

use arigate_connectors::fuzz::{Harness, Outcome};
use arigate_connectors::wire::gunzip_bounded;
use arigate_connectors::{
    connector_for, AuthMode, BookInput, BookPrelude, CallContext, CancelPrelude, Credentials,
    Guest, Occupancy, Protocol, Reply, SearchQuery, Stay, WireRequest, WireResponse,
};
use arigate_connectors::{Call, Connector};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn target(p: Protocol) -> String {
    format!("connector_{}", p.as_str().replace('-', "_"))
}

fn harness(p: Protocol) -> Harness {
    let path = fuzz_dir().join("calls").join(format!("{}.json", target(p)));
    let json = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Harness::from_json(p, &json).unwrap()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.is_file());
    out.sort();
    out
}

#[test]
fn every_corpus_and_regression_input_is_classified_without_panic() {
    for p in Protocol::ALL {
        let h = harness(p);
        let corpus = files(&fuzz_dir().join("corpus").join(target(p)));
        let regressions = files(&fuzz_dir().join("regressions").join(target(p)));
        assert!(
            corpus.len() >= 10,
            "{}: only {} seeds",
            target(p),
            corpus.len()
        );
        let (mut replies, mut errors) = (0, 0);
        for file in corpus.iter().chain(&regressions) {
            let data = std::fs::read(file).unwrap();
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            match h.run(&data) {
                Ok(Outcome::Reply(_)) => {
                    assert!(!name.starts_with("sim-err-"), "{name}: read as a reply");
                    replies += 1;
                }
                Ok(Outcome::Error(e)) => {
                    assert!(!name.starts_with("sim-ok-"), "{name}: {e}");
                    errors += 1;
                }
                Err(v) => panic!("{}/{name}: {v}", target(p)),
            }
        }
        // Both kinds of answer are in every corpus: it reaches the readers and the error paths.
        assert!(
            replies >= 5 && errors >= 3,
            "{}: {replies} replies, {errors} errors",
            target(p)
        );
    }
}

#[test]
fn the_input_format_reaches_every_recorded_call() {
    for p in Protocol::ALL {
        let h = harness(p);
        let json =
            std::fs::read_to_string(fuzz_dir().join("calls").join(format!("{}.json", target(p))))
                .unwrap();
        let calls: Vec<Call> = serde_json::from_str(&json).unwrap();
        for c in &calls {
            let line = format!("{} 503\n", c.op());
            let (call, status, body) = h.split(line.as_bytes());
            assert_eq!((call.op(), status, body), (c.op(), 503, &b""[..]));
        }
        // A garbled first line still picks a call, and the whole rest is the body.
        let (_, status, body) = h.split(b"\xff\xfe 9999999\n{}");
        assert_eq!((status, body), (200, &b"{}"[..]));
    }
}

// ---- seed recording -------------------------------------------------------------------------

struct Recorder {
    protocol: Protocol,
    connector: Box<dyn Connector>,
    supplier: Box<dyn arigate_sim::Supplier>,
    state: arigate_sim::SimState,
    bearer: Option<String>,
    calls: Vec<Call>,
    dir: PathBuf,
}

impl Recorder {
    fn new(protocol: Protocol) -> Recorder {
        let options = arigate_sim::SimOptions::defaults(protocol.as_str());
        let world = arigate_sim::world::World::new(options.seed);
        let catalog = arigate_sim::catalog::Catalog::new(&world, protocol.as_str()).unwrap();
        let credentials = Credentials {
            key: options.key.clone(),
            secret: options.secret.clone(),
            account: Some("ARIGATE".into()),
            mode: AuthMode::Native,
        };
        let dir = fuzz_dir().join("corpus").join(target(protocol));
        std::fs::create_dir_all(&dir).unwrap();
        for old in files(&dir) {
            if old
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("sim-")
            {
                std::fs::remove_file(old).unwrap();
            }
        }
        Recorder {
            protocol,
            connector: connector_for(protocol, credentials),
            supplier: arigate_sim::supplier_for(protocol.as_str()).unwrap(),
            state: arigate_sim::SimState::new(options, catalog, world),
            bearer: None,
            calls: Vec::new(),
            dir,
        }
    }

    /// The connector's request for `call`, as the simulator reads it, and its route.
    fn request(&self, call: &Call) -> (arigate_sim::SimRequest, arigate_sim::Route) {
        let cx = CallContext {
            now: chrono::Utc::now().timestamp(),
            nonce: "fuzzseed0001",
            base_url: "http://127.0.0.1:9",
            bearer: self.bearer.as_deref(),
            customer_ip: "203.0.113.9",
        };
        let req: WireRequest = self.connector.build(call, &cx).unwrap();
        let (path, raw_query) = match req.path.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (req.path.clone(), String::new()),
        };
        let gz = req
            .get_header("content-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
        let body = if gz {
            gunzip_bounded(&req.body, 1 << 24).unwrap()
        } else {
            req.body.clone()
        };
        let sreq = arigate_sim::SimRequest {
            method: req.method.as_str().to_string(),
            path,
            query: url::form_urlencoded::parse(raw_query.as_bytes())
                .into_owned()
                .collect(),
            raw_query,
            headers: req.headers.clone(),
            body,
        };
        let route = self
            .supplier
            .route(&sreq)
            .unwrap_or_else(|| panic!("{}: no route for {}", self.protocol, sreq.path));
        (sreq, route)
    }

    fn send(&self, call: &Call, scenario: &arigate_sim::Scenario) -> WireResponse {
        let (sreq, route) = self.request(call);
        self.wire(self.supplier.handle(&self.state, &route, &sreq, scenario))
    }

    fn wire(&self, resp: arigate_sim::SimResponse) -> WireResponse {
        let gz = resp.headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("content-encoding") && v.eq_ignore_ascii_case("gzip")
        });
        let body = if gz {
            gunzip_bounded(&resp.body, 1 << 24).unwrap()
        } else {
            resp.body
        };
        WireResponse {
            status: resp.status,
            headers: resp.headers,
            body,
        }
    }

    fn save(&self, name: &str, call: &Call, resp: &WireResponse) {
        let mut data = format!("{} {}\n", call.op(), resp.status).into_bytes();
        data.extend_from_slice(&resp.body);
        std::fs::write(self.dir.join(name), data).unwrap();
    }

    /// Sends `call`, saves the answer as `sim-ok-<name>` and returns the connector's reading.
    fn ok(&mut self, name: &str, call: Call) -> Reply {
        self.ok_with(name, call, arigate_sim::Scenario::Ok)
    }

    fn ok_with(&mut self, name: &str, call: Call, scenario: arigate_sim::Scenario) -> Reply {
        let resp = self.send(&call, &scenario);
        self.save(&format!("sim-ok-{name}"), &call, &resp);
        let reply = self
            .connector
            .parse(&call, &resp)
            .unwrap_or_else(|e| panic!("{}: {name}: {e}", self.protocol));
        if !self.calls.iter().any(|c| c.op() == call.op()) {
            self.calls.push(call);
        }
        reply
    }

    /// Sends `call` under a failing scenario and saves the answer as `sim-err-<name>`.
    fn err(&self, name: &str, call: &Call, scenario: arigate_sim::Scenario) {
        let resp = self.send(call, &scenario);
        if self.connector.parse(call, &resp).is_err() {
            self.save(&format!("sim-err-{name}"), call, &resp);
        }
    }

    fn error_kinds(&self, call: &Call) {
        use arigate_sim::ErrorKind::*;
        let (sreq, route) = self.request(call);
        for (kind, name) in [
            (ServerError, "server-error"),
            (AuthFail, "auth-fail"),
            (RateLimited, "rate-limited"),
        ] {
            let resp = self.wire(
                self.supplier
                    .error_response(&self.state, &route, &sreq, kind),
            );
            self.save(&format!("sim-err-{}-{name}", call.op()), call, &resp);
        }
    }
}

#[test]
#[ignore = "rewrites the sim-* seeds and fuzz/calls; run by hand after a connector or simulator change"]
fn regenerate_seed_corpus() {
    let today = chrono::Utc::now().date_naive();
    for p in Protocol::ALL {
        let mut r = Recorder::new(p);
        if r.connector.needs_bearer() {
            match r.ok("token", Call::Token) {
                Reply::Token { access_token, .. } => r.bearer = Some(access_token),
                other => panic!("{other:?}"),
            }
        }
        let codes: Vec<String> = r
            .state
            .catalog
            .hotels
            .iter()
            .take(3)
            .map(|h| h.code.clone())
            .collect();
        let query = SearchQuery {
            stay: Stay {
                checkin: today + chrono::Duration::days(30),
                checkout: today + chrono::Duration::days(32),
            },
            rooms: vec![Occupancy {
                adults: 2,
                children_ages: vec![],
            }],
            hotels: codes.clone(),
            currency: "EUR".into(),
            nationality: "GB".into(),
        };
        let search = Call::Search { query };
        let Reply::Search { hotels } = r.ok("search", search.clone()) else {
            panic!()
        };
        let mut truncated = r.send(&search, &arigate_sim::Scenario::Ok);
        truncated.body.truncate(truncated.body.len() / 2);
        r.save("sim-err-search-truncated", &search, &truncated);
        r.error_kinds(&search);
        r.ok(
            "content",
            Call::Content {
                hotels: codes[..2].to_vec(),
            },
        );
        let offers: Vec<_> = hotels.iter().flat_map(|h| h.offers.iter()).collect();
        let offer = offers
            .iter()
            .find(|o| o.refundable)
            .or(offers.first())
            .map(|o| o.key.clone())
            .unwrap();
        let recheck = Call::Recheck {
            offer: offer.clone(),
        };
        r.ok("recheck", recheck.clone());
        r.ok_with(
            "recheck-price-up",
            recheck.clone(),
            arigate_sim::Scenario::PriceUp(10.into()),
        );
        r.err(
            "recheck-sold-out",
            &recheck,
            arigate_sim::Scenario::SoldOutAtRecheck,
        );
        let book = BookInput {
            guests: vec![Guest {
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
            }],
            client_reference: "AGFUZZSEED000001".into(),
            email: "bookings@demo-agency.example".into(),
            phone: "+33 155501234".into(),
        };
        let prepared = match r.connector.book_prelude(&offer) {
            BookPrelude::None => None,
            BookPrelude::Prepare => match r.ok(
                "prepare",
                Call::Prepare {
                    offer: offer.clone(),
                    book: book.clone(),
                },
            ) {
                Reply::Prepared { prepared } => Some(prepared),
                other => panic!("{other:?}"),
            },
        };
        let book_call = Call::Book {
            offer: offer.clone(),
            book: book.clone(),
            prepared,
        };
        r.err(
            "book-sold-out",
            &book_call,
            arigate_sim::Scenario::SoldOutAtBook,
        );
        let Reply::Booking {
            booking: Some(info),
        } = r.ok("book", book_call)
        else {
            panic!()
        };
        r.ok(
            "retrieve",
            Call::Retrieve {
                booking: info.key.clone(),
            },
        );
        r.ok(
            "find",
            Call::Find {
                client_reference: book.client_reference.clone(),
                offer: offer.clone(),
                email: book.email.clone(),
            },
        );
        let mut key = info.key.clone();
        if r.connector.cancel_prelude() == CancelPrelude::Retrieve {
            if let Reply::Booking { booking: Some(b) } = r.ok(
                "retrieve",
                Call::Retrieve {
                    booking: key.clone(),
                },
            ) {
                key = b.key;
            }
        }
        let confirm = if r.connector.cancel_prelude() == CancelPrelude::Quote {
            match r.ok(
                "cancel-quote",
                Call::CancelQuote {
                    booking: key.clone(),
                },
            ) {
                Reply::CancelQuote { quote } => Some(quote.confirm),
                other => panic!("{other:?}"),
            }
        } else {
            None
        };
        r.ok(
            "cancel",
            Call::Cancel {
                booking: key,
                confirm,
            },
        );
        let calls = serde_json::to_string_pretty(&r.calls).unwrap();
        let dir = fuzz_dir().join("calls");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{}.json", target(p))), calls + "\n").unwrap();
    }
}
