//! Agent authentication by API key (`Authorization: Bearer <api-key>`, RFC 6750 §2.1). The
//! configuration holds only the SHA-256 of each key ([`hash_key`]; `arigate hash-key` prints it),
//! so a leaked config file does not leak keys. A presented key is hashed and compared against
//! every configured hash in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Longest API key [`AgentDirectory::authenticate`] will hash; longer is
/// [`AuthError::Malformed`].
pub const MAX_KEY_LEN: usize = 512;

/// Lowercase hex SHA-256 of an API key: the form the configuration stores (`key_sha256`).
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// An authenticated travel agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: String,
    pub name: String,
    /// Contact e-mail, passed to suppliers that require one on bookings.
    pub email: String,
    /// Contact phone (`+<country code> <number>`), passed to suppliers that require one.
    pub phone: String,
    /// Supplier codes this agent may use; `None` means all.
    pub suppliers: Option<Vec<String>>,
}

impl Agent {
    /// Whether the agent may search and book at `supplier` (a configured supplier code).
    pub fn may_use(&self, supplier: &str) -> bool {
        self.suppliers
            .as_ref()
            .is_none_or(|s| s.iter().any(|c| c == supplier))
    }
}

/// Why a request is not authenticated; all are 401 for the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header, or an empty one.
    #[error("missing Authorization: Bearer <api key>")]
    Missing,
    /// Not the `Bearer` scheme, or not exactly one token of visible ASCII after it.
    #[error("Authorization must be Bearer <api key>")]
    Malformed,
    /// Well formed, but no agent has this key.
    #[error("unknown API key")]
    Unknown,
}

/// The configured agents, looked up by the hash of their key.
pub struct AgentDirectory {
    agents: Vec<([u8; 32], Agent)>,
}

impl std::fmt::Debug for AgentDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.agents.iter().map(|(_, a)| &a.id))
            .finish()
    }
}

impl AgentDirectory {
    /// `agents` pairs each agent with the hex SHA-256 of its key (either case). Entries whose hash
    /// is not 64 hex characters are left out (the configuration rejects them before this); when
    /// two agents share a hash the first one wins.
    pub fn new(agents: Vec<(String, Agent)>) -> Self {
        let mut out: Vec<([u8; 32], Agent)> = Vec::with_capacity(agents.len());
        for (hash, agent) in agents {
            let mut digest = [0u8; 32];
            if hex::decode_to_slice(hash.trim(), &mut digest).is_err() {
                continue;
            }
            if out.iter().all(|(d, _)| *d != digest) {
                out.push((digest, agent));
            }
        }
        AgentDirectory { agents: out }
    }

    /// From the validated configuration's agent list.
    pub fn from_config(agents: &[arigate_config::AgentConfig]) -> Self {
        Self::new(
            agents
                .iter()
                .map(|a| {
                    let agent = Agent {
                        id: a.id.clone(),
                        name: a.name.clone(),
                        email: a.email.clone(),
                        phone: a.phone.clone(),
                        suppliers: a.suppliers.clone(),
                    };
                    (a.key_sha256.clone(), agent)
                })
                .collect(),
        )
    }

    /// Number of agents that can authenticate.
    pub fn len(&self) -> usize {
        self.agents.len()
    }

