//! XML for the `ota-soap` simulator: a namespace-aware reader into a small element tree, and a
//! writer for responses.
//!
//! The reader matches elements by (namespace URI, local name), so any prefix works (spec
//! "Namespaces"). It never resolves DTDs or entities: a `<!DOCTYPE` is refused outright, and only
//! the five predefined entities and character references are expanded, so entity-expansion attacks
//! ("billion laughs", external entities) cannot start. Nesting depth and element count are bounded
//! and the reader is iterative, so hostile input costs bounded time and memory.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

pub const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const OTA_NS: &str = "http://www.opentravel.org/OTA/2003/05";
pub const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
pub const PASSWORD_TEXT: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";

/// Deepest element nesting accepted (the deepest OTA request here nests 13 levels).
pub const MAX_DEPTH: usize = 64;
/// Most elements accepted in one request.
pub const MAX_ELEMENTS: usize = 20_000;

/// Why a request body is not acceptable XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    NotUtf8,
    /// A document type declaration: refused, never resolved.
    Doctype,
    TooDeep,
    TooManyElements,
    Syntax(String),
}

/// One element: namespace URI, local name, unprefixed attributes, child elements and text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    pub ns: Option<String>,
    pub name: String,
    /// Unprefixed attributes by local name; namespace declarations and prefixed attributes
    /// (`soap-env:mustUnderstand`, `xsi:type`) are not kept.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// Character data directly inside this element, concatenated.
    pub text: String,
}

impl Element {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.name == name && self.ns.as_deref() == Some(ns)
    }

    /// An attribute's value, trimmed; `None` when absent or blank.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The text content, trimmed.
    pub fn text(&self) -> &str {
        self.text.trim()
    }

    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    pub fn first_element(&self) -> Option<&Element> {
        self.children.first()
    }

    /// The first element reached by following `path` from here.
    pub fn path(&self, ns: &str, path: &[&str]) -> Option<&Element> {
        self.all(ns, path).into_iter().next()
    }

    /// Every element reached by following `path` from here (all branches), in document order.
    pub fn all<'a>(&'a self, ns: &str, path: &[&str]) -> Vec<&'a Element> {
        let mut level = vec![self];
        for name in path {
            level = level
                .into_iter()
                .flat_map(|e| e.children.iter().filter(|c| c.is(ns, name)))
                .collect();
        }
        level
    }

    /// Every descendant (not self) with this name, in document order.
    pub fn descendants<'a>(&'a self, ns: &str, name: &str) -> Vec<&'a Element> {
        let mut out = Vec::new();
        let mut stack: Vec<&Element> = self.children.iter().rev().collect();
        while let Some(e) = stack.pop() {
            if e.is(ns, name) {
                out.push(e);
            }
            stack.extend(e.children.iter().rev());
        }
        out
    }
}

/// Parses one UTF-8 XML document into its root element.
pub fn parse(body: &[u8]) -> Result<Element, ParseError> {
    let text = std::str::from_utf8(body).map_err(|_| ParseError::NotUtf8)?;
    let mut reader = NsReader::from_str(text);
    let syntax = |e: quick_xml::Error| ParseError::Syntax(e.to_string());
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(syntax)?;
        let ns = match resolved {
            ResolveResult::Bound(ns) => Some(String::from_utf8_lossy(ns.as_ref()).into_owned()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(prefix) => {
                return Err(ParseError::Syntax(format!(
                    "unbound namespace prefix {:?}",
                    String::from_utf8_lossy(&prefix)
                )))
            }
        };
        match event {
            Event::DocType(_) => return Err(ParseError::Doctype),
            Event::Start(ref start) | Event::Empty(ref start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(ParseError::TooManyElements);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(ParseError::TooDeep);
                }
                if stack.is_empty() && root.is_some() {
                    return Err(ParseError::Syntax("more than one root element".into()));
                }
                let mut attrs = Vec::new();
                for attr in start.attributes() {
                    let attr = attr.map_err(|e| ParseError::Syntax(e.to_string()))?;
                    if attr.key.as_namespace_binding().is_some() || attr.key.prefix().is_some() {
                        continue;
                    }
                    let value = attr
                        .decode_and_unescape_value(reader.decoder())
                        .map_err(syntax)?;
                    let key = String::from_utf8_lossy(attr.key.local_name().as_ref()).into_owned();
                    attrs.push((key, value.into_owned()));
                }
                let element = Element {
                    ns,
                    name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
                    attrs,
                    children: Vec::new(),
                    text: String::new(),
                };
                if matches!(event, Event::Start(_)) {
                    stack.push(element);
                } else {
                    attach(&mut stack, &mut root, element);
                }
            }
            Event::End(_) => {
                let Some(element) = stack.pop() else {
                    return Err(ParseError::Syntax("unmatched end tag".into()));
                };
                attach(&mut stack, &mut root, element);
            }
            Event::Text(t) => {
                let t = t.unescape().map_err(syntax)?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&t),
                    None if t.trim().is_empty() => {}
                    None => return Err(ParseError::Syntax("text outside the root element".into())),
                }
            }
            Event::CData(c) => {
                let Some(top) = stack.last_mut() else {
                    return Err(ParseError::Syntax("CDATA outside the root element".into()));
                };
                top.text.push_str(&String::from_utf8_lossy(&c.into_inner()));
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => {
                if !stack.is_empty() {
                    return Err(ParseError::Syntax("unexpected end of document".into()));
                }
                return root.ok_or_else(|| ParseError::Syntax("no root element".into()));
            }
        }
    }
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

/// An element to write: built fluently, rendered with escaping.
#[derive(Debug, Clone, Default)]
pub struct El {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<El>,
    text: Option<String>,
}

