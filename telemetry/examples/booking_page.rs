//! Prints the booking story page for a made-up booking (search with three supplier legs, a
//! re-check, a booking that timed out and was reconciled, a later cancellation), to look at the
//! page without a running edge: `cargo run -p arigate-telemetry --example booking_page > story.html`.

use arigate_telemetry::*;

fn main() {
    let booking = "bk_7Q2xZ9.hotelbeds.1-3456789";
    let t0 = now_ms() - 3 * 3_600_000;
    let (search, book, recon, cancel) = (
        new_trace_id(),
        new_trace_id(),
        new_trace_id(),
        new_trace_id(),
    );
    let at = |trace: &str, parent: Option<&str>, ev, start: u64, dur: u32| {
        Span::begin(trace, parent, ev)
            .with_start_ms(t0 + start)
            .with_duration_ms(dur)
    };
    let root = at(&search, None, EventType::Search, 0, 820)
        .with_agent("agency-7")
        .with_hotels(["HTL-MAD-1", "HTL-MAD-2", "HTL-MAD-3", "HTL-MAD-4"])
        .with_attr("cache", "partial")
        .finished(SpanStatus::Success);
    let r = root.span_id.clone();
    let spans = vec![
        root,
        at(&search, Some(&r), EventType::CacheHit, 2, 1).with_supplier("expedia_rapid").finished(SpanStatus::Success),
        at(&search, Some(&r), EventType::SupplierQuery, 4, 610)
            .with_supplier("hotelbeds")
            .with_request("POST /hotel-api/1.0/hotels\nApi-key: [REDACTED]\nX-Signature: [REDACTED]\n\n{\"stay\":{\"checkIn\":\"2026-07-01\",\"checkOut\":\"2026-07-03\"}}")
            .with_response("{\"hotels\":{\"total\":3,\"hotels\":[{\"code\":1067,\"minRate\":\"212.40\"}]}}")
            .with_attr("http_status", "200")
            .finished(SpanStatus::Success),
        at(&search, Some(&r), EventType::SupplierQuery, 5, 800)
            .with_supplier("dida")
            .failed(SpanStatus::Timeout, "leg deadline 800 ms reached; merged without dida"),
        at(&search, Some(&r), EventType::SupplierQuery, 6, 240)
            .with_supplier("derbysoft")
            .failed(SpanStatus::Error, "HTTP 503 from supplier: <html>Service Unavailable</html>"),
        at(&book, None, EventType::CheckAvail, 95_000, 380).with_supplier("hotelbeds").with_hotel("HTL-MAD-1").finished(SpanStatus::Success),
        at(&book, None, EventType::Book, 96_000, 30_000)
            .with_supplier("hotelbeds")
            .with_booking(booking)
            .with_hotel("HTL-MAD-1")
            .with_related(RelatedType::Order, booking)
            .failed(SpanStatus::Timeout, "no answer in 30 s: booking status unknown, reconciling"),
        at(&recon, None, EventType::QueryOrder, 140_000, 420)
            .with_supplier("hotelbeds")
            .with_booking(booking)
            .with_attr("supplier_reference", "1-3456789")
            .finished(SpanStatus::Success),
        at(&recon, None, EventType::Confirm, 140_430, 2).with_supplier("hotelbeds").with_booking(booking).finished(SpanStatus::Success),
        at(&cancel, None, EventType::Cancel, 2 * 3_600_000, 950)
            .with_supplier("hotelbeds")
            .with_booking(booking)
            .with_attr("penalty", "EUR 42.48")
            .finished(SpanStatus::Success),
    ];
    let traces: Vec<Vec<SpanNode>> = trees_by_trace(spans).into_iter().map(|t| t.roots).collect();
    print!("{}", render_booking_html(booking, &traces));
}
