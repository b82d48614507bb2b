//! Decisions remembered, per worker thread.
//!
//! A policy imports nothing, so its answer is a function of its input: the same
//! request under the same state version, asked of the same loaded policy by the
//! same gate (another gate may read another state source), gets the same decision. The gate asks this small cache first and calls the component only on
//! a miss, which takes the wasm call (a few µs) off most requests. A new state version
//! or a policy swap simply stops matching. Only decisions are kept, never faults.
//!
//! Direct-mapped, a fixed number of slots per thread: no locks, and after warm-up no
//! allocation (a slot's key buffer is reused). A slot matches only when the whole key
//! compares equal, so a hash collision costs a miss, never a wrong answer.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};

use foldhash::fast::FixedState;

use drydock_engine::{Decision, RequestView};

const SLOTS: usize = 512;

/// Which gate asked which loaded policy under which state version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub gate: u64,
    pub policy: u64,
    pub version: u64,
    /// The published snapshot's facts generation (see `Published::facts`).
    pub facts: u64,
}

struct Slot {
    key: Key,
    hash: u64,
    request: Vec<u8>,
    decision: Decision,
}

thread_local! {
    static MEMO: RefCell<Vec<Option<Slot>>> = RefCell::new((0..SLOTS).map(|_| None).collect());
}

/// Every field of the descriptor a policy can see, in order.
fn fields<'a>(desc: &RequestView<'a>) -> impl Iterator<Item = &'a [u8]> {
    let attributes: &'a [(String, String)] = desc.attributes;
    [
        desc.method.as_bytes(),
        desc.path.as_bytes(),
        desc.route.as_bytes(),
        desc.first_segment.as_bytes(),
        desc.caller.username.as_bytes(),
        desc.caller.role.as_str().as_bytes(),
        if desc.caller.bypass { b"1" } else { b"0" },
    ]
    .into_iter()
    .chain(attributes.iter().flat_map(|(k, v)| [k.as_bytes(), v.as_bytes()]))
}

/// foldhash over the key and every field: fast on short strings, and a collision
/// only costs a miss.
fn hash(key: Key, desc: &RequestView<'_>) -> u64 {
    let mut h = FixedState::with_seed(0x5eed).build_hasher();
    h.write_u64(key.gate ^ key.policy.rotate_left(32));
    h.write_u64(key.version ^ key.facts.rotate_left(32));
    for field in fields(desc) {
        h.write(field);
    }
    h.finish()
}

/// The key as stored: each field's length, then its bytes.
fn write_key(buf: &mut Vec<u8>, desc: &RequestView<'_>) {
    buf.clear();
    for field in fields(desc) {
        buf.extend_from_slice(&(field.len() as u32).to_le_bytes());
        buf.extend_from_slice(field);
    }
}

fn key_matches(mut buf: &[u8], desc: &RequestView<'_>) -> bool {
    for field in fields(desc) {
        let Some((len, rest)) = buf.split_first_chunk::<4>() else { return false };
        let len = u32::from_le_bytes(*len) as usize;
        // An empty field is not compared: `memcmp` on an empty slice (a dangling
        // pointer) is slow with glibc's AVX-512 version (see `below_prefix`).
        if len != field.len() || rest.len() < len || (len != 0 && &rest[..len] != field) {
            return false;
        }
        buf = &rest[len..];
    }
    buf.is_empty()
}

/// The decision remembered for exactly this request under `key`. Reads the borrowed
/// request in place: a hit allocates nothing (an allowing one; a refusal's strings
/// are cloned).
pub fn recall(key: Key, desc: &RequestView<'_>) -> Option<Decision> {
    let h = hash(key, desc);
    MEMO.with(|memo| {
        let memo = memo.borrow();
        match &memo[h as usize % SLOTS] {
            Some(s) if s.hash == h && s.key == key && key_matches(&s.request, desc) => Some(s.decision.clone()),
            _ => None,
        }
    })
}

/// Remember a decision the policy just made.
pub fn remember(key: Key, desc: &RequestView<'_>, decision: &Decision) {
    let h = hash(key, desc);
    MEMO.with(|memo| {
        let mut memo = memo.borrow_mut();
        let slot = &mut memo[h as usize % SLOTS];
        match slot {
            Some(s) => {
                (s.key, s.hash, s.decision) = (key, h, decision.clone());
                write_key(&mut s.request, desc);
            }
            None => {
                let mut request = Vec::with_capacity(128);
                write_key(&mut request, desc);
                *slot = Some(Slot { key, hash: h, request, decision: decision.clone() });
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use drydock_engine::{Caller, Denial, RequestDescriptor, Role};

    fn desc(path: &str, user: &str) -> RequestDescriptor {
        let caller = Caller { username: user.into(), role: Role::User, bypass: false };
        RequestDescriptor::new("GET", path, "/api/v3.1/deployments/{id}", "/api/v3.1", caller)
    }

    #[test]
    fn remembers_exactly_the_same_request_policy_and_version() {
        let deny = Decision::Deny(Denial { status: 503, error_code: "x".into(), message: "m".into(), retry_after: None });
        let d = desc("/api/v3.1/deployments/a", "alice");
        let key = Key { gate: 3, policy: 7, version: 1, facts: 0 };
        assert_eq!(recall(key, &d.view()), None);
        remember(key, &d.view(), &deny);
        assert_eq!(recall(key, &d.view()), Some(deny.clone()));
        assert_eq!(recall(Key { version: 2, ..key }, &d.view()), None, "another state version");
        assert_eq!(recall(Key { facts: 1, ..key }, &d.view()), None, "other facts about the state");
        assert_eq!(recall(Key { policy: 8, ..key }, &d.view()), None, "another policy");
        assert_eq!(recall(Key { gate: 4, ..key }, &d.view()), None, "another gate (another state source)");
        assert_eq!(recall(key, &desc("/api/v3.1/deployments/b", "alice").view()), None, "another path");
        assert_eq!(recall(key, &desc("/api/v3.1/deployments/a", "bob").view()), None, "another caller");
        let mut bypass = d.clone();
        bypass.caller.bypass = true;
        assert_eq!(recall(key, &bypass.view()), None, "the bypass header");
        let mut attrs = d.clone();
        attrs.attributes.push(("tenant".into(), "t1".into()));
        assert_eq!(recall(key, &attrs.view()), None, "attributes");
    }

    #[test]
    fn fields_are_length_delimited() {
        // "ab" + "c" must not match "a" + "bc".
        let mut a = desc("/x", "ab");
        a.caller.role = Role::Other("c".into());
        let mut b = desc("/x", "a");
        b.caller.role = Role::Other("bc".into());
        let mut buf = Vec::new();
        write_key(&mut buf, &a.view());
        assert!(key_matches(&buf, &a.view()));
        assert!(!key_matches(&buf, &b.view()));
    }
}
