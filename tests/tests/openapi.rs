//! The OpenAPI document: served without credentials, and it lists exactly what the
//! server routes — every documented operation reaches a handler, every other method
//! on a documented path is a 405, and paths it does not have are 404s.

use std::collections::BTreeSet;

use drydock_e2e::Server;
use serde_json::Value;

const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "PATCH"];

fn document(s: &Server) -> Value {
    let r = s.anon().get("/api/v3.1/openapi.json");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/json"));
    r.json()
}

/// A request path for a template: parameters filled with a value no resource has.
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let j = rest[i..].find('}').unwrap() + i;
        out.push_str("no-such-thing");
        rest = &rest[j + 1..];
    }
    out + rest
}

fn is_fallback(r: &drydock_e2e::Resp) -> bool {
    let text = &r.text;
    (r.status == 404 && text.contains("was not found on this server")) || r.status == 405
}

#[test]
fn the_document_lists_exactly_what_the_server_routes() {
    let s = Server::start();
    let doc = document(&s);
    assert_eq!(doc["openapi"], "3.1.0");
    let admin = s.admin();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 40, "only {} paths documented", paths.len());
    let mut ids = BTreeSet::new();
    for (template, item) in paths {
        let path = concrete(template);
        for method in METHODS {
            let op = &item[method.to_ascii_lowercase()];
            // An event stream stays open; the maintenance and console tests follow them.
            let streaming = template.ends_with("/events") && method == "GET" && !template.ends_with("/v3.1/events");
            let r = if streaming {
                None
            } else {
                Some(admin.req(method, &path).header("Content-Type", "application/json").body("{}").send())
            };
            if op.is_object() {
                assert!(ids.insert(op["operationId"].as_str().unwrap().to_string()), "operationId repeats: {op}");
                if let Some(r) = r {
                    assert!(!is_fallback(&r), "{method} {template} is documented but not routed: {} {}", r.status, r.text);
                }
            } else if let Some(r) = r {
                assert_eq!(r.status, 405, "{method} {template} is routed but not documented: {}", r.text);
            }
        }
    }
    for path in ["/api/v3.1/snapshots", "/api/v3.1/maintenance/windows/a/b", "/console/nope", "/api/v2/maintenance"] {
        let r = admin.get(path);
        assert!(is_fallback(&r), "{path} answered {} without being documented", r.status);
    }
}

#[test]
fn every_reference_resolves_and_maintenance_refusals_are_described() {
    let s = Server::start();
    let doc = document(&s);
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(schemas.contains_key(name), "$ref {r} points nowhere");
    }
    // A gated write says what a maintenance refusal looks like.
    let refusal = &doc["paths"]["/api/v3.1/executions"]["post"]["responses"]["503"];
    for code in ["maintenance_mode_active", "entering_maintenance_mode", "policy_error", "database_unavailable_error"] {
        assert!(refusal["description"].as_str().unwrap().contains(code), "{code} missing: {refusal}");
    }
    assert!(refusal["headers"]["Retry-After"].is_object(), "{refusal}");
    assert_eq!(refusal["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody");
    // The admin's ways out are there, and need credentials; the probes do not.
    assert!(doc["paths"]["/api/v3.1/maintenance/{action}"]["post"].is_object());
    assert_eq!(doc["paths"]["/api/version"]["get"]["security"], serde_json::json!([{}]));
    assert_eq!(doc["security"], serde_json::json!([{"basic": []}]));
}
