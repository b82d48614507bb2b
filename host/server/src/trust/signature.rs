//! A detached signature over a component's sha256, one line of text:
//! `drydock-signature-v1 KEY-ID SHA256 BASE64`. A `.sig` file holds one line per
//! signer (`drydock policy sign` appends), so several signers sign one file.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::TrustError;
use super::keys::{PublicKey, SigningKey};

const TAG: &str = "drydock-signature-v1";

/// One signer's signature over one component's sha256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub key_id: String,
    /// The sha256 the signer signed (hex): the component's, when the bytes are the signed ones.
    pub sha256: String,
    bytes: Vec<u8>,
}

/// What is signed: the sha256, tagged, so a signature means nothing elsewhere.
fn message(sha256: &str) -> Vec<u8> {
    format!("drydock policy component sha256:{sha256}").into_bytes()
}

impl Signature {
    pub fn sign(key: &SigningKey, sha256: &str) -> Signature {
        Signature { key_id: key.public().id, sha256: sha256.to_string(), bytes: key.sign(&message(sha256)) }
    }

    /// One line as [`Signature::line`] writes it.
    pub fn parse(line: &str) -> Result<Signature, TrustError> {
        let bad = || {
            let shown: String = line.chars().take(80).collect();
            TrustError::Malformed(format!("`{shown}` is not a signature line (`{TAG} KEY-ID SHA256 BASE64`, as `drydock policy sign` writes)"))
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        let [tag, key_id, sha256, sig] = words[..] else { return Err(bad()) };
        let hex_of = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if tag != TAG || !hex_of(key_id, 16) || !hex_of(sha256, 64) {
            return Err(bad());
        }
        let bytes = B64.decode(sig).ok().filter(|b| b.len() == 64).ok_or_else(bad)?;
        Ok(Signature { key_id: key_id.to_string(), sha256: sha256.to_string(), bytes })
    }

    /// Every signature in a `.sig` file's text (blank and `#` lines skipped).
    pub fn parse_all(text: &str) -> Result<Vec<Signature>, TrustError> {
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(Signature::parse).collect()
    }

    /// `FILE.sig`: where `drydock policy sign` writes a component's signatures, and
    /// where `policy push` and `serve --policy` look for them.
    pub fn file_beside(component: &Path) -> PathBuf {
        let mut p = component.as_os_str().to_owned();
        p.push(".sig");
        PathBuf::from(p)
    }

    /// The signatures in a `.sig` file; none when there is no such file.
    pub fn read_file(path: &Path) -> Result<Vec<Signature>, TrustError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Signature::parse_all(&text).map_err(|e| TrustError::Malformed(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(TrustError::Malformed(format!("cannot read {}: {e}", path.display()))),
        }
    }

    pub fn line(&self) -> String {
        format!("{TAG} {} {} {}", self.key_id, self.sha256, B64.encode(&self.bytes))
    }

    /// Signed by `key`, over `sha256`?
    pub fn verifies(&self, key: &PublicKey, sha256: &str) -> bool {
        self.key_id == key.id && self.sha256 == sha256 && key.verifies(&message(sha256), &self.bytes)
    }
}
