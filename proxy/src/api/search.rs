//! `POST /v1/search`: validate, fan out one leg per eligible supplier under per-supplier timeouts
//! and one overall deadline, merge what arrived by unified hotel, prices in the agent's currency.

use super::answers::{self, Answer, CachedLeg, Lookup};
use super::search_memo::Memo;
use super::ApiResponse;
use crate::app::{App, SupplierRuntime};
use crate::cache::{entry_id, CacheStatus};
use crate::errors::ApiError;
use crate::legs::{cache_key, LegCache, LegResult};
use crate::supplier_calls::{call_supplier, spawn_refresh, CallOptions};
use crate::traces::RequestTrace;
use arigate_connectors::normalize::{format_minor, offer_terms};
use arigate_connectors::{Board, Call, ErrorClass, HotelOffers, Reply, SearchQuery, SupplierOffer};
use arigate_filters::agent_auth::Agent;
use arigate_filters::agent_input;
use arigate_filters::cache_policy::browse_ttl;
use arigate_filters::rooms::{group_rooms, RoomInput};
use arigate_filters::tokens::OfferClaims;
use arigate_telemetry::{EventType, SpanStatus};
use bytes::Bytes;
use pingora_proxy::Session;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;
use std::time::{Duration, Instant};

/// One supplier's part of the answer.
struct SupplierLeg {
    code: String,
    status: &'static str,
    latency_ms: u128,
    result: Option<Vec<HotelOffers>>,
    error: Option<String>,
    /// The supplier's hotel codes asked for.
    hotels: Vec<String>,
    cache: CacheStatus,
    age: Duration,
    fresh_for: Option<Duration>,
}

