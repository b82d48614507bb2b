//! Client mistakes get a clear 4xx in the reference's error shape, and change nothing.

use drydock_e2e::{Resp, Server};
use serde_json::json;

fn error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    let body = r.json();
    assert_eq!(body["error_code"], code, "{}", r.text);
    assert!(!body["message"].as_str().unwrap().is_empty());
    assert!(body.get("server_traceback").is_some());
}

#[test]
fn malformed_bodies() {
    let s = Server::start();
    let admin = s.admin();
    admin.create_deployment("d");

    let r = admin.req("POST", "/api/v3.1/executions").header("Content-Type", "application/json").body("{not json").send();
    error(&r, 400, "bad_parameters_error");
    let r = admin.post("/api/v3.1/executions", &json!({"deployment_id": "d", "workflow_id": 7}));
    error(&r, 400, "bad_parameters_error");
    let r = admin.post("/api/v3.1/executions", &json!({"deployment_id": "d"}));
    error(&r, 400, "bad_parameters_error");
    let r = admin.post("/api/v3.1/executions", &json!({"deployment_id": "d", "workflow_id": "x", "parameters": [1]}));
    error(&r, 400, "bad_parameters_error");
    let r = admin.req("POST", "/api/v3.1/executions").header("Content-Type", "text/plain").body("hello").send();
    error(&r, 415, "unsupported_media_type_error");
    let big = format!("{{\"deployment_id\": \"d\", \"workflow_id\": \"{}\"}}", "x".repeat(1024 * 1024 + 1024));
    let r = admin.req("POST", "/api/v3.1/executions").header("Content-Type", "application/json").body(big).send();
    error(&r, 413, "payload_too_large_error");
    let r = admin.get("/api/v3.1/executions?_size=lots");
    error(&r, 400, "bad_parameters_error");
    let r = admin.get("/api/v3.1/executions?_sort=password");
    error(&r, 400, "bad_parameters_error");
    let r = admin.put("/api/v3.1/deployments/bad%20id", &json!({}));
    error(&r, 400, "bad_parameters_error");

    // Nothing of the above was written.
    let list = admin.get("/api/v3.1/executions").json();
    assert_eq!(list["metadata"]["pagination"]["total"], 0);
}

#[test]
fn unknown_ids_and_duplicates() {
    let s = Server::start();
    let admin = s.admin();
    error(&admin.get("/api/v3.1/executions/nope"), 404, "not_found_error");
    error(&admin.get("/api/v3.1/deployments/nope"), 404, "not_found_error");
    error(&admin.delete("/api/v3.1/deployments/nope"), 404, "not_found_error");
    error(&admin.start_execution("nope", "install", json!({})), 404, "not_found_error");
    admin.create_deployment("d");
    error(&admin.create_deployment("d"), 409, "conflict_error");
}

#[test]
fn illegal_transitions_change_nothing() {
    let s = Server::start();
    let admin = s.admin();
    admin.create_deployment("d");
    let id = admin.start_execution("d", "install", json!({})).json()["id"].as_str().unwrap().to_string();
    let path = format!("/api/v3.1/executions/{id}");
    assert_eq!(admin.patch(&path, &json!({"status": "started"})).status, 200);
    assert_eq!(admin.patch(&path, &json!({"status": "terminated"})).status, 200);

    error(&admin.patch(&path, &json!({"status": "started"})), 400, "invalid_execution_status_update");
    error(&admin.patch(&path, &json!({"status": "sideways"})), 400, "bad_parameters_error");
    error(&admin.post(&path, &json!({"action": "cancel"})), 400, "invalid_execution_status_update");
    error(&admin.post(&path, &json!({"action": "dance"})), 400, "bad_parameters_error");
    assert_eq!(admin.get(&path).json()["status"], "terminated");
}

#[test]
fn cancel_force_cancel_and_kill() {
    let s = Server::start();
    let admin = s.admin();
    admin.create_deployment("d");
    let start = |wf: &str| admin.start_execution("d", wf, json!({"seconds": 30})).json()["id"].as_str().unwrap().to_string();

    // A pending execution is cancelled at once.
    let pending = start("install");
    let r = admin.post(&format!("/api/v3.1/executions/{pending}"), &json!({"action": "cancel"}));
    assert_eq!(r.json()["status"], "cancelled");

    // A running sleep is asked to stop, and the built-in worker ends it.
    let sleeping = start("sleep");
    admin.wait_for(10, "the sleep to start", |c| c.get(&format!("/api/v3.1/executions/{sleeping}")).json()["status"] == "started");
    let r = admin.post(&format!("/api/v3.1/executions/{sleeping}"), &json!({"action": "cancel"}));
    assert_eq!(r.json()["status"], "cancelling");
    admin.wait_for(10, "the cancel to land", |c| c.get(&format!("/api/v3.1/executions/{sleeping}")).json()["status"] == "cancelled");

    // Force-cancel and kill end a started execution at once.
    for action in ["force-cancel", "kill"] {
        let id = start("install");
        admin.patch(&format!("/api/v3.1/executions/{id}"), &json!({"status": "started"}));
        let r = admin.post(&format!("/api/v3.1/executions/{id}"), &json!({"action": action}));
        assert_eq!(r.json()["status"], "cancelled", "{action}");
    }
}