impl El {
    pub fn new(name: &str) -> El {
        El {
            name: name.to_string(),
            ..El::default()
        }
    }

    pub fn attr(mut self, name: &str, value: impl ToString) -> El {
        self.attrs.push((name.to_string(), value.to_string()));
        self
    }

    pub fn attrs(mut self, attrs: &[(String, String)]) -> El {
        self.attrs.extend(attrs.iter().cloned());
        self
    }

    pub fn child(mut self, child: El) -> El {
        self.children.push(child);
        self
    }

    pub fn children(mut self, children: impl IntoIterator<Item = El>) -> El {
        self.children.extend(children);
        self
    }

    pub fn text(mut self, text: impl Into<String>) -> El {
        self.text = Some(text.into());
        self
    }

    pub fn write(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        for (k, v) in &self.attrs {
            out.push(' ');
            out.push_str(k);
            out.push_str("=\"");
            out.push_str(&quick_xml::escape::escape(v.as_str()));
            out.push('"');
        }
        if self.children.is_empty() && self.text.is_none() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        if let Some(t) = &self.text {
            out.push_str(&quick_xml::escape::escape(t.as_str()));
        }
        for c in &self.children {
            c.write(out);
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }
}

/// A SOAP 1.1 envelope around one body element, as bytes.
pub fn envelope(body: &El) -> Vec<u8> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<soap-env:Envelope xmlns:soap-env=\"");
    out.push_str(SOAP_NS);
    out.push_str("\"><soap-env:Body>");
    body.write(&mut out);
    out.push_str("</soap-env:Body></soap-env:Envelope>");
    out.into_bytes()
}

/// A SOAP 1.1 Fault body; `code` is `Client` or `Server`.
pub fn fault(code: &str, message: &str) -> El {
    El::new("soap-env:Fault")
        .child(El::new("faultcode").text(format!("soap-env:{code}")))
        .child(El::new("faultstring").text(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_match_by_namespace_whatever_the_prefix() {
        let a = br#"<a:E xmlns:a="urn:x"><a:F k="1"/></a:E>"#;
        let b = br#"<E xmlns="urn:x"><F k="1"/></E>"#;
        let c = br#"<q:E xmlns:q="urn:x" xmlns="urn:other"><q:F k="1"/><F k="2"/></q:E>"#;
        for doc in [&a[..], &b[..], &c[..]] {
            let e = parse(doc).unwrap();
            assert!(e.is("urn:x", "E"));
            assert_eq!(e.all("urn:x", &["F"]).len(), 1);
            assert_eq!(e.path("urn:x", &["F"]).and_then(|f| f.attr("k")), Some("1"));
        }
        let other = parse(c).unwrap();
        assert_eq!(
            other.path("urn:other", &["F"]).and_then(|f| f.attr("k")),
            Some("2")
        );
    }

    #[test]
    fn hostile_or_broken_documents_are_refused() {
        let laughs = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><lolz>&lol2;</lolz>"#;
        let xxe = br#"<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>"#;
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        let many = format!("<a>{}</a>", "<b/>".repeat(MAX_ELEMENTS + 1));
        type Expect = fn(&ParseError) -> bool;
        let cases: Vec<(&[u8], Expect)> = vec![
            (laughs, |e| *e == ParseError::Doctype),
            (xxe, |e| *e == ParseError::Doctype),
            (b"<a>&undeclared;</a>", |e| {
                matches!(e, ParseError::Syntax(_))
            }),
            (b"<a x=\"&undeclared;\"/>", |e| {
                matches!(e, ParseError::Syntax(_))
            }),
            (deep.as_bytes(), |e| *e == ParseError::TooDeep),
            (many.as_bytes(), |e| *e == ParseError::TooManyElements),
            (b"<a><b></a>", |e| matches!(e, ParseError::Syntax(_))),
            (b"<a>", |e| matches!(e, ParseError::Syntax(_))),
            (b"<a/><b/>", |e| matches!(e, ParseError::Syntax(_))),
            (b"", |e| matches!(e, ParseError::Syntax(_))),
            (b"text", |e| matches!(e, ParseError::Syntax(_))),
            (b"<p:a/>", |e| matches!(e, ParseError::Syntax(_))),
            (b"<a b='1' b='2'/>", |e| matches!(e, ParseError::Syntax(_))),
            (b"\xff\xfe<a/>", |e| *e == ParseError::NotUtf8),
        ];
        for (doc, expected) in cases {
            let got = parse(doc);
            assert!(
                matches!(&got, Err(e) if expected(e)),
                "{:?} → {got:?}",
                String::from_utf8_lossy(doc)
            );
        }
    }

    #[test]
    fn predefined_entities_character_references_and_cdata_are_text() {
        let e = parse(b"<a v=\"&lt;&#65;&quot;\">x &amp; <![CDATA[<y>]]></a>").unwrap();
        assert_eq!(e.attr("v"), Some("<A\""));
        assert_eq!(e.text(), "x & <y>");
    }

    #[test]
    fn written_elements_escape_and_parse_back() {
        let el = El::new("R")
            .attr("a", "x\"<&")
            .child(El::new("T").text("1 < 2 & 3"))
            .child(El::new("E"));
        let mut out = String::new();
        el.write(&mut out);
        assert_eq!(
            out,
            "<R a=\"x&quot;&lt;&amp;\"><T>1 &lt; 2 &amp; 3</T><E/></R>"
        );
        let back = parse(out.as_bytes()).unwrap();
        assert_eq!(back.attr("a"), Some("x\"<&"));
        assert_eq!(back.children[0].text(), "1 < 2 & 3");
    }
}