pub async fn handle(
    app: &App,
    session: &Session,
    agent: &Agent,
    body: &[u8],
    trace: &RequestTrace,
) -> Result<ApiResponse, ApiError> {
    let started = Instant::now();
    let trace_id = trace.trace_id.as_str();
    let memo = app.search_memo.search(
        &app.config,
        &agent.id,
        body,
        chrono::Utc::now().date_naive(),
    )?;
    let search = &memo.search;
    let deadline = started + app.config.search.deadline;
    let now = chrono::Utc::now();
    let sys_now = SystemTime::now();
    for id in &search.hotels {
        app.cache.hotness.record(id, sys_now);
    }
    let answer_key = &memo.answer_key;
    // Purges by key (here or on another node) since this count make answers stale.
    let key_purges = answers::key_purges();
    if let Lookup::Hit(answer) =
        app.answers
            .get(answer_key, sys_now, &app.cache.invalidations, key_purges)
    {
        // With the cluster's invalidation feed down, as old as a leg may be served, no older.
        if app.cache.trusted_age(answer.data_age(sys_now)) {
            // After the answer's first hit, its root span stands for this one's: nothing is
            // added to the root here (see `Traces::record_request`).
            let templated = answer.spans.root.get().is_some_and(|t| trace.is_like(t));
            if !templated {
                annotate_search(trace, &memo);
            }
            return Ok(cached_answer(app, trace, &answer, templated));
        }
    }
    annotate_search(trace, &memo);
    let customer_ip = super::client_ip(session);
    // The hottest hotel of the request decides: its data is the one that moves fastest.
    let hotness = search
        .hotels
        .iter()
        .map(|id| app.cache.hotness.hotness(id, sys_now))
        .fold(0.0, f64::max);

    let mut skipped = Vec::new();
    let mut legs = Vec::new();
    // The unified hotel ids of each leg, in the order of `legs`.
    let mut legs_unified = Vec::new();
    for supplier in &app.suppliers {
        if !app.agent_may_use(agent, supplier)
            || search
                .suppliers
                .as_ref()
                .is_some_and(|s| !s.iter().any(|c| c == supplier.code()))
        {
            continue;
        }
        let mut unified = Vec::new();
        let mut codes: Vec<String> = search
            .hotels
            .iter()
            .filter_map(|id| {
                let code = app
                    .config
                    .mapping
                    .hotel(id)
                    .and_then(|h| h.codes.get(supplier.code()).cloned())?;
                unified.push(id.clone());
                Some(code)
            })
            .collect();
        // Sorted, so the same hotels in another order share one cache entry.
        codes.sort();
        codes.dedup();
        let has_webhooks = !supplier.config.webhook_secrets.is_empty();
        let cache = browse_ttl(
            &app.ttl_policy,
            search.stay.checkin,
            now,
            hotness,
            has_webhooks,
        )
        .map(|ttl| LegCache {
            ttl,
            hotels: codes.clone(),
            refresh: false,
        });
        let query = SearchQuery {
            stay: search.stay,
            rooms: search.rooms.clone(),
            hotels: codes,
            currency: search.currency.clone(),
            nationality: search.nationality.clone(),
        };
        if query.hotels.is_empty() || !supplier.connector.supports(&query) {
            skipped.push(supplier.code().to_string());
            continue;
        }
        legs_unified.push(unified.clone());
        legs.push(run_leg(
            app,
            session,
            supplier.clone(),
            query,
            deadline,
            hotness,
            CallOptions {
                timeout: Duration::ZERO,
                customer_ip: &customer_ip,
                max_response_bytes: app.config.max_supplier_response_bytes,
                cache,
                trace: trace.leg(unified),
            },
        ));
    }
    // Every leg is polled concurrently on this task: they borrow the agent's session.
    let results = futures::future::join_all(legs).await;
    let mut merge_span = trace.child(EventType::Merge);

    let mut suppliers_json = Vec::new();
    let mut cached_legs = Vec::new();
    let mut complete = true;
    let exp = chrono::Utc::now().timestamp() + app.config.tokens.offer_ttl.as_secs() as i64;
    let inputs: Vec<LegOffers> = results
        .iter()
        .map(|l| LegOffers {
            code: &l.code,
            hotels: l.result.as_deref().unwrap_or_default(),
        })
        .collect();
    let merged = merge(app, search, &inputs, trace_id, now, exp);
    for ((leg, &offers), unified) in results.iter().zip(&merged.offers_per_leg).zip(legs_unified) {
        if leg.status != "ok" {
            complete = false;
        }
        let mut s = json!({
            "code": leg.code,
            "status": leg.status,
            "latency_ms": leg.latency_ms,
            "offers": offers,
            "cached": matches!(leg.cache, CacheStatus::Hit | CacheStatus::Stale),
            "cache": leg.cache.as_str(),
            "age_s": leg.age.as_secs(),
        });
        if let Some(e) = &leg.error {
            s["error"] = json!(e);
        }
        suppliers_json.push(s);
        cached_legs.push(CachedLeg {
            code: leg.code.clone(),
            hotels: leg.hotels.clone(),
            unified,
            offers,
            age: leg.age,
        });
    }
    let skipped_codes = skipped.clone();
    for code in skipped {
        suppliers_json.push(json!({"code": code, "status": "skipped", "latency_ms": 0, "offers": 0, "cached": false, "age_s": 0}));
    }

    let answered: Vec<&SupplierLeg> = results.iter().filter(|l| l.status == "ok").collect();
    let cached = answered
        .iter()
        .filter(|l| matches!(l.cache, CacheStatus::Hit | CacheStatus::Stale))
        .count();
    let overall = if answered.iter().all(|l| l.cache == CacheStatus::Bypass) {
        "bypass"
    } else if cached == answered.len() {
        "hit"
    } else if cached == 0 {
        "miss"
    } else {
        "partial"
    };
    let oldest = answered.iter().map(|l| l.age).max().unwrap_or_default();
    let as_of = now - chrono::Duration::from_std(oldest).unwrap_or_default();
    // Downstream caches may keep the answer no longer than its least fresh part.
    let cache_control = match answered.iter().filter_map(|l| l.fresh_for).min() {
        Some(f) if overall != "bypass" && !f.is_zero() => {
            format!("private, max-age={}", f.as_secs())
        }
        _ => "private, no-store".to_string(),
    };
    let offers_total = merged.offers();
    merge_span = merge_span
        .with_attr("hotels", merged.hotels.len().to_string())
        .with_attr("offers", offers_total.to_string())
        .with_attr("legs", results.len().to_string());
    merge_span.finish(SpanStatus::Success);
    app.traces.record(merge_span);
    trace.annotate(|s| {
        s.attributes.insert("complete".into(), complete.to_string());
        s.attributes.insert("cache".into(), overall.into());
        s.attributes
            .insert("offers".into(), offers_total.to_string());
        let legs: Vec<String> = suppliers_json
            .iter()
            .map(|l| {
                format!(
                    "{}={}",
                    l["code"].as_str().unwrap_or(""),
                    l["status"].as_str().unwrap_or("")
                )
            })
            .collect();
        s.attributes.insert("suppliers".into(), legs.join(","));
    });
    let as_of = as_of.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let head = json!({
        "trace_id": trace_id,
        "reference_only": true,
        "as_of": as_of,
        "complete": complete,
        "cache": overall,
        "currency_rates_as_of": app.config.currency.as_of.to_string(),
        "suppliers": suppliers_json,
    });
    let tail = Bytes::from(Answer::tail_of(&merged.render()));
    let body = with_tail(&head, &tail);
    drop(merged);
    // Kept whole only when complete and every leg is fresh data that may be cached.
    let cacheable = complete
        && results
            .iter()
            .all(|l| matches!(l.cache, CacheStatus::Hit | CacheStatus::Miss));
    // Until the least fresh leg expires, or enters its refresh-ahead window: from then on the
    // search goes through the legs again, so a hot entry's hit can start its refresh.
    let refresh = &app.config.cache.refresh_ahead;
    let fresh = results
        .iter()
        .map(|l| {
            let f = l.fresh_for.unwrap_or_default();
            if refresh.enabled {
                f.saturating_sub((l.age + f).mul_f64(refresh.before_expiry.clamp(0.0, 1.0)))
            } else {
                f
            }
        })
        .min()
        .unwrap_or_default();
    if cacheable && !fresh.is_zero() {
        // Offer tokens end in this response's context (this search's trace id): every hit
        // serves them as they are, so a booking from a hit traces back to this search.
        let spans = Arc::new(arigate_telemetry::AnswerLegs::new(
            trace_id,
            "search",
            cached_legs
                .iter()
                .map(|l| arigate_telemetry::HitLeg {
                    supplier: l.code.clone(),
                    hotels: l.unified.clone(),
                    offers: l.offers.to_string(),
                })
                .collect(),
        ));
        let suppliers_attr = cached_legs
            .iter()
            .map(|l| format!("{}=ok", l.code))
            .chain(skipped_codes.iter().map(|c| format!("{c}=skipped")))
            .collect::<Vec<_>>()
            .join(",");
        let offers_attr = cached_legs
            .iter()
            .map(|l| l.offers)
            .sum::<usize>()
            .to_string();
        app.answers.put(
            answer_key.clone(),
            Answer {
                tail,
                spans,
                offers_attr,
                suppliers_attr,
                legs: cached_legs,
                skipped: skipped_codes,
                created: sys_now,
                key_purges,
                fresh_until: SystemTime::now() + fresh,
                as_of,
            },
            SystemTime::now(),
        );
    }
    Ok(ApiResponse {
        tail: Bytes::new(),
        status: 200,
        body,
        headers: Vec::new(),
    }
    .header("x-arigate-complete", complete.to_string())
    .header("x-arigate-cache", overall)
    .header("cache-control", cache_control))
}

