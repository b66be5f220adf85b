//! The booking story as one self-contained HTML page (inline CSS, no script): every trace of a
//! booking — the search that produced the offer, the re-check, the booking, confirmation, later
//! queries and cancellation — as a waterfall with one row per span, bars placed by start and
//! duration, coloured by status, labelled with event type and supplier, errors spelled out and
//! request/response excerpts one click away (`<details>`).

use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::span::{EventType, Span, SpanStatus};
use crate::tree::SpanNode;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn when(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn human_ms(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.2} s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{}m {:02}s", ms / 60_000, (ms % 60_000) / 1000),
        _ => format!("{}h {:02}m", ms / 3_600_000, (ms % 3_600_000) / 60_000),
    }
}

fn status_class(s: SpanStatus) -> &'static str {
    match s {
        SpanStatus::Success => "ok",
        SpanStatus::Error => "err",
        SpanStatus::Timeout => "to",
    }
}

const CSS: &str = r#"
:root{--ok:#2e9d5b;--err:#d64545;--to:#e0a030;--ink:#1d2330;--mute:#6b7280;--line:#e5e7eb;--bg:#f7f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{padding:20px 28px;background:#fff;border-bottom:1px solid var(--line)}
h1{margin:0 0 6px;font-size:20px}
h1 code{font-size:15px;background:#eef1f5;padding:2px 6px;border-radius:4px;word-break:break-all}
.summary{color:var(--mute)}
.summary b{color:var(--ink)}
.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:middle}
main{padding:16px 28px 40px}
.story{list-style:none;margin:0 0 18px;padding:0;display:flex;flex-wrap:wrap;gap:8px}
.story li{background:#fff;border:1px solid var(--line);border-radius:6px;padding:6px 10px}
.story a{color:inherit;text-decoration:none}
.gap{color:var(--mute);font-size:12px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;margin:0 0 18px;overflow:hidden}
section h2{margin:0;padding:10px 14px;font-size:15px;border-bottom:1px solid var(--line);display:flex;gap:14px;flex-wrap:wrap;align-items:baseline}
section h2 .tid{font:12px ui-monospace,Menlo,monospace;color:var(--mute)}
.row{display:grid;grid-template-columns:minmax(260px,34%) 80px 1fr;align-items:center;border-bottom:1px solid #f0f1f4;min-height:30px}
.row:nth-child(even){background:#fbfbfd}
.label{padding:4px 8px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.ev{font-weight:600}
.sup{display:inline-block;font-size:11px;background:#eef1f5;border-radius:3px;padding:0 5px;margin-left:6px;color:#374151}
.dur{text-align:right;padding-right:10px;font-variant-numeric:tabular-nums;color:var(--mute)}
.lane{position:relative;height:18px;margin:0 12px}
.bar{position:absolute;top:3px;height:12px;border-radius:3px;min-width:2px}
.bar.ok{background:var(--ok)}.bar.err{background:var(--err)}.bar.to{background:var(--to)}
.sw.ok{background:var(--ok)}.sw.err{background:var(--err)}.sw.to{background:var(--to)}
.detail{grid-column:1/-1;padding:2px 12px 8px}
.axis{min-height:22px;background:#fafbfc!important}
.axis .lane span{position:absolute;top:2px;font-size:11px;color:var(--mute)}
.axis .lane span:nth-child(2){transform:translateX(-50%)}
.error{color:var(--err);font-weight:500}
.to-text{color:#a16207;font-weight:500}
details{margin-top:2px}
summary{cursor:pointer;color:var(--mute);font-size:12px}
pre{margin:4px 0;padding:8px;background:#f3f4f6;border-radius:4px;white-space:pre-wrap;word-break:break-all;font:12px ui-monospace,Menlo,monospace;max-height:320px;overflow:auto}
.meta{font-size:12px;color:var(--mute)}
.empty{padding:30px;text-align:center;color:var(--mute)}
"#;

/// Booking ids are long signed tokens: the page shows their head and tail (the full id is the
/// heading's tooltip).
fn short_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 40 {
        return id.to_string();
    }
    let head: String = chars.iter().take(24).collect();
    let tail: String = chars.iter().skip(chars.len() - 10).collect();
    format!("{head}…{tail}")
}

struct Row<'a> {
    span: &'a Span,
    depth: usize,
}

/// Renders the story of `booking_id` from its traces (one `Vec<SpanNode>` per trace, as
/// [`crate::trees_by_trace`] gives them, earliest first). Every value is HTML-escaped.
pub fn render_booking_html(booking_id: &str, traces: &[Vec<SpanNode>]) -> String {
    let mut traces: Vec<&Vec<SpanNode>> = traces.iter().filter(|t| !t.is_empty()).collect();
    traces.sort_by_key(|t| t.iter().map(SpanNode::min_start_ms).min().unwrap_or(0));

    let mut total = 0usize;
    let (mut n_ok, mut n_err, mut n_to) = (0, 0, 0);
    let mut suppliers: Vec<String> = Vec::new();
    for t in &traces {
        for root in t.iter() {
            root.walk(0, &mut |n, _| {
                total += 1;
                match n.span.status {
                    SpanStatus::Success => n_ok += 1,
                    SpanStatus::Error => n_err += 1,
                    SpanStatus::Timeout => n_to += 1,
                }
                if let Some(s) = &n.span.supplier {
                    if !suppliers.contains(s) {
                        suppliers.push(s.clone());
                    }
                }
            });
        }
    }
    let first = traces
        .first()
        .and_then(|t| t.iter().map(SpanNode::min_start_ms).min());
    let last = traces
        .iter()
        .flat_map(|t| t.iter().map(SpanNode::max_end_ms))
        .max();

    let mut h = String::with_capacity(8192);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Booking {} — arigate trace</title><style>{CSS}</style></head><body>\n",
        escape(booking_id)
    );
    let _ = write!(
        h,
        "<header><h1>Booking <code title=\"{}\">{}</code></h1><div class=\"summary\"><b>{}</b> trace{} · <b>{total}</b> spans",
        escape(booking_id),
        escape(&short_id(booking_id)),
        traces.len(),
        if traces.len() == 1 { "" } else { "s" }
    );
    if let (Some(f), Some(l)) = (first, last) {
        let _ = write!(
            h,
            " · from <b>{}</b> to <b>{}</b> ({})",
            when(f),
            when(l),
            human_ms(l.saturating_sub(f))
        );
    }
    if !suppliers.is_empty() {
        let _ = write!(h, " · suppliers: <b>{}</b>", escape(&suppliers.join(", ")));
    }
    let _ = write!(
        h,
        "</div><div class=\"summary legend\"><span><i class=\"sw ok\"></i>success {n_ok}</span>\
         <span><i class=\"sw err\"></i>error {n_err}</span><span><i class=\"sw to\"></i>timeout {n_to}</span></div></header>\n<main>\n"
    );

    if traces.is_empty() {
        h.push_str("<div class=\"empty\">No spans recorded for this booking (yet). Spans may be still in flight, past retention, or the id is unknown.</div>");
    } else {
        // The story line: one chip per trace, with the gap since the previous one.
        h.push_str("<ol class=\"story\">");
        let mut prev_end: Option<u64> = None;
        for (i, t) in traces.iter().enumerate() {
            let start = t.iter().map(SpanNode::min_start_ms).min().unwrap_or(0);
            let end = t.iter().map(SpanNode::max_end_ms).max().unwrap_or(start);
            let root = trace_title(t);
            let status = worst(t);
            let gap = prev_end
                .map(|p| {
                    format!(
                        "<div class=\"gap\">+{} later</div>",
                        human_ms(start.saturating_sub(p))
                    )
                })
                .unwrap_or_default();
            let _ = write!(
                h,
                "<li><a href=\"#t{i}\"><i class=\"sw {}\"></i><b>{}</b> · {}</a>{gap}</li>",
                status_class(status),
                escape(&root),
                human_ms(end.saturating_sub(start))
            );
            prev_end = Some(end.max(prev_end.unwrap_or(0)));
        }
        h.push_str("</ol>\n");

        for (i, t) in traces.iter().enumerate() {
            render_trace(&mut h, i, t);
        }
    }
    h.push_str("</main></body></html>\n");
    h
}

/// Names a trace by its most telling span: what happened to the booking beats the search
/// legs under it.
fn trace_title(t: &[SpanNode]) -> String {
    fn rank(e: EventType) -> u8 {
        match e {
            EventType::Book => 9,
            EventType::Cancel => 8,
            EventType::Confirm => 7,
            EventType::QueryOrder => 6,
            EventType::CheckAvail => 5,
            EventType::Webhook => 4,
            EventType::Search | EventType::Content => 3,
            EventType::Invalidate => 2,
            EventType::SupplierQuery | EventType::CacheHit | EventType::Merge => 1,
            EventType::Other => 0,
        }
    }
    let mut best: Option<&Span> = None;
    for r in t {
        r.walk(0, &mut |n, _| {
            if best.is_none_or(|b| rank(n.span.event_type) > rank(b.event_type)) {
                best = Some(&n.span);
            }
        });
    }
    best.map(|b| {
        let mut s = b.event_type.as_str().replace('_', " ");
        if let Some(sup) = &b.supplier {
            s.push_str(" @ ");
            s.push_str(sup);
        }
        s
    })
    .unwrap_or_default()
}

fn worst(t: &[SpanNode]) -> SpanStatus {
    let mut w = SpanStatus::Success;
    for r in t {
        r.walk(0, &mut |n, _| match (w, n.span.status) {
            (_, SpanStatus::Error) => w = SpanStatus::Error,
            (SpanStatus::Success, SpanStatus::Timeout) => w = SpanStatus::Timeout,
            _ => {}
        });
    }
    w
}

fn render_trace(h: &mut String, i: usize, roots: &[SpanNode]) {
    let mut rows: Vec<Row<'_>> = Vec::new();
    for r in roots {
        r.walk(0, &mut |n, depth| {
            rows.push(Row {
                span: &n.span,
                depth,
            })
        });
    }
    let start = roots.iter().map(SpanNode::min_start_ms).min().unwrap_or(0);
    let end = roots
        .iter()
        .map(SpanNode::max_end_ms)
        .max()
        .unwrap_or(start);
    let width = end.saturating_sub(start).max(1) as f64;
    let trace_id = rows.first().map(|r| r.span.trace_id.as_str()).unwrap_or("");
    let _ = write!(
        h,
        "<section id=\"t{i}\"><h2><span>{}</span><span class=\"meta\">{} · {} · {} span{}</span><span class=\"tid\">trace {}</span></h2>",
        escape(&trace_title(roots)),
        when(start),
        human_ms(end.saturating_sub(start)),
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        escape(trace_id)
    );
    let _ = write!(
        h,
        "<div class=\"row axis\"><div class=\"label meta\">span</div><div class=\"dur meta\">took</div>\
         <div class=\"lane\"><span style=\"left:0\">0</span><span style=\"left:50%\">{}</span>\
         <span style=\"right:0\">{}</span></div></div>",
        human_ms(end.saturating_sub(start) / 2),
        human_ms(end.saturating_sub(start))
    );
    for row in rows {
        let s = row.span;
        let left = (s.start_ms.saturating_sub(start)) as f64 / width * 100.0;
        let w = (f64::from(s.duration_ms) / width * 100.0).clamp(0.0, 100.0 - left.min(100.0));
        let cls = status_class(s.status);
        let mut label = format!(
            "<span class=\"ev\">{}</span>",
            escape(&s.event_type.as_str().replace('_', " "))
        );
        if let Some(sup) = &s.supplier {
            let _ = write!(label, "<span class=\"sup\">{}</span>", escape(sup));
        }
        if !s.hotel_ids.is_empty() {
            let shown: Vec<&str> = s.hotel_ids.iter().take(3).map(String::as_str).collect();
            let more = s.hotel_ids.len().saturating_sub(3);
            let _ = write!(
                label,
                " <span class=\"meta\">{}{}</span>",
                escape(&shown.join(", ")),
                if more > 0 {
                    format!(" +{more}")
                } else {
                    String::new()
                }
            );
        }
        let title = format!(
            "{} · {} · {} · +{} ms",
            s.event_type.as_str(),
            s.status.as_str(),
            when(s.start_ms),
            s.start_ms.saturating_sub(start)
        );
        let _ = write!(
            h,
            "<div class=\"row\"><div class=\"label\" style=\"padding-left:{}px\" title=\"{}\">{label}</div>\
             <div class=\"dur\">{}</div><div class=\"lane\"><div class=\"bar {cls}\" style=\"left:{left:.3}%;width:{w:.3}%\" title=\"{}\"></div></div>",
            8 + row.depth * 18,
            escape(&title),
            human_ms(u64::from(s.duration_ms)),
            escape(&title)
        );
        let has_detail = !s.error_detail.is_empty()
            || !s.request_data.is_empty()
            || !s.response_data.is_empty()
            || !s.attributes.is_empty()
            || s.status != SpanStatus::Success;
        if has_detail {
            let _ = write!(
                h,
                "<div class=\"detail\" style=\"padding-left:{}px\">",
                12 + row.depth * 18
            );
            match s.status {
                SpanStatus::Error => {
                    let _ = write!(
                        h,
                        "<div class=\"error\">error: {}</div>",
                        escape(if s.error_detail.is_empty() {
                            "(no detail)"
                        } else {
                            &s.error_detail
                        })
                    );
                }
                SpanStatus::Timeout => {
                    let _ = write!(
                        h,
                        "<div class=\"to-text\">timeout{}{}</div>",
                        if s.error_detail.is_empty() { "" } else { ": " },
                        escape(&s.error_detail)
                    );
                }
                SpanStatus::Success if !s.error_detail.is_empty() => {
                    let _ = write!(h, "<div class=\"meta\">{}</div>", escape(&s.error_detail));
                }
                SpanStatus::Success => {}
            }
            let mut meta: Vec<String> = Vec::new();
            if let (Some(rt), false) = (s.related_type, s.related_id.is_empty()) {
                meta.push(format!("{} {}", rt.as_str(), s.related_id));
            }
            if let Some(a) = &s.agent_id {
                meta.push(format!("agent {a}"));
            }
            for (k, v) in &s.attributes {
                meta.push(format!("{k}={v}"));
            }
            meta.push(format!("span {}", s.span_id));
            let _ = write!(h, "<div class=\"meta\">{}</div>", escape(&meta.join(" · ")));
            if !s.request_data.is_empty() || !s.response_data.is_empty() {
                h.push_str("<details><summary>request / response</summary>");
                if !s.request_data.is_empty() {
                    let _ = write!(h, "<pre>{}</pre>", escape(&s.request_data));
                }
                if !s.response_data.is_empty() {
                    let _ = write!(h, "<pre>{}</pre>", escape(&s.response_data));
                }
                h.push_str("</details>");
            }
            h.push_str("</div>");
        }
        h.push_str("</div>\n");
    }
    h.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;
    use crate::tree::trees_by_trace;

    fn story() -> Vec<Vec<SpanNode>> {
        let base = 1_760_000_000_000u64;
        let spans = vec![
            Span::begin("search", None, EventType::Search)
                .with_span_id("s0")
                .with_start_ms(base)
                .with_duration_ms(420)
                .with_hotels(["H1", "H2", "H3", "H4"])
                .finished(SpanStatus::Success),
            Span::begin("search", Some("s0"), EventType::SupplierQuery)
                .with_span_id("s1")
                .with_start_ms(base + 5)
                .with_duration_ms(400)
                .with_supplier("hotelbeds")
                .finished(SpanStatus::Success),
            Span::begin("search", Some("s0"), EventType::SupplierQuery)
                .with_span_id("s2")
                .with_start_ms(base + 5)
                .with_duration_ms(410)
                .with_supplier("dida")
                .failed(SpanStatus::Timeout, "leg deadline 400 ms"),
            Span::begin("book", None, EventType::Book)
                .with_span_id("b0")
                .with_start_ms(base + 180_000)
                .with_duration_ms(2300)
                .with_supplier("hotelbeds")
                .with_booking("BK<1>")
                .with_response("<script>alert(1)</script>")
                .failed(SpanStatus::Error, "supplier said \"room <gone>\" & more"),
        ];
        trees_by_trace(spans).into_iter().map(|t| t.roots).collect()
    }

    #[test]
    fn renders_waterfall_escaped() {
        let html = render_booking_html("BK<1>\"", &story());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("Booking <code title=\"BK&lt;1&gt;&quot;\">BK&lt;1&gt;&quot;</code>"));
        let long = "bk_".to_string() + &"A".repeat(100) + "tail.0123456789";
        let page = render_booking_html(&long, &story());
        assert!(page.contains(&format!(
            "title=\"{long}\">bk_AAAAAAAAAAAAAAAAAAAAA…0123456789</code>"
        )));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("supplier said &quot;room &lt;gone&gt;&quot; &amp; more"));
        assert!(html.contains("class=\"bar to\""));
        assert!(html.contains("class=\"bar err\""));
        assert!(html.contains("<span class=\"sup\">dida</span>"));
        assert!(html.contains("+2m 59s later") || html.contains("later"));
        assert!(html.contains("H1, H2, H3 +1"));
        assert!(html.contains("left:0.000%;width:100.000%"));
        assert_eq!(html.matches("<section").count(), 2);
        assert!(!html.contains("<script"));
    }

    #[test]
    fn empty_story_says_so() {
        let html = render_booking_html("B", &[]);
        assert!(html.contains("No spans recorded"));
    }
}
