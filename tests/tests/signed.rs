//! Signed-only activation against the real binary: keys made and components signed
//! with `drydock policy keygen|sign`, a server that trusts a directory of keys and
//! requires two distinct signers. Unsigned bytes, an untrusted signer, one signer
//! where two are required (even signing twice) and bytes changed after signing are
//! refused at every door with `policy_not_trusted_error` (or a 400 for a signature
//! over other bytes) and change nothing; a properly signed version activates; keys
//! rotate without a restart; a restart with an active version no longer trusted
//! falls back to the builtin and says so.

use std::path::{Path, PathBuf};

use drydock_e2e::{ADMIN_PASSWORD, Client, Resp, Server, run_cli};
use drydock_engine::STRICT_POLICY;
use serde_json::{Value, json};

const P: &str = "/api/v3.1/policies";

struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    /// The trusted keys' directory (only `.pub` files of trusted signers).
    fn trusted(&self) -> PathBuf {
        self.dir.path().join("trusted")
    }

    /// A new key pair `name`; trusted when `trusted`.
    fn make(&self, name: &str, trusted: bool) -> PathBuf {
        let private = self.dir.path().join(name);
        let out = run_cli(&[], &["policy", "keygen", "-o", private.to_str().unwrap()]);
        assert_eq!(out.code, 0, "{out:?}");
        if trusted {
            std::fs::copy(self.dir.path().join(format!("{name}.pub")), self.trusted().join(format!("{name}.pub"))).unwrap();
        }
        private
    }

    fn new() -> Keys {
        let k = Keys { dir: tempfile::tempdir().unwrap() };
        std::fs::create_dir(k.trusted()).unwrap();
        k
    }
}

/// `file` signed by each key: the signature lines.
fn sign(file: &Path, keys: &[&Path]) -> Vec<String> {
    let sig = file.with_extension("wasm.sig");
    let _ = std::fs::remove_file(&sig);
    for key in keys {
        let out = run_cli(&[], &["policy", "sign", file.to_str().unwrap(), "--key", key.to_str().unwrap()]);
        assert_eq!(out.code, 0, "{out:?}");
    }
    std::fs::read_to_string(&sig).unwrap().lines().map(str::to_string).collect()
}

fn upload(admin: &Client, bytes: &[u8], signatures: &[String]) -> Resp {
    let mut req = admin.req("POST", P).header("Content-Type", "application/wasm");
    for s in signatures {
        req = req.header("X-Drydock-Signature", s);
    }
    req.body(bytes.to_vec()).send()
}

fn refused_untrusted(r: &Resp, what: &str, says: &str) {
    assert_eq!((r.status, r.error_code().as_str()), (403, "policy_not_trusted_error"), "{what}: {}", r.text);
    let message = r.json()["message"].as_str().unwrap().to_string();
    assert!(message.contains(says), "{what}: `{says}` not in: {message}");
}

/// The console's page, as the admin sees it (over plain HTTP).
fn console_page(base: &str) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let r = agent
        .post(&format!("{base}/console/login"))
        .content_type("application/x-www-form-urlencoded")
        .send(format!("username=admin&password={ADMIN_PASSWORD}"))
        .unwrap();
    let cookie = r.headers().get("set-cookie").expect("a session cookie").to_str().unwrap().split(';').next().unwrap().to_string();
    agent.get(&format!("{base}/console")).header("Cookie", &cookie).call().unwrap().body_mut().read_to_string().unwrap()
}

fn active_label(admin: &Client) -> String {
    admin.get(&format!("{P}/active")).json()["label"].as_str().unwrap().to_string()
}