    /// True when no agent can authenticate.
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }

    /// Authenticates the value of the `Authorization` header (`None` when absent). The scheme is
    /// case-insensitive (RFC 9110 §11.1), the key is not. Every configured hash is compared, in
    /// constant time, whatever matches, so timing does not reveal how close a guess came.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<&Agent, AuthError> {
        let value = authorization
            .map(|v| v.trim_matches([' ', '\t']))
            .unwrap_or_default();
        if value.is_empty() {
            return Err(AuthError::Missing);
        }
        let (scheme, key) = value.split_once([' ', '\t']).ok_or(AuthError::Malformed)?;
        let key = key.trim_start_matches([' ', '\t']);
        if !scheme.eq_ignore_ascii_case("bearer")
            || key.is_empty()
            || key.len() > MAX_KEY_LEN
            || !key.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(AuthError::Malformed);
        }
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let mut found = None;
        for (hash, agent) in &self.agents {
            let equal: bool = hash.ct_eq(&digest).into();
            if equal && found.is_none() {
                found = Some(agent);
            }
        }
        found.ok_or(AuthError::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn agent(id: &str, suppliers: Option<&[&str]>) -> Agent {
        Agent {
            id: id.into(),
            name: format!("Agency {id}"),
            email: format!("{id}@agency.example"),
            phone: "+33 155501234".into(),
            suppliers: suppliers.map(|s| s.iter().map(|c| c.to_string()).collect()),
        }
    }

    fn directory() -> AgentDirectory {
        AgentDirectory::new(vec![
            (hash_key("key-alpha-0001"), agent("alpha", None)),
            (
                hash_key("key-beta-0002").to_uppercase(),
                agent("beta", Some(&["hotelbeds"])),
            ),
            ("not-hex".into(), agent("broken", None)),
            (hash_key("key-alpha-0001"), agent("alpha-duplicate", None)),
        ])
    }

    #[rstest]
    #[case::abc(
        "abc",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )]
    #[case::demo_key(
        "demo-key",
        "c48a01f49fd0f2cc404bc3cbbc80e91457a3d41bb429a695243de4c61794155c"
    )]
    #[case::empty("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    fn hash_key_is_lowercase_hex_sha256(#[case] key: &str, #[case] hash: &str) {
        assert_eq!(hash_key(key), hash);
    }

    #[rstest]
    #[case::bearer(Some("Bearer key-alpha-0001"), Ok("alpha"))]
    #[case::lowercase_scheme(Some("bearer key-alpha-0001"), Ok("alpha"))]
    #[case::uppercase_scheme(Some("BEARER key-beta-0002"), Ok("beta"))]
    #[case::extra_spaces(Some("  Bearer \t  key-alpha-0001 "), Ok("alpha"))]
    #[case::absent(None, Err(AuthError::Missing))]
    #[case::empty(Some(""), Err(AuthError::Missing))]
    #[case::blank(Some("   "), Err(AuthError::Missing))]
    #[case::scheme_only(Some("Bearer"), Err(AuthError::Malformed))]
    #[case::scheme_and_space(Some("Bearer   "), Err(AuthError::Malformed))]
    #[case::no_space(Some("Bearerkey-alpha-0001"), Err(AuthError::Malformed))]
    #[case::basic(Some("Basic a2V5LWFscGhhLTAwMDE="), Err(AuthError::Malformed))]
    #[case::bare_key(Some("key-alpha-0001"), Err(AuthError::Malformed))]
    #[case::two_tokens(Some("Bearer key-alpha-0001 extra"), Err(AuthError::Malformed))]
    #[case::non_ascii(Some("Bearer clé"), Err(AuthError::Malformed))]
    #[case::too_long(Some(&*format!("Bearer {}", "k".repeat(MAX_KEY_LEN + 1))), Err(AuthError::Malformed))]
    #[case::unknown(Some("Bearer key-gamma-0003"), Err(AuthError::Unknown))]
    #[case::key_is_case_sensitive(Some("Bearer KEY-ALPHA-0001"), Err(AuthError::Unknown))]
    #[case::hash_is_not_the_key(Some(&*format!("Bearer {}", hash_key("key-alpha-0001"))), Err(AuthError::Unknown))]
    fn authenticate(#[case] header: Option<&str>, #[case] expected: Result<&str, AuthError>) {
        let dir = directory();
        assert_eq!(dir.authenticate(header).map(|a| a.id.as_str()), expected);
    }

    #[test]
    fn bad_hashes_are_skipped_and_first_duplicate_wins() {
        let dir = directory();
        assert_eq!(dir.len(), 2);
        assert_eq!(format!("{dir:?}"), r#"["alpha", "beta"]"#);
    }

    #[test]
    fn empty_directory_knows_no_one() {
        let dir = AgentDirectory::new(vec![]);
        assert!(dir.is_empty());
        assert_eq!(
            dir.authenticate(Some("Bearer anything")),
            Err(AuthError::Unknown)
        );
    }

    #[rstest]
    #[case::unrestricted(None, "dida", true)]
    #[case::listed(Some(&["hotelbeds", "dida"][..]), "dida", true)]
    #[case::not_listed(Some(&["hotelbeds"][..]), "dida", false)]
    #[case::none_allowed(Some(&[][..]), "dida", false)]
    fn may_use(#[case] suppliers: Option<&[&str]>, #[case] supplier: &str, #[case] allowed: bool) {
        assert_eq!(agent("a", suppliers).may_use(supplier), allowed);
    }
}
