//! `drydock policy keygen|sign|verify`: Ed25519 keys and detached signatures over a
//! component's sha256, made and checked on this machine (no server, no network).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use drydock_server::trust::{KeySource, Signature, SigningKey, Trust};
use sha2::{Digest, Sha256};

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the private key (mode 0600); the public key goes to NAME.pub.
    #[arg(short = 'o', long = "output", value_name = "NAME")]
    pub output: PathBuf,
    /// Overwrite existing key files.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The component (.wasm).
    pub file: PathBuf,
    /// The private key (as `drydock policy keygen` writes it).
    #[arg(long, value_name = "NAME")]
    pub key: PathBuf,
    /// Where to add the signature line (default FILE.sig; each signer adds theirs).
    #[arg(short = 'o', long = "output", value_name = "SIG")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The component (.wasm).
    pub file: PathBuf,
    /// The trusted public keys: a file of key lines, or a directory of `*.pub` files.
    #[arg(long, value_name = "FILE|DIR")]
    pub trusted_keys: PathBuf,
    /// The signatures (default FILE.sig).
    #[arg(long, value_name = "SIG")]
    pub signature: Option<PathBuf>,
    /// How many distinct trusted keys must have signed.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub min_signers: usize,
}

fn sha256_of(file: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

pub fn keygen(a: KeygenArgs) -> anyhow::Result<i32> {
    let public_path = default_pub_path(&a.output);
    for p in [&a.output, &public_path] {
        if p.exists() && !a.force {
            bail!("{} exists already: pick another name, or --force to replace it", p.display());
        }
    }
    let name = a.output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "key".into());
    let (private, public) = SigningKey::generate(&name)?;
    write_private(&a.output, private.as_bytes())?;
    std::fs::write(&public_path, public).with_context(|| format!("cannot write {}", public_path.display()))?;
    let key = SigningKey::read(&a.output)?;
    println!("Wrote the private key {} (keep it secret) and the public key {}.", a.output.display(), public_path.display());
    println!("Key id: {}", key.public().id);
    println!("Trust it on the server: drydock serve --trusted-keys {} --require-signed", public_path.display());
    Ok(0)
}

fn default_pub_path(private: &Path) -> PathBuf {
    let mut p = private.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

/// The private key, readable by its owner only, from its first byte.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    f.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))
}

pub fn sign(a: SignArgs) -> anyhow::Result<i32> {
    let sha256 = sha256_of(&a.file)?;
    let key = SigningKey::read(&a.key)?;
    let signature = Signature::sign(&key, &sha256);
    let out = a.output.unwrap_or_else(|| Signature::file_beside(&a.file));
    // One line per signer: a signer signing again replaces its own line.
    let kept = Signature::read_file(&out)?;
    let mut lines: Vec<String> = kept.iter().filter(|s| s.key_id != signature.key_id).map(Signature::line).collect();
    lines.push(signature.line());
    std::fs::write(&out, lines.join("\n") + "\n").with_context(|| format!("cannot write {}", out.display()))?;
    println!("Signed {} (sha256 {sha256}) with key {}; {} holds {} signature(s).", a.file.display(), signature.key_id, out.display(), lines.len());
    Ok(0)
}

/// 0: signed by enough distinct trusted keys; 1: not.
pub fn verify(a: VerifyArgs) -> anyhow::Result<i32> {
    let sha256 = sha256_of(&a.file)?;
    let path = a.signature.unwrap_or_else(|| Signature::file_beside(&a.file));
    let signatures = Signature::read_file(&path)?;
    let trust = Trust { keys: Some(KeySource(a.trusted_keys)), required: true, min_signers: a.min_signers.max(1) };
    let label = a.file.display().to_string();
    for s in signatures.iter().filter(|s| s.sha256 != sha256) {
        println!("Key {} signed other bytes (sha256 {}), not {label} ({sha256}): were the bytes changed after signing?", s.key_id, s.sha256);
    }
    match trust.admit(&label, &sha256, &signatures) {
        Ok(signers) => {
            let names: Vec<String> = signers.trusted.iter().map(|(id, name)| format!("{name} ({id})")).collect();
            println!("{label} (sha256 {sha256}) is signed by {} trusted key(s): {}.", names.len(), names.join(", "));
            Ok(0)
        }
        Err(e) => {
            println!("{e}");
            Ok(1)
        }
    }
}
