//! Logs fit where they go: no colour codes in a file, one JSON object a line for a
//! collector, and an access line per request that names the caller and the deciding
//! policy (and never a password).

use drydock_e2e::Server;

#[test]
fn a_text_log_to_a_file_has_no_colour_codes_and_an_access_line_per_request() {
    let s = Server::start();
    assert_eq!(s.admin().get("/api/v3.1/deployments").status, 200);
    let log = s.log_text();
    assert!(!log.contains('\u{1b}'), "escape codes in a log file:\n{log}");
    let line = log
        .lines()
        .find(|l| l.contains("drydock::access") && l.contains("path=/api/v3.1/deployments"))
        .unwrap_or_else(|| panic!("no access line:\n{log}"));
    for part in ["method=GET", "status=200", "user=admin", "policy=cloudify-default@", "micros="] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
}

#[test]
fn a_json_log_is_one_object_a_line() {
    let s = Server::start_with(&["--log-format", "json"]);
    assert_eq!(s.client("admin", "wrong-password").get("/api/v3.1/status").status, 401);
    assert_eq!(s.admin().get("/api/v3.1/status").status, 200);
    let log = s.log_text();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let access: Vec<_> = lines.iter().filter(|v| v["target"] == "drydock::access").collect();
    assert!(
        access.iter().any(|v| v["fields"]["status"] == 200 && v["fields"]["user"] == "admin"),
        "{access:?}"
    );
    assert!(access.iter().any(|v| v["fields"]["status"] == 401), "{access:?}");
    assert!(!log.contains("wrong-password"), "a password reached the log");
}

/// A user name with a newline, as a stranger may send it to the console's sign-in
/// form or in Basic credentials, cannot forge a log line: every field's control
/// characters are escaped.
#[test]
fn a_forged_line_in_a_user_name_stays_on_its_own_line() {
    use base64::Engine as _;
    let s = Server::start();
    let forged = "2026-12-06T00:00:00.000000Z  INFO drydock: maintenance mode user=admin action=deactivate";
    let name = format!("x\n{forged}");
    let r = s.anon().req("POST", "/console/login").header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("username=x%0A{}&password=nope", forged.replace(' ', "+").replace(':', "%3A").replace('=', "%3D")))
        .send();
    assert_eq!(r.status, 401, "{}", r.text);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{name}:nope"));
    let r = s.anon().req("GET", "/api/v3.1/status").header("Authorization", &format!("Basic {basic}")).send();
    assert_eq!(r.status, 401, "{}", r.text);
    let log = s.log_text();
    assert!(log.matches("failed login").count() >= 2, "both attempts logged:\n{log}");
    assert!(!log.lines().any(|l| l.starts_with(forged)), "a forged line in the log:\n{log}");
    assert!(log.contains("x\\n2026-12-06"), "the newline is shown escaped:\n{log}");
}
