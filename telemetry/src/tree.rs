//! Span trees: flat spans (as stored) nested by `parent_span_id`, for the trace API and the
//! booking story page. Pure functions; no I/O.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::span::Span;

/// One span with its children, ordered by start time. Serialized as the span's fields plus
/// `children`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpanNode {
    /// The span.
    #[serde(flatten)]
    pub span: Span,
    /// Its children, earliest first.
    pub children: Vec<SpanNode>,
}

impl SpanNode {
    /// Earliest start among this node and its descendants (Unix ms).
    pub fn min_start_ms(&self) -> u64 {
        self.children
            .iter()
            .map(SpanNode::min_start_ms)
            .fold(self.span.start_ms, u64::min)
    }

    /// Latest end among this node and its descendants (Unix ms).
    pub fn max_end_ms(&self) -> u64 {
        self.children
            .iter()
            .map(SpanNode::max_end_ms)
            .fold(self.span.end_ms(), u64::max)
    }

    /// Number of spans in this subtree.
    pub fn count(&self) -> usize {
        1 + self.children.iter().map(SpanNode::count).sum::<usize>()
    }

    /// Depth-first walk (pre-order) with depth, for renderers.
    pub fn walk<'a>(&'a self, depth: usize, f: &mut impl FnMut(&'a SpanNode, usize)) {
        f(self, depth);
        for c in &self.children {
            c.walk(depth + 1, f);
        }
    }
}

/// Nests `spans` by parent. Roots and orphans (parent absent from the set, or self-parented) stay
/// at the top level; siblings are ordered by start time, then span id. Duplicate span ids (a batch
/// retried after a lost response) keep the first. Cycles are broken: a span only reachable
/// through a cycle becomes a top-level node.
pub fn build_tree(spans: Vec<Span>) -> Vec<SpanNode> {
    let mut seen = HashSet::new();
    let spans: Vec<Span> = spans
        .into_iter()
        .filter(|s| seen.insert((s.trace_id.clone(), s.span_id.clone())))
        .collect();
    let index: HashMap<(&str, &str), usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| ((s.trace_id.as_str(), s.span_id.as_str()), i))
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        let parent = s
            .parent_span_id
            .as_deref()
            .filter(|p| *p != s.span_id)
            .and_then(|p| index.get(&(s.trace_id.as_str(), p)).copied());
        match parent {
            Some(p) => children[p].push(i),
            None => roots.push(i),
        }
    }
    let key = |i: &usize| (spans[*i].start_ms, spans[*i].span_id.clone());
    for c in &mut children {
        c.sort_by_key(key);
    }
    // Mark what the roots reach; anything left sits on a cycle: promote its earliest member.
    let mut reached = vec![false; spans.len()];
    let mut stack: Vec<usize> = roots.clone();
    while let Some(i) = stack.pop() {
        if !reached[i] {
            reached[i] = true;
            stack.extend(children[i].iter().copied());
        }
    }
    let mut unreached: Vec<usize> = (0..spans.len()).filter(|i| !reached[*i]).collect();
    unreached.sort_by_key(key);
    for i in unreached {
        if reached[i] {
            continue;
        }
        // Detach i from its parent so the cycle opens here.
        for c in &mut children {
            c.retain(|x| *x != i);
        }
        roots.push(i);
        let mut stack = vec![i];
        while let Some(j) = stack.pop() {
            if !reached[j] {
                reached[j] = true;
                stack.extend(children[j].iter().copied());
            }
        }
    }
    roots.sort_by_key(key);

    let mut slots: Vec<Option<Span>> = spans.into_iter().map(Some).collect();
    fn take(i: usize, slots: &mut [Option<Span>], children: &[Vec<usize>]) -> Option<SpanNode> {
        let span = slots[i].take()?;
        let kids = children[i]
            .iter()
            .filter_map(|c| take(*c, slots, children))
            .collect();
        Some(SpanNode {
            span,
            children: kids,
        })
    }
    roots
        .into_iter()
        .filter_map(|r| take(r, &mut slots, &children))
        .collect()
}

