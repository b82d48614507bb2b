//! Ed25519 keys as files: a private key (PKCS#8, PEM, mode 0600) and its public
//! key on one line (`drydock-ed25519 BASE64 NAME`), like an OpenSSH `.pub`. A key's
//! id is the first 16 hex digits of its public key's sha256.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use sha2::{Digest, Sha256};

use super::TrustError;

/// The first word of a public key's line.
const PUBLIC_TAG: &str = "drydock-ed25519";
const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// A key that may sign (`drydock policy sign`).
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

/// A key that checks signatures: its id, its 32 bytes, and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub id: String,
    bytes: [u8; 32],
    /// The name after the key on its line (the file's name, by default).
    pub name: String,
}

fn key_id(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))[..16].to_string()
}

impl SigningKey {
    /// A new key pair: the private key's PEM text and the public key's line.
    pub fn generate(name: &str) -> Result<(String, String), TrustError> {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| TrustError::Key("cannot generate a key".into()))?;
        let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(|_| TrustError::Key("cannot generate a key".into()))?;
        let body = B64.encode(doc.as_ref());
        let pem = format!("{PEM_BEGIN}\n{body}\n{PEM_END}\n");
        let public = format!("{PUBLIC_TAG} {} {name}\n", B64.encode(pair.public_key().as_ref()));
        Ok((pem, public))
    }

    /// The private key in `path` (as `generate` writes it).
    pub fn read(path: &Path) -> Result<SigningKey, TrustError> {
        let bad = |why: &str| TrustError::Key(format!("{}: {why}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| bad(&e.to_string()))?;
        let body: String = text.lines().map(str::trim).filter(|l| !l.is_empty() && *l != PEM_BEGIN && *l != PEM_END).collect();
        let der = B64.decode(body).map_err(|_| bad("not a private key written by `drydock policy keygen`"))?;
        let pair = Ed25519KeyPair::from_pkcs8(&der).map_err(|_| bad("not an Ed25519 private key"))?;
        Ok(SigningKey { pair })
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }

    pub fn public(&self) -> PublicKey {
        let bytes: [u8; 32] = self.pair.public_key().as_ref().try_into().expect("an Ed25519 public key is 32 bytes");
        PublicKey { id: key_id(&bytes), bytes, name: String::new() }
    }
}

impl PublicKey {
    /// One line as `generate` writes it; `default_name` when the line names none.
    pub fn parse(line: &str, default_name: &str) -> Option<PublicKey> {
        let mut words = line.split_whitespace();
        if words.next()? != PUBLIC_TAG {
            return None;
        }
        let bytes: [u8; 32] = B64.decode(words.next()?).ok()?.try_into().ok()?;
        let name = words.collect::<Vec<_>>().join(" ");
        let name = if name.is_empty() { default_name.to_string() } else { name };
        Some(PublicKey { id: key_id(&bytes), bytes, name })
    }

    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, self.bytes).verify(message, signature).is_ok()
    }
}

/// Where the trusted keys are: a file of public-key lines, or a directory of
/// `*.pub` files. Read again at every check, so a key added or removed takes
/// effect without a restart (rotation without downtime).
#[derive(Debug, Clone)]
pub struct KeySource(pub PathBuf);

impl KeySource {
    pub fn keys(&self) -> Result<Vec<PublicKey>, TrustError> {
        let unreadable = |p: &Path, e: std::io::Error| TrustError::Keys(format!("cannot read the trusted keys in {}: {e}", p.display()));
        let files: Vec<PathBuf> = if self.0.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&self.0)
                .map_err(|e| unreadable(&self.0, e))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "pub"))
                .collect();
            files.sort();
            files
        } else {
            vec![self.0.clone()]
        };
        let mut keys: Vec<PublicKey> = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|e| unreadable(&file, e))?;
            let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#')) {
                let key = PublicKey::parse(line, &stem)
                    .ok_or_else(|| TrustError::Keys(format!("{} line {}: not a public key written by `drydock policy keygen`", file.display(), n + 1)))?;
                if !keys.iter().any(|k| k.id == key.id) {
                    keys.push(key);
                }
            }
        }
        Ok(keys)
    }
}