#[test]
fn only_versions_signed_by_enough_trusted_keys_pass_any_door() {
    let keys = Keys::new();
    let (alice, bob) = (keys.make("alice", true), keys.make("bob", true));
    let mallory = keys.make("mallory", false);
    let trusted = keys.trusted();
    let mut s = Server::start_with(&["--trusted-keys", trusted.to_str().unwrap(), "--require-signed", "--min-signers", "2", "--decision-log-sample", "all"]);
    let admin = s.admin();
    let builtin = active_label(&admin);
    let work = tempfile::tempdir().unwrap();
    let strict = work.path().join("strict.wasm");
    std::fs::write(&strict, STRICT_POLICY).unwrap();

    // Refused at upload, each saying what is missing; nothing is stored.
    refused_untrusted(&upload(&admin, STRICT_POLICY, &[]), "unsigned", "is not signed");
    let one_and_mallory = sign(&strict, &[&alice, &mallory]);
    let r = upload(&admin, STRICT_POLICY, &one_and_mallory);
    refused_untrusted(&r, "alice and an untrusted key", "signed by 1 distinct trusted key(s) of the 2 required");
    assert!(r.text.contains("not trusted here"), "{}", r.text);
    let alice_twice = [sign(&strict, &[&alice]), sign(&strict, &[&alice])].concat();
    refused_untrusted(&upload(&admin, STRICT_POLICY, &alice_twice), "one signer twice", "1 distinct trusted key(s) of the 2");
    // Signed, then the bytes changed: the signature is over other bytes.
    let both = sign(&strict, &[&alice, &bob]);
    let mut changed = STRICT_POLICY.to_vec();
    changed.extend_from_slice(b"\0\x05\x04tail"); // a custom section: still a loadable component
    let r = upload(&admin, &changed, &both);
    assert_eq!((r.status, r.error_code().as_str()), (400, "bad_parameters_error"), "{}", r.text);
    assert!(r.text.contains("over other bytes"), "{}", r.text);
    assert_eq!(admin.get(P).json()["items"].as_array().unwrap().len(), 1, "only the builtin is listed");

    // Properly signed: stored, shown with its signers, and it activates.
    let r = upload(&admin, STRICT_POLICY, &both);
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let names: std::collections::BTreeSet<(String, bool)> =
        r.json()["signatures"].as_array().unwrap().iter().map(|s| (s["key_name"].as_str().unwrap_or("").to_string(), s["trusted"].as_bool().unwrap())).collect();
    assert_eq!(names, [("alice".to_string(), true), ("bob".to_string(), true)].into(), "{}", r.text);
    let r = admin.post(&format!("{P}/{id}/shadow"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(admin.delete(&format!("{P}/shadow")).status, 200);
    let r = admin.post(&format!("{P}/{id}/activate"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(active_label(&admin).starts_with("cloudify-strict@"));
    // Who signed the deciding version is in each decision record.
    let r = admin.get("/api/v3.1/deployments");
    let decision = r.header("x-drydock-decision-id").expect("every decision kept").to_string();
    let mut record = Value::Null;
    admin.wait_for(10, "the decision in the log", |c| {
        let r = c.get(&format!("/api/v3.1/decisions/{decision}"));
        record = r.json();
        r.status == 200
    });
    let signed_by: Vec<&str> = record["policy"]["signed_by"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(signed_by.len() == 2 && signed_by.iter().any(|s| s.starts_with("alice (")), "{record}");

    // Rotation without a restart: bob's key goes; strict is no longer enough.
    std::fs::remove_file(trusted.join("bob.pub")).unwrap();
    assert_eq!(admin.post(&format!("{P}/rollback"), &json!({})).status, 200, "the builtin is trusted as part of drydock");
    assert_eq!(active_label(&admin), builtin);
    let r = admin.post(&format!("{P}/{id}/activate"), &json!({}));
    refused_untrusted(&r, "activate after bob's key went", "signed by 1 distinct trusted key(s) of the 2 required");
    refused_untrusted(&admin.post(&format!("{P}/rollback"), &json!({})), "roll back to it", "1 distinct trusted key(s)");
    refused_untrusted(&admin.post(&format!("{P}/{id}/shadow"), &json!({})), "shadow it", "1 distinct trusted key(s)");
    assert_eq!(active_label(&admin), builtin, "nothing changed");
    // Carol's key is added and she signs the stored version: it activates again.
    let carol = keys.make("carol", true);
    let sig = strict.with_extension("wasm.sig");
    sign(&strict, &[&carol]);
    let base = s.base();
    let env = [("DRYDOCK_URL", base.as_str()), ("DRYDOCK_USERNAME", "admin"), ("DRYDOCK_PASSWORD", ADMIN_PASSWORD)];
    let out = run_cli(&env, &["policy", "add-signature", &id, sig.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("carol"), "{}", out.stdout);
    let r = admin.post(&format!("{P}/{id}/activate"), &json!({}));
    assert_eq!(r.status, 200, "alice and carol: {}", r.text);
    let history = admin.get(&format!("{P}/history")).json();
    let signs = history["items"].as_array().unwrap().iter().filter(|e| e["action"] == "sign").count();
    assert_eq!(signs, 3, "alice, bob and carol signed: {history}");
    let list = run_cli(&env, &["policy", "list"]);
    assert!(list.stdout.contains("alice") && list.stdout.contains("carol") && list.stdout.contains("(not trusted)"), "bob's is shown, untrusted now: {}", list.stdout);
    let page = console_page(&base);
    let cell = page.split(&format!("id=\"signed-{id}\">")).nth(1).and_then(|rest| rest.split("</td>").next()).unwrap_or("");
    assert!(cell.contains("alice") && cell.contains("carol") && cell.contains("(not trusted)"), "the console's versions table: {cell}");

    // A restart where the active version is no longer trusted: the builtin decides,
    // and the history says why.
    s.stop();
    std::fs::remove_file(trusted.join("carol.pub")).unwrap();
    s.restart();
    let admin = s.admin();
    assert_eq!(active_label(&admin), builtin, "fell back to the builtin");
    let history = admin.get(&format!("{P}/history")).json();
    let fallback = history["items"].as_array().unwrap().iter().find(|e| e["action"] == "fallback").cloned().unwrap_or(Value::Null);
    assert!(fallback["detail"].as_str().unwrap_or("").contains("1 distinct trusted key(s) of the 2"), "{history}");
}

/// `drydock policy push` sends FILE.sig beside the component; `--policy FILE` at
/// start-up reads it too, and a server refuses to start on one not signed enough.
#[test]
fn push_and_start_up_carry_the_signatures_beside_the_file() {
    let keys = Keys::new();
    let alice = keys.make("alice", true);
    let trusted = keys.trusted();
    let work = tempfile::tempdir().unwrap();
    let strict = work.path().join("strict.wasm");
    std::fs::write(&strict, STRICT_POLICY).unwrap();

    // Unsigned at start-up: no start, and the reason.
    let mut s = Server::start_with(&["--trusted-keys", trusted.to_str().unwrap(), "--require-signed"]);
    let base = s.base();
    let env = [("DRYDOCK_URL", base.as_str()), ("DRYDOCK_USERNAME", "admin"), ("DRYDOCK_PASSWORD", ADMIN_PASSWORD)];
    let out = run_cli(&env, &["policy", "push", strict.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("policy_not_trusted_error") && out.stderr.contains("drydock policy sign"), "the error and the hint: {}", out.stderr);
    sign(&strict, &[&alice]);
    let out = run_cli(&env, &["policy", "push", strict.to_str().unwrap(), "--activate"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(active_label(&s.admin()).starts_with("cloudify-strict@"));
    s.stop();

    let unsigned = work.path().join("unsigned.wasm");
    std::fs::write(&unsigned, STRICT_POLICY).unwrap();
    let started = drydock_e2e::cli_command(
        &[("DRYDOCK_ADMIN_PASSWORD", ADMIN_PASSWORD)],
        &[
            "serve",
            "--listen",
            &format!("127.0.0.1:{}", drydock_e2e::free_port()),
            "--data-dir",
            work.path().join("data").to_str().unwrap(),
            "--policy",
            unsigned.to_str().unwrap(),
            "--trusted-keys",
            trusted.to_str().unwrap(),
            "--require-signed",
        ],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&started.stderr);
    assert!(!started.status.success(), "started with an unsigned --policy: {stderr}");
    assert!(stderr.contains("refusing to start") && stderr.contains("is not signed"), "{stderr}");
}

/// Several hosts on one database: each checks what it follows against its own
/// keys. A host that requires two signers does not take up a version another host
/// activated with one (it keeps deciding with what it had, and retries); once a
/// second signer adds theirs, it does.
#[test]
fn a_host_follows_another_hosts_activation_only_when_it_trusts_the_version() {
    let keys = Keys::new();
    let (alice, bob) = (keys.make("alice", true), keys.make("bob", true));
    let trusted = keys.trusted();
    let url = drydock_e2e::postgres::fresh_database();
    let common = ["--database-url", &url, "--follow-poll", "0.5", "--trusted-keys", trusted.to_str().unwrap(), "--require-signed"];
    let a = Server::start_with(&[&common[..], &["--min-signers", "1"]].concat());
    let b = Server::start_with(&[&common[..], &["--min-signers", "2"]].concat());
    let (admin_a, admin_b) = (a.admin(), b.admin());
    let work = tempfile::tempdir().unwrap();
    let strict = work.path().join("strict.wasm");
    std::fs::write(&strict, STRICT_POLICY).unwrap();
    let decided_by = |c: &Client| c.get("/api/v3.1/status").header("x-drydock-policy").unwrap_or("").to_string();
    let builtin = decided_by(&admin_b);

    let r = upload(&admin_a, STRICT_POLICY, &sign(&strict, &[&alice]));
    assert_eq!(r.status, 201, "one signer is enough on A: {}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_string();
    refused_untrusted(&admin_b.post(&format!("{P}/{id}/activate"), &json!({})), "B's own door", "1 distinct trusted key(s) of the 2");
    assert_eq!(admin_a.post(&format!("{P}/{id}/activate"), &json!({})).status, 200);
    admin_a.wait_for(10, "A decides with strict", |c| decided_by(c).starts_with("cloudify-strict@"));
    // B has polled several times (every 0.5 s) and still decides with the builtin.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(decided_by(&admin_b), builtin, "B does not take up a version it does not trust");
    assert!(b.log_text().contains("is signed by 1 distinct trusted key(s) of the 2 required"), "B says why");

    let r = admin_a.post(&format!("{P}/{id}/signatures"), &json!({"signatures": sign(&strict, &[&bob])}));
    assert_eq!(r.status, 200, "{}", r.text);
    admin_b.wait_for(30, "B takes it up once bob signed", |c| decided_by(c).starts_with("cloudify-strict@"));
}