#[test]
fn lists_are_paginated_like_the_real_client_expects() {
    let s = Server::start();
    let admin = s.admin();
    for i in 0..5 {
        admin.create_deployment(&format!("d{i}"));
    }
    let r = admin.get("/api/v3.1/deployments?_offset=1&_size=2&_sort=-id").json();
    assert_eq!(r["metadata"]["pagination"]["total"], 5);
    assert_eq!(r["metadata"]["pagination"]["offset"], 1);
    assert_eq!(r["metadata"]["pagination"]["size"], 2);
    let ids: Vec<_> = r["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, vec!["d3", "d2"]);
}

#[test]
fn oversized_headers_are_refused_cleanly() {
    let s = Server::start();
    let r = s.admin().req("GET", "/api/v3.1/status").header("X-Padding", &"p".repeat(40 * 1024)).send();
    error(&r, 431, "request_header_fields_too_large_error");
    assert_eq!(s.admin().get("/api/v3.1/status").status, 200, "the server keeps serving");
}

/// Send `requests` one after another on one keep-alive connection; return each
/// response's status line (an empty string once the server has closed it).
fn on_one_connection(port: u16, requests: &[String]) -> Vec<String> {
    use std::io::{BufRead, BufReader, Read, Write};
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut statuses = Vec::new();
    for req in requests {
        if writer.write_all(req.as_bytes()).is_err() {
            statuses.push(String::new());
            continue;
        }
        let mut status = String::new();
        if reader.read_line(&mut status).unwrap_or(0) == 0 {
            statuses.push(String::new());
            continue;
        }
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        statuses.push(status.trim().to_string());
    }
    statuses
}

#[test]
fn refusals_before_the_body_is_read_keep_the_connection_usable() {
    let s = Server::start();
    s.user("eve");
    let auth = |user: &str, pw: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
    };
    let body = format!("{{\"note\": \"{}\"}}", "x".repeat(300_000));
    let post = |path: &str, creds: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {creds}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let get = |path: &str, creds: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {creds}\r\n\r\n");
    let eve = auth("eve", "user-secret");
    let wrong = auth("admin", "wrong");
    let statuses = on_one_connection(
        s.port,
        &[
            // 403 from a handler that reads no body...
            post("/api/v3.1/maintenance/activate", &eve),
            // ...then the same connection goes on.
            get("/api/v3.1/maintenance", &eve),
            // 401 from the auth layer, before any handler.
            post("/api/v3.1/executions", &wrong),
            get("/api/v3.1/maintenance", &eve),
        ],
    );
    assert_eq!(
        statuses,
        ["HTTP/1.1 403 Forbidden", "HTTP/1.1 200 OK", "HTTP/1.1 401 Unauthorized", "HTTP/1.1 200 OK"]
    );
}

/// What schemathesis found (scripts/api-fuzz.sh), each answered as the document says now.
#[test]
fn what_the_api_fuzzer_found() {
    let s = Server::start();
    let admin = s.admin();

    // A count too large for 32 bits is still a count (lists cap it), not a 400.
    let r = admin.get("/api/v3.1/executions?_size=99999999999&_offset=99999999999");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["metadata"]["pagination"]["size"], 10_000);
    error(&admin.get("/api/v3.1/executions?_size=-1"), 400, "bad_parameters_error");
    error(&admin.get("/api/v3.1/executions?_size=%2B5"), 400, "bad_parameters_error");
    // An empty `_size` is absent, on every list (the policy lists refused it).
    assert_eq!(admin.get("/api/v3.1/policies/history?_size=").status, 200);
    assert_eq!(admin.get("/api/v3.1/policies/shadow?_size=").status, 200);

    // Deactivate takes no fields: a plan sent to it was silently ignored.
    let r = admin.req("POST", "/api/v3.1/maintenance/deactivate").json(&json!({"reason": "oops"})).send();
    error(&r, 400, "bad_parameters_error");
    assert_eq!(admin.req("POST", "/api/v3.1/maintenance/deactivate").send().status, 304);
    // A body is an object: serde read structs from arrays too, by position.
    let r = admin.req("POST", "/api/v3.1/maintenance/deactivate").json(&json!([])).send();
    error(&r, 400, "bad_parameters_error");
    // Blanks are not JSON (a body-less request has no bytes at all).
    let r = admin.req("POST", "/api/v3.1/maintenance/deactivate").header("Content-Type", "application/json").body(" ").send();
    error(&r, 400, "bad_parameters_error");
    let r = admin.req("POST", "/api/v3.1/maintenance/activate").json(&json!(["read as the reason"])).send();
    error(&r, 400, "bad_parameters_error");
    assert_eq!(admin.get("/api/v3.1/maintenance").json()["status"], "deactivated");

    // JSON `null` where a body is optional is no body, as an empty one always was.
    let r = admin.req("PUT", "/api/v3.1/deployments/from-null").header("Content-Type", "application/json").body("null").send();
    assert_eq!(r.status, 201, "{}", r.text);

    // The parent-execution header on a method the route lacks: still the 405.
    let r = admin.req("PUT", "/api/v3.1/executions").header("X-Drydock-Parent-Execution", "0").json(&json!({})).send();
    error(&r, 405, "method_not_allowed_error");

    // Lengths are in characters, as the document says, not bytes.
    let name = "é".repeat(100);
    let r = admin.put("/api/v3.1/users", &json!({"username": name, "password": "secret-enough"}));
    assert_eq!(r.status, 201, "{}", r.text);
    let r = admin.put("/api/v3.1/users", &json!({"username": "short-pw", "password": "ééé"}));
    error(&r, 400, "bad_parameters_error");
}
