//! A small, namespace-aware element tree over quick-xml for reading OTA/SOAP answers.
//!
//! Suppliers choose their own prefixes (`soap-env:`, `SOAP-ENV:`, `s:`, a default namespace), so
//! elements are matched on (namespace URI, local name), never on the prefix (`ota-soap.md`,
//! "Namespaces"). The reader never resolves DTDs or custom entities: a `<!DOCTYPE` is refused
//! outright, an undeclared entity reference is a syntax error, and nesting is bounded so a
//! hostile body cannot exhaust the stack.

use quick_xml::encoding::Decoder;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

/// SOAP 1.1 envelope namespace.
pub const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.2 envelope namespace (accepted when reading, never sent).
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// OpenTravel 2003/05 namespace.
pub const OTA_NS: &str = "http://www.opentravel.org/OTA/2003/05";

/// Deepest element nesting accepted; real OTA answers stay well under 20 levels.
const MAX_DEPTH: usize = 64;
/// Most elements accepted in one document.
const MAX_ELEMENTS: usize = 500_000;

/// One element: its namespace URI (None when unbound), local name, attributes by local name,
/// child elements and concatenated text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub ns: Option<String>,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    /// Whether this is the OTA element `local`. Unqualified elements are accepted as OTA too:
    /// some suppliers drop the default namespace on nested elements.
    pub fn is_ota(&self, local: &str) -> bool {
        self.name == local && self.ns.as_deref().is_none_or(|ns| ns == OTA_NS)
    }

    /// Whether this is the SOAP (1.1 or 1.2) envelope element `local`.
    pub fn is_soap(&self, local: &str) -> bool {
        self.name == local && matches!(self.ns.as_deref(), Some(SOAP_NS) | Some(SOAP12_NS))
    }

    /// Attribute value by local name (prefixes on attributes are ignored).
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == local)
            .map(|(_, v)| v.as_str())
    }

    /// Attribute value, trimmed, or None when absent or blank.
    pub fn attr_nonempty(&self, local: &str) -> Option<&str> {
        self.attr(local).map(str::trim).filter(|v| !v.is_empty())
    }

    /// First OTA child named `local`.
    pub fn child(&self, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is_ota(local))
    }

    /// All OTA children named `local`.
    pub fn children_named<'a>(&'a self, local: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is_ota(local))
    }

    /// Follows a path of OTA child names.
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        names.iter().try_fold(self, |e, n| e.child(n))
    }

    /// Every OTA element named `local` below this one, in document order.
    pub fn descendants<'a>(&'a self, local: &str) -> Vec<&'a Element> {
        let mut out = Vec::new();
        self.collect(local, &mut out);
        out
    }

    fn collect<'a>(&'a self, local: &str, out: &mut Vec<&'a Element>) {
        for c in &self.children {
            if c.is_ota(local) {
                out.push(c);
            }
            c.collect(local, out);
        }
    }

    /// First element child whatever its namespace.
    pub fn first_element(&self) -> Option<&Element> {
        self.children.first()
    }

    /// First child with this local name in no namespace or any namespace (SOAP 1.1 `faultcode`).
    pub fn child_any_ns(&self, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == local)
    }
}

/// Parses a whole document into its root element. Errors are short human descriptions.
pub fn parse(bytes: &[u8]) -> Result<Element, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "body is not UTF-8".to_string())?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    let decoder = reader.decoder();
    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("XML syntax: {e}"))?;
        let ns = namespace(resolved);
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err("content after the root element".into());
            }
            Event::Start(start) => {
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(format!(
                        "XML nested deeper than {MAX_DEPTH} levels or too large"
                    ));
                }
                stack.push(element(decoder, ns?, &start)?);
            }
            Event::Empty(start) => {
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(format!(
                        "XML nested deeper than {MAX_DEPTH} levels or too large"
                    ));
                }
                let el = element(decoder, ns?, &start)?;
                attach(&mut stack, &mut root, el);
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| "unbalanced end tag".to_string())?;
                attach(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                let s = t.unescape().map_err(|e| format!("XML text: {e}"))?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err("text outside the root element".into()),
                }
            }
            Event::CData(c) => {
                let s = std::str::from_utf8(&c).map_err(|_| "CDATA is not UTF-8".to_string())?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(s),
                    None => return Err("CDATA outside the root element".into()),
                }
            }
            Event::DocType(_) => return Err("DOCTYPE declarations are refused".into()),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err("document ends inside an element (truncated)".into());
    }
    root.ok_or_else(|| "empty document".into())
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

fn namespace(resolved: ResolveResult<'_>) -> Result<Option<String>, String> {
    match resolved {
        ResolveResult::Bound(ns) => std::str::from_utf8(ns.into_inner())
            .map(|s| Some(s.to_string()))
            .map_err(|_| "namespace is not UTF-8".to_string()),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(_) => Err("element uses an undeclared namespace prefix".into()),
    }
}

fn element(
    decoder: Decoder,
    ns: Option<String>,
    start: &BytesStart<'_>,
) -> Result<Element, String> {
    let name = utf8(start.local_name().into_inner())?;
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| format!("XML attribute: {e}"))?;
        let key = attr.key;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        let value = attr
            .decode_and_unescape_value(decoder)
            .map_err(|e| format!("XML attribute value: {e}"))?;
        attrs.push((utf8(key.local_name().into_inner())?, value.into_owned()));
    }
    Ok(Element {
        ns,
        name,
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

fn utf8(bytes: &[u8]) -> Result<String, String> {
    std::str::from_utf8(bytes)
        .map(str::to_string)
        .map_err(|_| "name is not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn resolves_prefixes_to_namespaces() {
        let doc = parse(
            br#"<?xml version="1.0"?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><o:X xmlns:o="http://www.opentravel.org/OTA/2003/05" A="1&amp;2"><o:Y>t&lt;</o:Y></o:X></S:Body></S:Envelope>"#,
        )
        .unwrap();
        assert!(doc.is_soap("Envelope"));
        let x = doc.children[0].first_element().unwrap();
        assert!(x.is_ota("X"));
        assert_eq!(x.attr("A"), Some("1&2"));
        assert_eq!(x.child("Y").unwrap().text, "t<");
    }

    #[rstest]
    #[case::doctype(r#"<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>"#)]
    #[case::external_doctype(r#"<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>"#)]
    #[case::custom_entity("<x>&xxe;</x>")]
    #[case::custom_entity_in_attribute(r#"<x a="&xxe;"/>"#)]
    #[case::truncated("<a><b></b>")]
    #[case::truncated_tag("<a><b")]
    #[case::mismatched("<a></b>")]
    #[case::two_roots("<a/><b/>")]
    #[case::undeclared_prefix("<p:a/>")]
    #[case::empty("")]
    fn rejects(#[case] body: &str) {
        assert!(parse(body.as_bytes()).is_err(), "{body}");
    }

    #[test]
    fn bounds_depth() {
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).unwrap_err().contains("deeper"));
        let ok = "<a>".repeat(MAX_DEPTH) + &"</a>".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn rejects_invalid_utf8() {
        assert!(parse(b"<a>\xff</a>").is_err());
    }
}