/// One supplier's offers as they enter the merge.
pub struct LegOffers<'a> {
    pub code: &'a str,
    pub hotels: &'a [HotelOffers],
}

/// The merged hotels of a search, and how many offers each leg contributed.
pub struct Merged<'a> {
    pub hotels: Vec<HotelOut<'a>>,
    pub offers_per_leg: Vec<usize>,
}

impl Merged<'_> {
    /// The hotels as a JSON array, as agents get them.
    pub fn render(&self) -> Vec<u8> {
        // About 1 kB per offer: one allocation for most answers.
        let mut out = Vec::with_capacity(1024 * self.offers_per_leg.iter().sum::<usize>() + 64);
        if serde_json::to_writer(&mut out, &self.hotels).is_err() {
            return b"[]".to_vec();
        }
        out
    }

    /// Offers in all hotels and rooms.
    pub fn offers(&self) -> usize {
        self.hotels
            .iter()
            .flat_map(|h| &h.rooms)
            .map(|r| r.offers.len())
            .sum()
    }
}

// The answer's objects, typed. Members are declared in alphabetical order: the order a
// `serde_json::Value` object renders them in, and the order agents have always seen.

/// One hotel of the answer.
#[derive(Debug, Serialize)]
pub struct HotelOut<'a> {
    pub hotel_id: &'a str,
    pub min_price: MinPrice<'a>,
    pub name: String,
    pub rooms: Vec<RoomOut<'a>>,
}

