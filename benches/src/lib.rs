//! Shared fixtures of the criterion benches: realistic supplier answers produced by the
//! simulators' own handlers (written from the protocol specs, not from the connectors).

use arigate_connectors::{
    connector_for, AuthMode, Call, CallContext, Connector, Credentials, Occupancy, Reply,
    SearchQuery, Stay, WireRequest, WireResponse,
};
use arigate_sim::catalog::Catalog;
use arigate_sim::world::World;
use arigate_sim::{supplier_for, Scenario, SimOptions, SimRequest, SimState, Supplier};

fn to_sim(req: &WireRequest) -> SimRequest {
    let (path, raw_query) = req
        .path
        .split_once('?')
        .map(|(p, q)| (p.to_string(), q.to_string()))
        .unwrap_or((req.path.clone(), String::new()));
    let query = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let d = |s: &str| percent_decode(s);
            (d(k), d(v))
        })
        .collect();
    let mut headers = req.headers.clone();
    headers.push(("host".into(), "127.0.0.1:9".into()));
    SimRequest {
        method: req.method.as_str().to_string(),
        path,
        query,
        raw_query,
        headers,
        body: req.body.clone(),
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// `connector`'s request for `call`, answered by the simulator's own handler.
fn ask(
    sim: &dyn Supplier,
    state: &SimState,
    connector: &dyn Connector,
    call: &Call,
    bearer: Option<&str>,
) -> WireResponse {
    let op = call.op();
    let req = connector
        .build(call, &cx(bearer))
        .unwrap_or_else(|e| panic!("{op} request: {e:?}"));
    let sreq = to_sim(&req);
    let route = sim
        .route(&sreq)
        .unwrap_or_else(|| panic!("no simulator route for the {op} request"));
    let resp = sim.handle(state, &route, &sreq, &Scenario::Ok);
    WireResponse {
        status: resp.status,
        headers: resp.headers,
        body: resp.body,
    }
}

/// A connector with a 100-hotel search and the simulator's answer to it.
pub struct Case {
    pub protocol: &'static str,
    pub connector: Box<dyn Connector>,
    pub call: Call,
    pub bearer: Option<String>,
    pub response: WireResponse,
    /// A re-check of the answer's first offer and the simulator's answer to it.
    pub recheck: (Call, WireResponse),
}

/// The call context the benches sign with.
pub fn cx<'a>(bearer: Option<&'a str>) -> CallContext<'a> {
    CallContext {
        now: chrono::Utc::now().timestamp(),
        nonce: "bench-nonce",
        base_url: "http://127.0.0.1:9",
        bearer,
        customer_ip: "127.0.0.1",
    }
}

/// The 100-hotel search case of `protocol` (Dida: 50, its limit).
pub fn case(world: &World, protocol: &'static str) -> Case {
    let catalog = Catalog::new(world, protocol).expect("catalog");
    let max = if protocol == "dida" { 50 } else { 100 };
    let hotels = catalog
        .hotels
        .iter()
        .take(max)
        .map(|h| h.code.clone())
        .collect();
    search_case(world, protocol, hotels, 30)
}

/// A search of `protocol` for its hotel codes `hotels`, `days_ahead` days from today for two
/// nights, two adults, EUR, with the simulator's answer to it.
pub fn search_case(
    world: &World,
    protocol: &'static str,
    hotels: Vec<String>,
    days_ahead: i64,
) -> Case {
    let opts = SimOptions::defaults(protocol);
    let creds = Credentials {
        key: opts.key.clone(),
        secret: opts.secret.clone(),
        account: Some("ARIGATE".into()),
        mode: AuthMode::Native,
    };
    let connector = connector_for(
        arigate_connectors::Protocol::parse(protocol).expect("protocol"),
        creds,
    );
    let catalog = Catalog::new(world, protocol).expect("catalog");
    let state = SimState::new(opts, catalog, world.clone());
    let sim = supplier_for(protocol).expect("simulator");
    let checkin = chrono::Utc::now().date_naive() + chrono::Duration::days(days_ahead);
    let query = SearchQuery {
        stay: Stay {
            checkin,
            checkout: checkin + chrono::Duration::days(2),
        },
        rooms: vec![Occupancy {
            adults: 2,
            children_ages: vec![],
        }],
        hotels,
        currency: "EUR".into(),
        nationality: "GB".into(),
    };
    let mut bearer = None;
    if connector.needs_bearer() {
        let resp = ask(&*sim, &state, &*connector, &Call::Token, None);
        if let Ok(Reply::Token { access_token, .. }) = connector.parse(&Call::Token, &resp) {
            bearer = Some(access_token);
        }
    }
    let call = Call::Search { query };
    let response = ask(&*sim, &state, &*connector, &call, bearer.as_deref());
    let offer = match connector.parse(&call, &response) {
        Ok(Reply::Search { hotels }) => hotels
            .iter()
            .flat_map(|h| h.offers.iter())
            .next()
            .map(|o| o.key.clone())
            .unwrap_or_else(|| panic!("{protocol}: no offer in the bench response")),
        other => panic!("{protocol}: the bench response does not parse: {other:?}"),
    };
    let recheck_call = Call::Recheck { offer };
    let recheck_response = ask(&*sim, &state, &*connector, &recheck_call, bearer.as_deref());
    match connector.parse(&recheck_call, &recheck_response) {
        Ok(Reply::Recheck { .. }) => {}
        other => panic!("{protocol}: the re-check answer does not parse: {other:?}"),
    }
    Case {
        protocol,
        connector,
        call,
        bearer,
        response,
        recheck: (recheck_call, recheck_response),
    }
}
