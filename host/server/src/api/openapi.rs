//! The OpenAPI 3.1 document of everything the server routes, at
//! `GET /api/v3.1/openapi.json` (no credentials, every state).
//!
//! Each operation comes from its handler's `#[utoipa::path]`, collected by the same
//! route table the router is built from ([`super::routes`]). What every operation
//! shares is added here once, from where it happens: credentials (`auth`), the
//! request limits (`api::limits`), the gate's refusals and the database's 503s.

use std::sync::OnceLock;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, InfoBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

use super::status::DRYDOCK_VERSION;
use super::Routes;

#[utoipa::path(get, path = "/api/v3.1/openapi.json", tag = "document", summary = "This document",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of every route", content_type = "application/json", body = Object)))]
pub async fn serve() -> Response {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    let bytes = BYTES.get_or_init(|| document().to_json().expect("the document serialises").into_bytes());
    let mut resp = bytes.clone().into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// The whole document.
pub fn document() -> OpenApi {
    let Routes { authenticated, public, unguarded } = super::routes();
    let mut doc = authenticated.into_openapi();
    let gated: Vec<String> = doc.paths.paths.keys().cloned().collect();
    let public = public.into_openapi();
    let gated: Vec<String> = gated.into_iter().chain(public.paths.paths.keys().cloned()).collect();
    doc.merge(public);
    doc.merge(unguarded.into_openapi());
    doc.info = InfoBuilder::new()
        .title("drydock")
        .version(DRYDOCK_VERSION)
        .description(Some(
            "Cloudify Manager's maintenance mode (REST API 3.1, as PyPI `cloudify==7.0.5` speaks it) \
             with its admission rules in a sandboxed WebAssembly policy, plus drydock's own routes: \
             policies, planned maintenance, metrics and the console. Every error body is \
             `{message, error_code, server_traceback}`; refusals for maintenance are 503s whose \
             `error_code` says why and whose `Retry-After` counts down to the announced end.",
        ))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme("basic", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()));
    components.add_security_scheme("console_session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("drydock_session"))));
    // Named only in a path parameter, which utoipa does not collect.
    components.schemas.insert(
        "MaintenanceAction".into(),
        <super::schema::MaintenanceAction as utoipa::PartialSchema>::schema(),
    );
    doc.security = Some(vec![SecurityRequirement::new("basic", Vec::<String>::new())]);
    for (path, item) in doc.paths.paths.iter_mut() {
        let gated = gated.contains(path);
        for method in [HttpMethod::Get, HttpMethod::Put, HttpMethod::Post, HttpMethod::Delete, HttpMethod::Patch] {
            if let Some(op) = operation(item, &method) {
                // Handler names repeat across resources (`get`, `list`); ids must not.
                let tag = op.tags.as_ref().and_then(|t| t.first()).cloned().unwrap_or_default();
                op.operation_id = op.operation_id.take().map(|id| format!("{tag}.{id}"));
                shared(op, gated);
            }
        }
    }
    doc
}

fn operation<'a>(item: &'a mut utoipa::openapi::PathItem, method: &HttpMethod) -> Option<&'a mut Operation> {
    match method {
        HttpMethod::Get => item.get.as_mut(),
        HttpMethod::Put => item.put.as_mut(),
        HttpMethod::Post => item.post.as_mut(),
        HttpMethod::Delete => item.delete.as_mut(),
        HttpMethod::Patch => item.patch.as_mut(),
        _ => None,
    }
}

/// An error in the reference's shape, as a response, with these headers.
fn error(description: &str, headers: Vec<(&str, utoipa::openapi::Header)>) -> RefOr<utoipa::openapi::Response> {
    let mut r = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
    );
    for (name, header) in headers {
        r = r.header(name, header);
    }
    RefOr::T(r.build())
}

fn retry_after() -> Vec<(&'static str, utoipa::openapi::Header)> {
    let seconds = utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::Integer);
    vec![("Retry-After", HeaderBuilder::new().schema(seconds).description(Some("Seconds until it is worth asking again")).build())]
}

/// What an operation answers besides what its handler says: from the limits every
/// request passes, from authentication (unless it needs none), from the gate (on
/// gated routes), and from reading a body or parameters.
fn shared(op: &mut Operation, gated: bool) {
    let public = op.security.as_ref().is_some_and(|s| s.iter().any(|r| r == &SecurityRequirement::default()));
    let has_body = op.request_body.is_some();
    let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let console = op.tags.as_ref().is_some_and(|t| t.iter().any(|t| t == "console"));
    let responses = &mut op.responses.responses;
    let mut add = |status: &str, r: RefOr<utoipa::openapi::Response>| {
        responses.entry(status.to_string()).or_insert(r);
    };
    add("408", error("The request (or its body) took too long (`request_timeout_error`)", vec![]));
    add("431", error("The request headers are larger than 32 KiB (`request_header_fields_too_large_error`)", vec![]));
    if !public && !console {
        let challenge = HeaderBuilder::new().description(Some("`Basic realm=\"drydock\"`")).build();
        add("401", error("No credentials, or wrong ones (`unauthorized_error`)", vec![("WWW-Authenticate", challenge)]));
    }
    if gated {
        add(
            "503",
            error(
                "Refused by the policy: maintenance mode (`maintenance_mode_active`, \
                 `entering_maintenance_mode`, or an uploaded policy's own code, with the reason \
                 and `Retry-After`), or the policy could not decide (`policy_error`); or the \
                 server had no turn to check a password (`server_busy_error`), or the database \
                 is unreachable (`database_unavailable_error`)",
                retry_after(),
            ),
        );
    } else if !console {
        add("503", error("The database is unreachable (`database_unavailable_error`) or the server is busy", retry_after()));
    }
    if has_body && !console {
        add("400", error("The body is not valid JSON for this operation (`bad_parameters_error`)", vec![]));
        add("413", error("The body is larger than this operation accepts (`payload_too_large_error`)", vec![]));
        add("415", error("The body is not JSON (`unsupported_media_type_error`)", vec![]));
    }
    if has_params && !console {
        add("400", error("A parameter is malformed (`bad_parameters_error`)", vec![]));
    }
}