/// The cheapest comparison price of a hotel.
#[derive(Debug, Serialize)]
pub struct MinPrice<'a> {
    pub amount: Option<String>,
    pub currency: &'a str,
}

/// One real room of a hotel: the suppliers' offers for it, cheapest first.
#[derive(Debug, Serialize)]
pub struct RoomOut<'a> {
    pub name: String,
    pub offers: Vec<OfferOut<'a>>,
    pub room_key: String,
}

/// An amount in a currency, rounded to its minor units.
#[derive(Debug, Serialize)]
pub struct Shown<'a> {
    pub amount: String,
    pub currency: &'a str,
}

/// An offer's price.
#[derive(Debug, Serialize)]
pub struct PriceOut<'a> {
    pub amount: String,
    pub currency: &'a str,
    pub taxes_included: bool,
}

/// A charge payable at the hotel: in the agent's currency, and as the supplier stated it.
#[derive(Debug, Serialize)]
pub struct FeeOut<'a> {
    pub amount: Shown<'a>,
    pub name: String,
    pub payable: Stated,
}

/// An amount as the supplier stated it.
#[derive(Debug, Serialize)]
pub struct Stated {
    pub amount: String,
    pub currency: String,
}

/// From `from` on, cancelling costs `amount`.
#[derive(Debug, Serialize)]
pub struct PenaltyOut<'a> {
    pub amount: String,
    pub currency: &'a str,
    pub from: String,
}

/// An offer's cancellation terms.
#[derive(Debug, Serialize)]
pub struct CancellationOut<'a> {
    pub free_until: Option<String>,
    pub penalties: Vec<PenaltyOut<'a>>,
}

/// One offer as agents see it (see [`offer_out`]).
#[derive(Debug, Serialize)]
pub struct OfferOut<'a> {
    pub board: Board,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_deadline: Option<String>,
    pub cancellation: CancellationOut<'a>,
    pub comparison_price: Shown<'a>,
    pub offer_id: String,
    pub pay_at_hotel: Vec<FeeOut<'a>>,
    pub pay_at_hotel_listed: bool,
    pub price: PriceOut<'a>,
    pub rate_name: &'a str,
    pub refundable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rooms_left: Option<u32>,
    pub supplier: &'a str,
    pub supplier_room_name: &'a str,
    /// The supplier's room code (it decides the room row, agents do not see it).
    #[serde(skip)]
    pub room_code: &'a str,
    /// The comparison price at full precision: offers are ordered by it.
    #[serde(skip)]
    pub sort: Decimal,
}

/// Merges the legs' offers by unified hotel, in the order the search asked: every offer priced in
/// the agent's currency and given a signed `offer_id` (naming `trace_id`, valid until `exp`),
/// offers ordered by comparison price, one row per real room. Pure but for the clock in `now`.
pub fn merge<'a>(
    app: &App,
    search: &'a agent_input::ValidSearch,
    legs: &[LegOffers<'a>],
    trace_id: &str,
    now: chrono::DateTime<chrono::Utc>,
    exp: i64,
) -> Merged<'a> {
    let currency = search.currency.as_str();
    let mut hotels: HashMap<&str, Vec<OfferOut<'a>>> = HashMap::new();
    let mut offers_per_leg = Vec::with_capacity(legs.len());
    // Every token: its offer's signed base (naming this search) and this response's context.
    let context = app.tokens.offer_context(trace_id, trace_id, exp);
    for leg in legs {
        let mut offers = 0usize;
        for ho in leg.hotels {
            let Some(unified) = app
                .config
                .mapping
                .by_supplier_code(leg.code, &ho.hotel_code)
            else {
                continue;
            };
            for o in &ho.offers {
                let Some(mut offer) = offer_out(app, currency, unified, leg.code, o, now) else {
                    continue;
                };
                let claims = OfferClaims {
                    supplier: leg.code.to_string(),
                    hotel_id: unified.id.clone(),
                    key: o.key.clone(),
                    trace_id: trace_id.to_string(),
                    exp,
                    currency: search.currency.clone(),
                    recheck_trace_id: None,
                };
                offer.offer_id = app.tokens.sign_offer(&claims);
                offer.offer_id.push_str(&context);
                hotels.entry(unified.id.as_str()).or_default().push(offer);
                offers += 1;
            }
        }
        offers_per_leg.push(offers);
    }
    let hotels = search
        .hotels
        .iter()
        .filter_map(|id| {
            let offers = hotels.remove(id.as_str())?;
            let name = app
                .config
                .mapping
                .hotel(id)
                .map(|h| h.name.clone())
                .unwrap_or_default();
            Some(hotel_out(id, name, currency, offers))
        })
        .collect();
    Merged {
        hotels,
        offers_per_leg,
    }
}

