//! The fuzzing entry to every connector's response parser ([`Connector::parse`]), shared by the
//! cargo-fuzz targets in `fuzz/` and the corpus replay in `connectors/tests/fuzz_corpus.rs`.
//!
//! One input is one supplier answer: a first line `<op> <status>` naming the call it answers
//! ([`Call::op`]) and the HTTP status, then the raw body. The calls themselves (with real offer
//! and booking keys) come from `fuzz/calls/<protocol>.json`, recorded against the simulators
//! together with the seed corpus. A first line that names no known call still picks one (by a
//! checksum of the line), so every input reaches a parser.
//!
//! Besides "never panics", [`Harness::run`] checks what every caller relies on: the reply is of
//! the kind the call expects, and a classified error's code and message are short, printable and
//! free of the credentials (they reach agents, spans and logs).

use crate::error::{MAX_CODE_CHARS, MAX_MESSAGE_CHARS};
use crate::{
    connector_for, AuthMode, Call, Connector, Credentials, Protocol, Reply, SupplierError,
};
use crate::{SupplierResult, WireResponse};

/// The credentials the harness's connectors hold; no error may repeat them.
pub const KEY: &str = "fuzz-api-key-7c1d";
/// See [`KEY`].
pub const SECRET: &str = "fuzz-secret-9f3b2a";

/// A parser answer that breaks what callers rely on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How the parser classified one input.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Reply(Reply),
    Error(SupplierError),
}

/// One connector and the calls its answers are read for.
pub struct Harness {
    connector: Box<dyn Connector>,
    calls: Vec<Call>,
}

impl Harness {
    /// `calls` must not be empty.
    pub fn new(protocol: Protocol, calls: Vec<Call>) -> Result<Harness, String> {
        if calls.is_empty() {
            return Err("a harness needs at least one call".into());
        }
        let credentials = Credentials {
            key: KEY.into(),
            secret: SECRET.into(),
            account: Some("FUZZACCT".into()),
            mode: AuthMode::Native,
        };
        Ok(Harness {
            connector: connector_for(protocol, credentials),
            calls,
        })
    }

    /// A harness from a recorded calls file (a JSON array of [`Call`]).
    pub fn from_json(protocol: Protocol, calls_json: &str) -> Result<Harness, String> {
        let calls: Vec<Call> = serde_json::from_str(calls_json).map_err(|e| e.to_string())?;
        Harness::new(protocol, calls)
    }

    /// The call an input answers, its status, and its body.
    pub fn split<'d>(&self, data: &'d [u8]) -> (&Call, u16, &'d [u8]) {
        let (line, body) = match data.iter().position(|b| *b == b'\n') {
            Some(i) => (&data[..i], &data[i + 1..]),
            None => (data, &data[data.len()..]),
        };
        let text = String::from_utf8_lossy(line);
        let mut words = text.split_ascii_whitespace();
        let op = words.next().unwrap_or("");
        let status = words
            .next()
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(200);
        let call = self
            .calls
            .iter()
            .find(|c| c.op() == op)
            .or_else(|| {
                let sum = line.iter().fold(0usize, |a, b| a.wrapping_add(*b as usize));
                self.calls.get(sum % self.calls.len())
            })
            .unwrap_or(&self.calls[0]);
        (call, status, body)
    }

    /// Parses one input and checks the answer.
    pub fn run(&self, data: &[u8]) -> Result<Outcome, Violation> {
        let (call, status, body) = self.split(data);
        let resp = WireResponse {
            status,
            headers: vec![("Content-Type".into(), content_type(body).into())],
            body: body.to_vec(),
        };
        check(call, self.connector.parse(call, &resp))
    }
}

fn content_type(body: &[u8]) -> &'static str {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'<') => "text/xml; charset=utf-8",
        _ => "application/json",
    }
}

/// The reply kinds each call may produce.
fn expected(call: &Call) -> &'static [&'static str] {
    match call {
        Call::Token => &["token"],
        Call::Search { .. } => &["search"],
        Call::Content { .. } => &["content"],
        Call::Recheck { .. } => &["recheck"],
        Call::Prepare { .. } => &["prepared"],
        Call::Book { .. } | Call::Retrieve { .. } | Call::Find { .. } | Call::Cancel { .. } => {
            &["booking"]
        }
        Call::CancelQuote { .. } => &["cancel_quote"],
    }
}

fn kind(reply: &Reply) -> &'static str {
    match reply {
        Reply::Token { .. } => "token",
        Reply::Search { .. } => "search",
        Reply::Content { .. } => "content",
        Reply::Recheck { .. } => "recheck",
        Reply::Prepared { .. } => "prepared",
        Reply::Booking { .. } => "booking",
        Reply::CancelQuote { .. } => "cancel_quote",
    }
}

fn check(call: &Call, result: SupplierResult<Reply>) -> Result<Outcome, Violation> {
    match result {
        Ok(reply) => {
            if !expected(call).contains(&kind(&reply)) {
                return Err(Violation(format!(
                    "{} answered with a {} reply",
                    call.op(),
                    kind(&reply)
                )));
            }
            Ok(Outcome::Reply(reply))
        }
        Err(e) => {
            let (message_chars, code_chars) = (e.message.chars().count(), e.code.chars().count());
            let problem = if message_chars > MAX_MESSAGE_CHARS + 1 {
                Some(format!("a message of {message_chars} characters"))
            } else if code_chars > MAX_CODE_CHARS + 1 {
                Some(format!("a code of {code_chars} characters"))
            } else if e
                .message
                .chars()
                .chain(e.code.chars())
                .any(char::is_control)
            {
                Some("control characters".to_string())
            } else if [KEY, SECRET]
                .iter()
                .any(|s| e.message.contains(s) || e.code.contains(s))
            {
                Some("the credentials".to_string())
            } else {
                None
            };
            match problem {
                Some(p) => Err(Violation(format!(
                    "{} error {} carries {p}: {:?}",
                    call.op(),
                    e.class,
                    e
                ))),
                None => Ok(Outcome::Error(e)),
            }
        }
    }
}