/// One trace's spans as a tree, with its time extent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceTree {
    /// The trace id.
    pub trace_id: String,
    /// Earliest span start (Unix ms).
    pub start_ms: u64,
    /// Latest span end minus start (ms).
    pub duration_ms: u64,
    /// Number of spans.
    pub span_count: usize,
    /// Top-level nodes (roots and orphans).
    pub roots: Vec<SpanNode>,
}

/// Splits spans of several traces into one tree per trace, earliest trace first — the shape of
/// the by-booking and by-hotel views.
pub fn trees_by_trace(spans: Vec<Span>) -> Vec<TraceTree> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, Vec<Span>> = HashMap::new();
    for s in spans {
        if !groups.contains_key(&s.trace_id) {
            order.push(s.trace_id.clone());
        }
        groups.entry(s.trace_id.clone()).or_default().push(s);
    }
    let mut out: Vec<TraceTree> = order
        .into_iter()
        .filter_map(|t| groups.remove(&t).map(|spans| (t, spans)))
        .map(|(trace_id, spans)| {
            let roots = build_tree(spans);
            let start_ms = roots.iter().map(SpanNode::min_start_ms).min().unwrap_or(0);
            let end_ms = roots.iter().map(SpanNode::max_end_ms).max().unwrap_or(0);
            TraceTree {
                trace_id,
                start_ms,
                duration_ms: end_ms.saturating_sub(start_ms),
                span_count: roots.iter().map(SpanNode::count).sum(),
                roots,
            }
        })
        .collect();
    out.sort_by(|a, b| (a.start_ms, &a.trace_id).cmp(&(b.start_ms, &b.trace_id)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::{EventType, SpanStatus};

    fn s(trace: &str, id: &str, parent: Option<&str>, start: u64, dur: u32) -> Span {
        Span::begin(trace, parent, EventType::SupplierQuery)
            .with_span_id(id)
            .with_start_ms(start)
            .with_duration_ms(dur)
            .finished(SpanStatus::Success)
    }

    fn shape(nodes: &[SpanNode]) -> String {
        nodes
            .iter()
            .map(|n| {
                if n.children.is_empty() {
                    n.span.span_id.clone()
                } else {
                    format!("{}({})", n.span.span_id, shape(&n.children))
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn nests_orders_and_keeps_orphans() {
        let spans = vec![
            s("t", "c2", Some("root"), 30, 5),
            s("t", "gc", Some("c1"), 12, 1),
            s("t", "root", None, 0, 100),
            s("t", "c1", Some("root"), 10, 5),
            s("t", "orphan", Some("gone"), 5, 1),
            s("t", "c1", Some("root"), 10, 5), // duplicate from a retried batch
        ];
        let tree = build_tree(spans);
        assert_eq!(shape(&tree), "root(c1(gc) c2) orphan");
        assert_eq!(tree[0].count(), 4);
        assert_eq!(tree[0].max_end_ms(), 100);
        let json = serde_json::to_value(&tree).unwrap();
        assert_eq!(json[0]["span_id"], "root");
        assert_eq!(json[0]["children"][0]["children"][0]["span_id"], "gc");
        assert_eq!(json[0]["event_type"], "supplier_query");
    }

    #[test]
    fn breaks_cycles_and_self_parents() {
        let spans = vec![
            s("t", "a", Some("b"), 1, 1),
            s("t", "b", Some("a"), 2, 1),
            s("t", "self", Some("self"), 3, 1),
        ];
        let tree = build_tree(spans);
        assert_eq!(shape(&tree), "a(b) self");
    }

    #[test]
    fn parents_do_not_cross_traces() {
        let spans = vec![s("t1", "p", None, 0, 10), s("t2", "c", Some("p"), 1, 1)];
        let trees = trees_by_trace(spans);
        assert_eq!(trees.len(), 2);
        assert_eq!(trees[0].trace_id, "t1");
        assert_eq!(shape(&trees[1].roots), "c");
        assert_eq!(trees[0].duration_ms, 10);
    }
}