/// One hotel's offers, cheapest first, in one row per real room: the suppliers' rooms grouped by
/// `filters::rooms` (a wrong merge is worse than a missed one, so only rooms known to be the same
/// share a row); rows follow their cheapest offer.
fn hotel_out<'a>(
    id: &'a str,
    name: String,
    currency: &'a str,
    mut offers: Vec<OfferOut<'a>>,
) -> HotelOut<'a> {
    // The comparison price (taxes and charges at the hotel included) decides the order (stable).
    offers.sort_by_key(|o| o.sort);
    let min_price = offers.first().map(|o| o.comparison_price.amount.clone());
    // Each (supplier, room code) once, in the order of the offers: the grouping's input.
    let mut inputs: Vec<RoomInput> = Vec::new();
    let mut index_of: HashMap<(&str, &str), usize> = HashMap::new();
    let mut room_of = Vec::with_capacity(offers.len());
    for o in &offers {
        let i = *index_of
            .entry((o.supplier, o.room_code))
            .or_insert_with(|| {
                inputs.push(RoomInput::new(
                    Some(o.supplier),
                    o.supplier_room_name,
                    Some(o.room_code),
                ));
                inputs.len() - 1
            });
        room_of.push(i);
    }
    let groups = group_rooms(&inputs);
    let mut group_of = vec![0usize; inputs.len()];
    for (g, group) in groups.iter().enumerate() {
        for m in &group.members {
            if let Some(slot) = group_of.get_mut(*m) {
                *slot = g;
            }
        }
    }
    let mut rows: Vec<Vec<OfferOut<'a>>> = (0..groups.len()).map(|_| Vec::new()).collect();
    for (o, i) in offers.into_iter().zip(room_of) {
        let g = group_of.get(i).copied().unwrap_or(0);
        if let Some(row) = rows.get_mut(g) {
            row.push(o);
        }
    }
    // Offers were sorted by price, so each row's first offer is its cheapest: rows follow it, by
    // the price as shown.
    let mut rooms: Vec<RoomOut<'a>> = groups
        .into_iter()
        .zip(rows)
        .filter(|(_, o)| !o.is_empty())
        .map(|(g, offers)| RoomOut {
            name: g.name,
            offers,
            room_key: g.room_key,
        })
        .collect();
    rooms.sort_by_cached_key(|r| {
        r.offers
            .first()
            .and_then(|o| o.comparison_price.amount.parse::<Decimal>().ok())
            .unwrap_or(Decimal::MAX)
    });
    HotelOut {
        hotel_id: id,
        min_price: MinPrice {
            amount: min_price,
            currency,
        },
        name,
        rooms,
    }
}

/// The answer object: `head`'s members, then the `tail` (`"hotels":[…]}`, see [`Answer::tail_of`]).
fn with_tail(head: &Value, tail: &[u8]) -> Vec<u8> {
    let mut out = serde_json::to_vec(head).unwrap_or_else(|_| b"{}".to_vec());
    out.reserve(tail.len() + 1);
    if out.pop() == Some(b'}') {
        if out.len() > 1 {
            out.push(b',');
        }
        out.extend_from_slice(tail);
    }
    out
}

/// `s` as a JSON string literal.
fn push_json_str(out: &mut String, s: &str) {
    // Ids, codes and timestamps need no escaping: copied as they are, no allocation.
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
    match serde_json::to_string(s) {
        Ok(q) => out.push_str(&q),
        Err(_) => out.push_str("\"\""),
    }
}

