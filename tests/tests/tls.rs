//! HTTPS: `drydock serve --tls-cert --tls-key` with a certificate made at test time
//! (a private CA, `scripts/test-cert.sh`), and drydock's own CLI over it.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use drydock_e2e::{binary, free_port, workspace};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cli(url: &str, ca: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = Command::new(binary());
    cmd.args(["--manager", url, "-u", "admin", "--password", "tls-secret"]);
    if let Some(ca) = ca {
        cmd.arg("--ca-file").arg(ca);
    }
    cmd.args(args).env("DRYDOCK_CONFIG_DIR", std::env::temp_dir().join(format!("drydock-tls-cfg-{}", std::process::id())));
    cmd.stdin(Stdio::null()).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn the_server_speaks_https_and_the_cli_trusts_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let made = Command::new(workspace().join("scripts/test-cert.sh")).arg(&certs).output().unwrap();
    assert!(made.status.success(), "{}", text(&made));
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let _server = Running(
        Command::new(binary())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--tls-cert")
            .arg(certs.join("server.pem"))
            .arg("--tls-key")
            .arg(certs.join("server-key.pem"))
            .env("DRYDOCK_ADMIN_PASSWORD", "tls-secret")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let https = format!("https://127.0.0.1:{port}");
    let ca = certs.join("ca.pem");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cli(&https, Some(&ca), &["status"]).status.success() {
        assert!(Instant::now() < deadline, "no https answer within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }

    let out = cli(&https, Some(&ca), &["maintenance-mode", "activate"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = cli(&https, Some(&ca), &["maintenance-mode", "status"]);
    assert!(text(&out).contains("\tStatus:\tactivated"), "{}", text(&out));
    let out = cli(&https, Some(&ca), &["maintenance-mode", "deactivate"]);
    assert!(text(&out).contains("Maintenance mode is off."), "{}", text(&out));

    // Without the CA the certificate is not trusted, and the CLI says what to do.
    let out = cli(&https, None, &["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--ca-file"), "{}", text(&out));
    // Plain HTTP to the TLS port gets no answer a client would take for one.
    let out = cli(&format!("http://127.0.0.1:{port}"), None, &["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // The console's session cookie is Secure under HTTPS: a browser never sends it
    // over plain HTTP.
    let pem = std::fs::read(&ca).unwrap();
    let roots: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(roots))).build())
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let r = agent
        .post(&format!("{https}/console/login"))
        .content_type("application/x-www-form-urlencoded")
        .send("username=admin&password=tls-secret")
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.split("; ").any(|a| a == "Secure"), "{cookie}");
}
