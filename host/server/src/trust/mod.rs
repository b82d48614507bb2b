//! Signed policies: which keys the operator trusts, and whether a component's
//! signatures meet the requirement (`serve --trusted-keys --require-signed
//! --min-signers N`). Everything is local: keys are files on the host, signatures
//! are Ed25519 over the component's sha256 (`ring`, already linked for TLS), and
//! nothing needs a network.
//!
//! `keys` reads and writes key files, `signature` is one signer's signature.

pub mod keys;
pub mod signature;

pub use keys::{KeySource, PublicKey, SigningKey};
pub use signature::Signature;

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// A signature line that is not one.
    #[error("{0}")]
    Malformed(String),
    /// A key file that cannot be read or is not a key.
    #[error("{0}")]
    Key(String),
    /// The trusted keys cannot be read: nothing is trusted until they can.
    #[error("{0}")]
    Keys(String),
    /// Signed, but not enough: what is missing, said.
    #[error("{0}")]
    Untrusted(String),
    /// A signature over other bytes, or one that a trusted key does not verify.
    #[error("{0}")]
    Invalid(String),
}

/// Who signed a component, against the trusted keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signers {
    /// Distinct trusted keys whose signature verifies: (id, name).
    pub trusted: Vec<(String, String)>,
    /// Signatures by keys not trusted here (kept; they may be trusted later).
    pub untrusted: Vec<String>,
    /// Signatures by a trusted key that do not verify over these bytes.
    pub invalid: Vec<String>,
}

/// What a version needs before it may decide, shadow or start.
#[derive(Debug, Clone)]
pub struct Trust {
    pub keys: Option<KeySource>,
    /// Require signatures (`--require-signed`); without it signatures are shown, not required.
    pub required: bool,
    /// Distinct trusted keys required (at least 1).
    pub min_signers: usize,
}

impl Trust {
    /// No keys, nothing required: every version may be activated.
    pub fn none() -> Trust {
        Trust { keys: None, required: false, min_signers: 1 }
    }

    /// Sort `signatures` of the component `sha256` against the trusted keys.
    pub fn signers(&self, sha256: &str, signatures: &[Signature]) -> Result<Signers, TrustError> {
        let keys = match &self.keys {
            Some(source) => source.keys()?,
            None => Vec::new(),
        };
        let mut out = Signers::default();
        for sig in signatures {
            match keys.iter().find(|k| k.id == sig.key_id) {
                None => out.untrusted.push(sig.key_id.clone()),
                Some(k) if sig.verifies(k, sha256) => {
                    if !out.trusted.iter().any(|(id, _)| *id == k.id) {
                        out.trusted.push((k.id.clone(), k.name.clone()));
                    }
                }
                Some(k) => out.invalid.push(k.id.clone()),
            }
        }
        Ok(out)
    }

    /// May the component `sha256`, with these signatures, be activated, shadowed
    /// or started? The refusal names what is missing.
    pub fn admit(&self, label: &str, sha256: &str, signatures: &[Signature]) -> Result<Signers, TrustError> {
        let signers = self.signers(sha256, signatures)?;
        if !self.required || signers.trusted.len() >= self.min_signers {
            return Ok(signers);
        }
        let mut why = match signatures.len() {
            0 => format!("Policy version {label} is not signed; signatures by {} trusted key(s) are required", self.min_signers),
            _ => format!(
                "Policy version {label} is signed by {} distinct trusted key(s) of the {} required",
                signers.trusted.len(),
                self.min_signers
            ),
        };
        if !signers.trusted.is_empty() {
            let names: Vec<String> = signers.trusted.iter().map(|(id, name)| format!("{name} ({id})")).collect();
            why.push_str(&format!("; trusted: {}", names.join(", ")));
        }
        if !signers.untrusted.is_empty() {
            why.push_str(&format!("; signed by keys not trusted here: {}", signers.untrusted.join(", ")));
        }
        if !signers.invalid.is_empty() {
            why.push_str(&format!("; signatures that do not verify over these bytes: {}", signers.invalid.join(", ")));
        }
        why.push_str(". Sign it (`drydock policy sign`) and add the signatures (`drydock policy add-signature`), or trust the signer's key (`serve --trusted-keys`)");
        Err(TrustError::Untrusted(why))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dir: &std::path::Path, name: &str) -> SigningKey {
        let (private, public) = SigningKey::generate(name).unwrap();
        std::fs::write(dir.join(name), private).unwrap();
        std::fs::write(dir.join(format!("{name}.pub")), public).unwrap();
        SigningKey::read(&dir.join(name)).unwrap()
    }

    #[test]
    fn distinct_trusted_signers_over_exactly_these_bytes_are_counted() {
        let keys = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let (a, b) = (key(keys.path(), "alice"), key(keys.path(), "bob"));
        let mallory = key(other.path(), "mallory");
        let sha = "ab".repeat(32);
        let trust = Trust { keys: Some(KeySource(keys.path().to_path_buf())), required: true, min_signers: 2 };
        let sig = |k: &SigningKey| Signature::parse(&Signature::sign(k, &sha).line()).unwrap();

        assert!(trust.admit("x", &sha, &[sig(&a), sig(&b)]).is_ok());
        // One signer twice is one signer.
        let e = trust.admit("x", &sha, &[sig(&a), sig(&a)]).unwrap_err().to_string();
        assert!(e.contains("signed by 1 distinct trusted key(s) of the 2"), "{e}");
        let e = trust.admit("x", &sha, &[sig(&a), sig(&mallory)]).unwrap_err().to_string();
        assert!(e.contains(&format!("not trusted here: {}", mallory.public().id)), "{e}");
        assert!(trust.admit("x", &sha, &[]).unwrap_err().to_string().contains("is not signed"));
        // Signed over other bytes: claims this sha256, verifies over another.
        let forged = Signature::sign(&b, &"cd".repeat(32)).line().replace(&"cd".repeat(32), &sha);
        let e = trust.admit("x", &sha, &[sig(&a), Signature::parse(&forged).unwrap()]).unwrap_err().to_string();
        assert!(e.contains("do not verify"), "{e}");
        // Not required: shown, not enforced.
        let open = Trust { required: false, ..trust.clone() };
        assert_eq!(open.admit("x", &sha, &[sig(&a)]).unwrap().trusted.len(), 1);
        // A key removed is no longer trusted (read at each check).
        std::fs::remove_file(keys.path().join("bob.pub")).unwrap();
        assert!(trust.admit("x", &sha, &[sig(&a), sig(&b)]).is_err());
    }

    #[test]
    fn odd_signature_lines_are_refused_with_what_one_looks_like() {
        for bad in ["", "drydock-signature-v1", "drydock-signature-v1 zz 00 AA==", &format!("drydock-signature-v1 {} {} AAAA", "0".repeat(16), "0".repeat(64)), "𓥟 𓥟 𓥟 𓥟"] {
            assert!(matches!(Signature::parse(bad), Err(TrustError::Malformed(_))), "{bad:?}");
        }
    }
}