/// What the root span of a search says about it.
fn annotate_search(trace: &RequestTrace, memo: &Memo) {
    trace.annotate(|s| {
        s.hotel_ids.extend(memo.search.hotels.iter().cloned());
        s.attributes.insert("stay".into(), memo.stay_attr.clone());
        s.attributes.insert("rooms".into(), memo.rooms_attr.clone());
        s.attributes
            .insert("currency".into(), memo.search.currency.clone());
    });
}

/// A search answered from [`answers`]: a small head with this request's trace id and the legs'
/// ages as of now, then the stored hotels as they are (shared bytes, no copy; their offer tokens
/// name the search that made the answer, valid for the answer's life). Every leg counts as a
/// cache hit: a lookup metric and a `cache_hit` span each, as when the legs hit one by one, the
/// spans handed to the writer as one value built once per answer. `templated`: the root span
/// is the answer's template (nothing is added to it).
fn cached_answer(app: &App, trace: &RequestTrace, answer: &Answer, templated: bool) -> ApiResponse {
    use std::fmt::Write as _;
    let now = SystemTime::now();
    let since = now.duration_since(answer.created).unwrap_or_default();
    let mut head = String::with_capacity(256 + 128 * (answer.legs.len() + answer.skipped.len()));
    head.push_str("{\"trace_id\":");
    push_json_str(&mut head, &trace.trace_id);
    head.push_str(",\"reference_only\":true,\"as_of\":");
    push_json_str(&mut head, &answer.as_of);
    let _ = write!(
        head,
        ",\"complete\":true,\"cache\":\"hit\",\"currency_rates_as_of\":\"{}\",\"suppliers\":[",
        app.config.currency.as_of
    );
    app.cache
        .lookups
        .count_n(CacheStatus::Hit, answer.legs.len() as u64);
    crate::metrics::cache_lookups("search", CacheStatus::Hit, answer.legs.len() as u64);
    trace.set_hit(&answer.spans, templated);
    for (i, l) in answer.legs.iter().enumerate() {
        if i > 0 {
            head.push(',');
        }
        head.push_str("{\"code\":");
        push_json_str(&mut head, &l.code);
        let _ = write!(
            head,
            ",\"status\":\"ok\",\"latency_ms\":0,\"offers\":{},\"cached\":true,\"cache\":\"hit\",\"age_s\":{}}}",
            l.offers,
            (l.age + since).as_secs()
        );
    }
    for (i, code) in answer.skipped.iter().enumerate() {
        if i > 0 || !answer.legs.is_empty() {
            head.push(',');
        }
        head.push_str("{\"code\":");
        push_json_str(&mut head, code);
        head.push_str(
            ",\"status\":\"skipped\",\"latency_ms\":0,\"offers\":0,\"cached\":false,\"age_s\":0}",
        );
    }
    head.push_str("],");
    if !templated {
        trace.annotate(|s| {
            s.attributes.insert("complete".into(), "true".into());
            s.attributes.insert("cache".into(), "hit".into());
            s.attributes
                .insert("offers".into(), answer.offers_attr.clone());
            // The offers' tokens name the search that made the answer: its trace has the legs.
            s.attributes
                .insert("answer_of".into(), answer.spans.answer_of.clone());
            s.attributes
                .insert("suppliers".into(), answer.suppliers_attr.clone());
        });
    }
    let fresh_for = answer
        .fresh_until
        .duration_since(now)
        .unwrap_or_default()
        .as_secs();
    ApiResponse {
        status: 200,
        body: head.into_bytes(),
        tail: answer.tail.clone(),
        headers: Vec::new(),
    }
    .header("x-arigate-complete", "true")
    .header("x-arigate-cache", "hit")
    .header("cache-control", format!("private, max-age={fresh_for}"))
}

