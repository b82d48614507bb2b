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