/// One offer as agents see it (`offer_id` is the caller's to fill in): every amount in the
/// requested currency at full precision until it is shown, rounded once to the currency's minor
/// units; the comparison price adds what is payable at the hotel; cancellation deadlines on the
/// UTC timeline in the hotel's zone ([`arigate_connectors::normalize`]). `None` when an amount is
/// in a currency the configured table cannot convert.
fn offer_out<'a>(
    app: &App,
    currency: &'a str,
    hotel: &arigate_config::MappedHotel,
    supplier: &'a str,
    o: &'a SupplierOffer,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<OfferOut<'a>> {
    let convert = |amount: Decimal, from: &str| app.config.currency.convert(amount, from, currency);
    let terms = offer_terms(o, &convert, hotel.time_zone, now)?;
    let shown = |a: Decimal| Shown {
        amount: format_minor(a, currency),
        currency,
    };
    let instant =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let pay_at_hotel = terms
        .pay_at_hotel
        .into_iter()
        .map(|f| FeeOut {
            amount: shown(f.amount),
            name: f.name,
            payable: Stated {
                amount: format_minor(f.stated.amount, &f.stated.currency),
                currency: f.stated.currency,
            },
        })
        .collect();
    let penalties = terms
        .cancellation
        .penalties
        .iter()
        .map(|p| PenaltyOut {
            amount: format_minor(p.amount, currency),
            currency,
            from: instant(p.from),
        })
        .collect();
    let free_until = terms.cancellation.free_until.map(instant);
    Some(OfferOut {
        board: o.board,
        cancel_deadline: free_until.clone(),
        cancellation: CancellationOut {
            free_until,
            penalties,
        },
        comparison_price: shown(terms.comparison),
        offer_id: String::new(),
        pay_at_hotel,
        pay_at_hotel_listed: terms.pay_at_hotel_listed,
        price: PriceOut {
            amount: format_minor(terms.price, currency),
            currency,
            taxes_included: terms.taxes_included,
        },
        rate_name: &o.rate_name,
        refundable: o.refundable,
        rooms_left: o.allotment,
        supplier,
        supplier_room_name: &o.room_name,
        room_code: &o.room_code,
        sort: terms.comparison,
    })
}

/// Runs one search leg; `opts.timeout` is replaced by the supplier's timeout within `deadline`.
/// A hot hotel's entry close to expiry is then refreshed in the background (`cache::refresh`).
async fn run_leg(
    app: &App,
    session: &Session,
    supplier: Arc<SupplierRuntime>,
    query: SearchQuery,
    deadline: Instant,
    hotness: f64,
    mut opts: CallOptions<'_>,
) -> SupplierLeg {
    let remaining = deadline.saturating_duration_since(Instant::now());
    opts.timeout = supplier
        .config
        .timeout
        .min(remaining)
        .max(Duration::from_millis(1));
    let code = supplier.code().to_string();
    let (leg_cache, customer_ip) = (opts.cache.clone(), opts.customer_ip);
    let hotels = query.hotels.clone();
    let LegResult {
        reply,
        latency,
        cache,
        age,
        fresh_for,
    } = call_supplier(
        app,
        session,
        &supplier,
        Call::Search {
            query: query.clone(),
        },
        opts,
    )
    .await;
    if let (CacheStatus::Hit, Some(c), Some(fresh_for)) = (cache, leg_cache, fresh_for) {
        let call = Call::Search { query };
        let key = entry_id(&cache_key(supplier.code(), &call));
        let min_interval = supplier.config.min_pull_interval;
        if app
            .cache
            .refresh
            .due(&key, hotness, age, fresh_for, min_interval)
        {
            spawn_refresh(
                session,
                &supplier,
                call,
                customer_ip,
                app.config.max_supplier_response_bytes,
                c,
            );
        }
    }
    let (status, result, error) = match reply {
        Ok(Reply::Search { hotels }) => ("ok", Some(hotels), None),
        Ok(_) => (
            "error",
            None,
            Some("unexpected reply to a search".to_string()),
        ),
        Err(e) if e.class == ErrorClass::SupplierTimeout => {
            ("timeout", None, Some(e.class.to_string()))
        }
        Err(e) if e.code == crate::supplier_calls::CIRCUIT_OPEN => {
            ("circuit_open", None, Some(e.message))
        }
        Err(e) if e.code == crate::supplier_calls::CONCURRENCY_LIMITED => {
            ("error", None, Some(e.code))
        }
        Err(e) if e.code == crate::supplier_calls::RATE_CAPPED => ("skipped", None, Some(e.code)),
        Err(e) => ("error", None, Some(e.class.to_string())),
    };
    SupplierLeg {
        code,
        status,
        latency_ms: latency.as_millis(),
        result,
        error,
        hotels,
        cache,
        age,
        fresh_for,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_what_serde_writes() {
        for s in [
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "hotelbeds",
            "2026-12-07T10:00:00.000Z",
            "",
            "a\"b",
            "back\\slash",
            "tab\there",
            "nul\u{0}",
            "ünï €",
            "\u{7f}",
        ] {
            let mut out = String::from("x");
            push_json_str(&mut out, s);
            assert_eq!(
                out,
                format!("x{}", serde_json::to_string(s).unwrap()),
                "{s:?}"
            );
        }
    }

    fn offer(optional: bool) -> OfferOut<'static> {
        let shown = |a: &str| Shown {
            amount: a.into(),
            currency: "EUR",
        };
        OfferOut {
            board: Board::Breakfast,
            cancel_deadline: optional.then(|| "2027-01-10T12:00:00Z".to_string()),
            cancellation: CancellationOut {
                free_until: optional.then(|| "2027-01-10T12:00:00Z".to_string()),
                penalties: vec![PenaltyOut {
                    amount: "10.00".into(),
                    currency: "EUR",
                    from: "2027-01-10T12:00:00Z".into(),
                }],
            },
            comparison_price: shown("110.00"),
            offer_id: "of_x.y".into(),
            pay_at_hotel: vec![FeeOut {
                amount: shown("10.00"),
                name: "City tax".into(),
                payable: Stated {
                    amount: "11.00".into(),
                    currency: "USD".into(),
                },
            }],
            pay_at_hotel_listed: true,
            price: PriceOut {
                amount: "100.00".into(),
                currency: "EUR",
                taxes_included: true,
            },
            rate_name: "Flexible \"BB\"",
            refundable: optional,
            rooms_left: optional.then_some(3),
            supplier: "hotelbeds",
            supplier_room_name: "Double Room",
            room_code: "DBL.ST",
            sort: Decimal::new(11000, 2),
        }
    }

    /// The typed answer renders as the `serde_json::Value` answer did: the same members, every
    /// object's members in alphabetical order (a `Value` object's order), absent optional members
    /// left out and the free-cancellation deadline `null` when there is none.
    #[test]
    fn typed_hotels_render_like_value_objects() {
        for optional in [true, false] {
            let hotel = HotelOut {
                hotel_id: "ARG-LIS-0001",
                min_price: MinPrice {
                    amount: Some("110.00".into()),
                    currency: "EUR",
                },
                name: "Bridge Heights Inn".into(),
                rooms: vec![RoomOut {
                    name: "Double Room".into(),
                    offers: vec![offer(optional), offer(!optional)],
                    room_key: "double".into(),
                }],
            };
            let direct = serde_json::to_string(&[&hotel]).unwrap();
            let value = serde_json::to_value([&hotel]).unwrap();
            assert_eq!(direct, serde_json::to_string(&value).unwrap());
            let o = &value[0]["rooms"][0]["offers"][0];
            assert_eq!(o.get("cancel_deadline").is_some(), optional);
            assert_eq!(o.get("rooms_left").is_some(), optional);
            assert!(o["cancellation"].get("free_until").is_some());
            for hidden in ["room_code", "sort", "_sort", "room_name"] {
                assert!(o.get(hidden).is_none(), "{hidden} shown");
            }
            assert_eq!(o["supplier_room_name"], "Double Room");
            assert_eq!(o["board"], "BB");
        }
    }

    #[test]
    fn merged_counts_offers_and_renders_an_array() {
        let merged = Merged {
            hotels: vec![HotelOut {
                hotel_id: "ARG-LIS-0001",
                min_price: MinPrice {
                    amount: None,
                    currency: "EUR",
                },
                name: String::new(),
                rooms: vec![
                    RoomOut {
                        name: "a".into(),
                        offers: vec![offer(true), offer(false)],
                        room_key: "a".into(),
                    },
                    RoomOut {
                        name: "b".into(),
                        offers: vec![offer(true)],
                        room_key: "b".into(),
                    },
                ],
            }],
            offers_per_leg: vec![3],
        };
        assert_eq!(merged.offers(), 3);
        let v: Value = serde_json::from_slice(&merged.render()).unwrap();
        assert_eq!(v[0]["rooms"][1]["offers"].as_array().map(Vec::len), Some(1));
        assert!(v[0]["min_price"]["amount"].is_null());
    }
}
