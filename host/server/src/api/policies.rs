//! `/policies`: upload, list, show, activate, roll back, shadow, delete.
//!
//! Changes need sys_admin; any authenticated user may read. Everything that may
//! load or compile a component runs on the blocking pool, never on the
//! runtime's workers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

use super::json::QueryPairs;
use super::{App, blocking, require_admin};
use drydock_engine::Fault;
use crate::error::{Error, Result};
use drydock_gate::{Caller, Decision};
use crate::registry::{Active, Disagreement, RECENT_DISAGREEMENTS, ShadowReport, Signer, Swap, Version};
use crate::store::{Page, PolicyState};
use crate::trust::Signature;

/// Largest component an upload may carry (the rest of the API takes 1 MiB): a
/// Python component is about 18 MiB, a JavaScript one about 11.
pub const MAX_POLICY_BYTES: usize = 64 * 1024 * 1024;

/// One policy version the registry holds.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PolicyVersion)]
pub struct PolicyVersionBody {
    /// `builtin`, or the component's sha256.
    pub id: String,
    pub name: String,
    pub version: String,
    pub sha256: String,
    /// `name@version#sha-prefix`, as in `X-Drydock-Policy`.
    pub label: String,
    pub size: u64,
    pub builtin: bool,
    pub uploaded_by: Option<String>,
    pub uploaded_at: Option<String>,
    pub active: bool,
    pub previous: bool,
    pub shadow: bool,
    /// Who signed exactly these bytes (empty for the builtin, trusted as part of drydock).
    pub signatures: Vec<SignerBody>,
    /// Its memory budget in MiB (null: the server's default).
    pub memory_mib: Option<u32>,
    /// Its deadline per decision in ms (null: the server's default).
    pub deadline_ms: Option<u32>,
}

/// One signature on a version.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PolicySigner)]
pub struct SignerBody {
    /// The signing key's id (16 hex digits of its public key's sha256).
    pub key_id: String,
    /// Whether a key this server trusts made this signature over these bytes.
    pub trusted: bool,
    /// The trusted key's name here, when it is trusted.
    pub key_name: Option<String>,
    pub added_by: String,
    pub added_at: String,
}

impl SignerBody {
    fn of(s: &Signer) -> SignerBody {
        SignerBody { key_id: s.key_id.clone(), trusted: s.trusted_as.is_some(), key_name: s.trusted_as.clone(), added_by: s.added_by.clone(), added_at: s.added_at.clone() }
    }
}

/// What versions are now: the selection, and every version's signers (read once
/// per answer).
pub struct Now {
    pub state: Arc<PolicyState>,
    pub signers: HashMap<String, Vec<Signer>>,
}

impl Now {
    pub fn read(registry: &crate::registry::Registry) -> Result<Now> {
        Ok(Now { state: registry.state(), signers: registry.signers()? })
    }
}

impl PolicyVersionBody {
    /// `v`, and what it is now in `st` (active, previous, shadowed).
    pub fn of(v: &Version, st: &Now) -> PolicyVersionBody {
        let (by, at) = match &v.uploaded {
            Some((by, at)) => (Some(by.clone()), Some(at.clone())),
            None => (None, None),
        };
        PolicyVersionBody {
            id: v.id.clone(),
            name: v.name.clone(),
            version: v.version.clone(),
            sha256: v.sha256.clone(),
            label: v.label(),
            size: v.size,
            builtin: v.is_builtin(),
            uploaded_by: by,
            uploaded_at: at,
            active: st.state.active_id == v.id,
            previous: st.state.previous_id.as_deref() == Some(v.id.as_str()),
            shadow: st.state.shadow.as_ref().is_some_and(|(id, _, _)| *id == v.id),
            signatures: st.signers.get(&v.sha256).map_or_else(Vec::new, |s| s.iter().map(SignerBody::of).collect()),
            memory_mib: v.budget.memory_mib,
            deadline_ms: v.budget.deadline_ms,
        }
    }
}

/// The active version, when and by whom it became so, and the one a rollback returns to.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ActivePolicy)]
pub struct ActivePolicyBody {
    pub id: String,
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub label: String,
    pub size: u64,
    pub builtin: bool,
    pub uploaded_by: Option<String>,
    pub uploaded_at: Option<String>,
    pub active: bool,
    pub previous: bool,
    pub shadow: bool,
    pub signatures: Vec<SignerBody>,
    pub memory_mib: Option<u32>,
    pub deadline_ms: Option<u32>,
    pub active_since: String,
    pub activated_by: String,
    pub previous_version: Option<PolicyVersionBody>,
}

impl ActivePolicyBody {
    fn of(a: &Active, st: &Now) -> ActivePolicyBody {
        let PolicyVersionBody { id, name, version, sha256, label, size, builtin, uploaded_by, uploaded_at, active, previous, shadow, signatures, memory_mib, deadline_ms } =
            PolicyVersionBody::of(&a.version, st);
        ActivePolicyBody {
            id,
            name,
            version,
            sha256,
            label,
            size,
            builtin,
            uploaded_by,
            uploaded_at,
            active,
            previous,
            shadow,
            signatures,
            memory_mib,
            deadline_ms,
            active_since: a.since.clone(),
            activated_by: a.by.clone(),
            previous_version: a.previous.as_ref().map(|p| PolicyVersionBody::of(p, st)),
        }
    }
}

/// What one policy decided: allow, deny (with its refusal), or a fault.
#[derive(Serialize, ToSchema)]
#[schema(as = PolicyDecision)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum DecisionBody {
    Allow,
    Deny { status: u16, error_code: String, message: String, retry_after: Option<u32> },
    Fault { fault: String },
}

impl DecisionBody {
    pub fn of(d: &std::result::Result<Decision, Fault>) -> DecisionBody {
        match d {
            Ok(Decision::Allow) => DecisionBody::Allow,
            Ok(Decision::Deny(d)) => DecisionBody::Deny {
                status: d.status,
                error_code: d.error_code.clone(),
                message: d.message.clone(),
                retry_after: d.retry_after,
            },
            Err(fault) => DecisionBody::Fault { fault: fault.to_string() },
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecidedBy {
    pub policy: String,
    pub decision: DecisionBody,
}

/// The request two policies disagreed on, as the policies saw it.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShadowedRequest {
    pub method: String,
    pub path: String,
    pub route: String,
    pub username: String,
    pub role: String,
    pub bypass: bool,
    #[schema(value_type = super::schema::MaintenanceStatus)]
    pub maintenance: String,
    pub unfinished_executions: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Disagreement)]
pub struct DisagreementBody {
    pub at: String,
    pub request: ShadowedRequest,
    pub active: DecidedBy,
    pub candidate: DecidedBy,
    pub differs_in: Vec<String>,
}

impl DisagreementBody {
    fn of(d: &Disagreement, candidate_label: &str) -> DisagreementBody {
        let snap = &d.published.snapshot;
        DisagreementBody {
            at: d.at.clone(),
            request: ShadowedRequest {
                method: d.request.method.clone(),
                path: d.request.path.clone(),
                route: d.request.route.clone(),
                username: d.request.caller.username.clone(),
                role: d.request.caller.role.as_str().to_string(),
                bypass: d.request.caller.bypass,
                maintenance: snap.state.as_str().to_string(),
                unfinished_executions: u64::from(snap.executions.total()),
            },
            active: DecidedBy { policy: d.active_label.clone(), decision: DecisionBody::of(&Ok(d.active.clone())) },
            candidate: DecidedBy { policy: candidate_label.to_string(), decision: DecisionBody::of(&d.candidate) },
            differs_in: d.differs_in.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// A shadow run: a candidate decides every request beside the active version,
/// without effect, and disagreements are counted and kept.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ShadowReport)]
pub struct ShadowReportBody {
    pub running: bool,
    pub candidate: Option<PolicyVersionBody>,
    pub started_at: Option<String>,
    pub started_by: Option<String>,
    pub stopped_at: Option<String>,
    pub stopped_by: Option<String>,
    pub evaluated: u64,
    pub agreements: u64,
    pub disagreements: u64,
    pub candidate_faults: u64,
    pub skipped: u64,
    pub recent_disagreements: Vec<DisagreementBody>,
}

impl ShadowReportBody {
    /// The report of the shadow run, if there was one (else an empty, stopped one).
    pub fn of(r: Option<&ShadowReport>, st: &Now) -> ShadowReportBody {
        let Some(r) = r else {
            return ShadowReportBody {
                running: false,
                candidate: None,
                started_at: None,
                started_by: None,
                stopped_at: None,
                stopped_by: None,
                evaluated: 0,
                agreements: 0,
                disagreements: 0,
                candidate_faults: 0,
                skipped: 0,
                recent_disagreements: Vec::new(),
            };
        };
        let label = r.candidate.label();
        ShadowReportBody {
            running: r.running,
            candidate: Some(PolicyVersionBody::of(&r.candidate, st)),
            started_at: Some(r.started_at.clone()),
            started_by: Some(r.started_by.clone()),
            stopped_at: r.stopped.as_ref().map(|(at, _)| at.clone()),
            stopped_by: r.stopped.as_ref().map(|(_, by)| by.clone()),
            evaluated: r.agreements + r.disagreements,
            agreements: r.agreements,
            disagreements: r.disagreements,
            candidate_faults: r.candidate_faults,
            skipped: r.skipped,
            recent_disagreements: r.recent.iter().map(|d| DisagreementBody::of(d, &label)).collect(),
        }
    }
}

/// The outcome of an activation or a rollback.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Swap)]
pub struct SwapBody {
    /// False when the version was already active (nothing changed).
    pub swapped: bool,
    pub active: PolicyVersionBody,
    pub previous: Option<PolicyVersionBody>,
}

impl SwapBody {
    fn of(s: &Swap, st: &Now) -> SwapBody {
        SwapBody {
            swapped: s.swapped,
            active: PolicyVersionBody::of(&s.active, st),
            previous: s.previous.as_ref().map(|p| PolicyVersionBody::of(p, st)),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyHistoryEntry {
    pub seq: i64,
    pub at: String,
    pub username: String,
    pub action: String,
    pub policy_id: String,
    pub detail: String,
}

super::json::list!(PolicyList, PolicyVersionBody);
super::json::list!(PolicyHistoryList, PolicyHistoryEntry);

#[utoipa::path(
    get,
    path = "/api/v3.1/policies",
    tag = "policies",
    summary = "The policy versions",
    responses(
        (status = 200, description = "OK", body = PolicyList)
    )
)]
pub async fn list(State(app): State<Arc<App>>) -> Result<Json<PolicyList>> {
    let st = Now::read(&app.policies)?;
    let items: Vec<PolicyVersionBody> = app.policies.list()?.iter().map(|v| PolicyVersionBody::of(v, &st)).collect();
    let total = items.len() as u64;
    let page = Page { offset: 0, size: items.len() as u32, sort: None };
    Ok(Json(PolicyList::new(items, total, &page)))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/policies/{id}",
    tag = "policies",
    summary = "One policy version",
    params(("id" = String, Path, description = "`builtin`, a policy version's sha256, or a unique prefix of it")),
    responses(
        (status = 200, description = "OK", body = PolicyVersionBody),
        (status = 400, description = "An ambiguous prefix", body = super::schema::ErrorBody),
        (status = 404, description = "No such policy version", body = super::schema::ErrorBody)
    )
)]
pub async fn get(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<PolicyVersionBody>> {
    Ok(Json(PolicyVersionBody::of(&app.policies.get(&id)?, &Now::read(&app.policies)?)))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/policies/active",
    tag = "policies",
    summary = "The active policy version",
    responses(
        (status = 200, description = "OK", body = ActivePolicyBody)
    )
)]
pub async fn active(State(app): State<Arc<App>>) -> Result<Json<ActivePolicyBody>> {
    let active = app.policies.active()?;
    let st = Now::read(&app.policies)?;
    Ok(Json(ActivePolicyBody::of(&active, &st)))
}

/// Who changed which policy when: for sys_admins only.
#[utoipa::path(
    get,
    path = "/api/v3.1/policies/history",
    tag = "policies",
    summary = "Who changed which policy when",
    params(super::schema::SizeQuery),
    responses(
        (status = 200, description = "OK", body = PolicyHistoryList),
        (status = 400, description = "A bad `_size`", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody)
    )
)]
pub async fn history(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, q: QueryPairs) -> Result<Json<PolicyHistoryList>> {
    require_admin(&caller, "read the policy history")?;
    let size = match q.get("_size").filter(|v| !v.is_empty()) {
        None => 100,
        Some(v) => super::json::count("_size", v)?,
    };
    let items: Vec<PolicyHistoryEntry> = app
        .policies
        .history(size.min(10_000))?
        .into_iter()
        .map(|e| PolicyHistoryEntry {
            seq: e.seq,
            at: e.at,
            username: e.username,
            action: e.action,
            policy_id: e.policy_id,
            detail: e.detail,
        })
        .collect();
    let total = items.len() as u64;
    let page = Page { offset: 0, size, sort: None };
    Ok(Json(PolicyHistoryList::new(items, total, &page)))
}

/// The body is the component itself (`application/wasm` or
/// `application/octet-stream`), validated completely before it is stored.
#[utoipa::path(
    post,
    path = "/api/v3.1/policies",
    tag = "policies",
    summary = "Upload a policy component (validated completely before it is stored)",
    params(
        ("X-Drydock-Signature" = Option<String>, Header, description = "A signature line over the component's sha256, as `drydock policy sign` writes it; one header per signer"),
        ("memory_mib" = Option<u32>, Query, description = "This version's memory budget (all its memories together), within the server's `--policy-memory-max-mib`; default: what it holds at start and a quarter more, or the server's default when that is more"),
        ("deadline_ms" = Option<u32>, Query, description = "This version's deadline per decision, within the server's `--policy-deadline-max-ms`; default: the server's `--policy-deadline-ms`")
    ),
    request_body(description = "The component's bytes", content((Vec<u8> = "application/wasm"), (Vec<u8> = "application/octet-stream"))),
    responses(
        (status = 201, description = "Stored", body = PolicyVersionBody),
        (status = 200, description = "Already stored", body = PolicyVersionBody),
        (status = 400, description = "Not a policy component drydock accepts (the reason says why)", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin, or the version is not signed by enough trusted keys (`policy_not_trusted_error`, with `--require-signed`)", body = super::schema::ErrorBody),
        (status = 413, description = "Larger than 64 MiB", body = super::schema::ErrorBody),
        (status = 415, description = "Not `application/wasm` or `application/octet-stream`", body = super::schema::ErrorBody)
    )
)]
pub async fn upload(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    q: QueryPairs,
    body: Body,
) -> Result<Response> {
    // Refusals first, from the headers alone: a caller who may not upload cannot
    // make the server buffer 16 MiB. Their body stays unread, so the answer ends
    // the connection (an unread body would make hyper drop a keep-alive connection
    // without a word; small bodies were read before routing, see `api::limits`).
    let checked = require_admin(&caller, "upload policies")
        .and_then(|()| upload_content_type(&headers))
        .and_then(|()| Ok((sent_signatures(&headers)?, asked_budget(&q)?)));
    let (signatures, budget) = match checked {
        Ok(s) => s,
        Err(e) => return Ok(closing(e.into_response())),
    };
    let bytes = axum::body::to_bytes(body, MAX_POLICY_BYTES).await;
    let Ok(bytes) = bytes else {
        // The rest of the body is unread: say that the connection ends.
        let err = Error::PayloadTooLarge(format!("A policy component may be at most {} MiB", MAX_POLICY_BYTES >> 20));
        return Ok(closing(err.into_response()));
    };
    if bytes.is_empty() {
        return Err(Error::BadRequest("The request body is empty: send the policy component's bytes".into()));
    }
    let registry = app.policies.clone();
    let who = caller.username.clone();
    let up = blocking(move || registry.upload(&bytes, budget, &signatures, &who)).await?;
    let status = if up.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(PolicyVersionBody::of(&up.version, &Now::read(&app.policies)?))).into_response())
}

/// Signatures sent with an upload: each `X-Drydock-Signature` header one signature
/// line (several signers, several headers), 16 at most.
fn sent_signatures(headers: &HeaderMap) -> Result<Vec<Signature>> {
    let lines = headers.get_all(SIGNATURE_HEADER);
    if lines.iter().count() > MAX_SIGNATURES {
        return Err(Error::BadRequest(format!("At most {MAX_SIGNATURES} signatures may be sent at once")));
    }
    lines
        .iter()
        .map(|v| {
            let line = v.to_str().map_err(|_| Error::BadRequest(format!("An {SIGNATURE_HEADER} header is not text")))?;
            Signature::parse(line).map_err(|e| Error::BadRequest(e.to_string()))
        })
        .collect()
}

/// The budget an upload asks for (`?memory_mib=&deadline_ms=`; absent or empty:
/// what the component needs, measured).
fn asked_budget(q: &QueryPairs) -> Result<crate::store::Budget> {
    let num = |k: &str| q.get(k).filter(|v| !v.is_empty()).map(|v| super::json::count(k, v)).transpose();
    Ok(crate::store::Budget { memory_mib: num("memory_mib")?, deadline_ms: num("deadline_ms")? })
}

/// The header that carries a signature line with an upload.
pub const SIGNATURE_HEADER: &str = "x-drydock-signature";
/// Signatures one request may add.
const MAX_SIGNATURES: usize = 16;

/// Signatures to add to a stored version.
#[derive(serde::Deserialize, ToSchema)]
#[schema(as = PolicySignatures)]
#[serde(deny_unknown_fields)]
pub struct SignaturesBody {
    /// Signature lines, as `drydock policy sign` writes them (one per signer).
    #[schema(max_items = 16, min_items = 1)]
    signatures: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/api/v3.1/policies/{id}/signatures",
    tag = "policies",
    summary = "Add signatures to a stored version (another signer, or a new key after a rotation)",
    params(("id" = String, Path, description = "A policy version's sha256, or a unique prefix of it")),
    request_body = SignaturesBody,
    responses(
        (status = 200, description = "Kept: the version with its signers", body = PolicyVersionBody),
        (status = 400, description = "Not a signature line, over other bytes, or one a trusted key does not verify", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 404, description = "No such policy version", body = super::schema::ErrorBody)
    )
)]
pub async fn add_signatures(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    super::json::JsonBody(body): super::json::JsonBody<SignaturesBody>,
) -> Result<Json<PolicyVersionBody>> {
    require_admin(&caller, "sign policies")?;
    if body.signatures.len() > MAX_SIGNATURES {
        return Err(Error::BadRequest(format!("At most {MAX_SIGNATURES} signatures may be sent at once")));
    }
    let sent = body.signatures.iter().map(|l| Signature::parse(l).map_err(|e| Error::BadRequest(e.to_string()))).collect::<Result<Vec<_>>>()?;
    let registry = app.policies.clone();
    let version = blocking(move || registry.add_signatures(&id, &sent, &caller.username)).await?;
    Ok(Json(PolicyVersionBody::of(&version, &Now::read(&app.policies)?)))
}

/// A policy upload is the component's bytes.
fn upload_content_type(headers: &HeaderMap) -> Result<()> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else { return Ok(()) };
    let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
    let mime = ct.split(';').next().unwrap_or("").trim().to_string();
    match mime.as_str() {
        "application/wasm" | "application/octet-stream" => Ok(()),
        _ => Err(Error::UnsupportedMediaType(format!(
            "A policy upload is the component's bytes: Content-Type must be application/wasm or application/octet-stream, not `{mime}`"
        ))),
    }
}

/// An answer sent with the rest of the request's body unread: say the connection ends.
fn closing(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::CONNECTION, http::HeaderValue::from_static("close"));
    resp
}

#[utoipa::path(
    post,
    path = "/api/v3.1/policies/{id}/activate",
    tag = "policies",
    summary = "Make a version active (live, no restart)",
    params(("id" = String, Path, description = "`builtin`, a policy version's sha256, or a unique prefix of it")),
    responses(
        (status = 200, description = "OK", body = SwapBody),
        (status = 400, description = "An ambiguous prefix", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin, or the version is not signed by enough trusted keys (`policy_not_trusted_error`, with `--require-signed`)", body = super::schema::ErrorBody),
        (status = 404, description = "No such policy version", body = super::schema::ErrorBody),
        (status = 409, description = "The stored version can no longer be loaded", body = super::schema::ErrorBody)
    )
)]
pub async fn activate(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<SwapBody>> {
    require_admin(&caller, "activate policies")?;
    let registry = app.policies.clone();
    let swap = blocking(move || registry.activate(&id, &caller.username)).await?;
    Ok(Json(SwapBody::of(&swap, &Now::read(&app.policies)?)))
}

#[utoipa::path(
    post,
    path = "/api/v3.1/policies/rollback",
    tag = "policies",
    summary = "Return to the previously active version",
    responses(
        (status = 200, description = "OK", body = SwapBody),
        (status = 403, description = "The caller is not a sys_admin, or the version is not signed by enough trusted keys (`policy_not_trusted_error`, with `--require-signed`)", body = super::schema::ErrorBody),
        (status = 409, description = "Nothing to roll back to", body = super::schema::ErrorBody)
    )
)]
pub async fn rollback(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Result<Json<SwapBody>> {
    require_admin(&caller, "roll policies back")?;
    let registry = app.policies.clone();
    let swap = blocking(move || registry.rollback(&caller.username)).await?;
    Ok(Json(SwapBody::of(&swap, &Now::read(&app.policies)?)))
}

#[utoipa::path(
    post,
    path = "/api/v3.1/policies/{id}/shadow",
    tag = "policies",
    summary = "Shadow a candidate beside the active version",
    params(("id" = String, Path, description = "`builtin`, a policy version's sha256, or a unique prefix of it")),
    responses(
        (status = 200, description = "OK", body = ShadowReportBody),
        (status = 400, description = "An ambiguous prefix", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin, or the version is not signed by enough trusted keys (`policy_not_trusted_error`, with `--require-signed`)", body = super::schema::ErrorBody),
        (status = 404, description = "No such policy version", body = super::schema::ErrorBody),
        (status = 409, description = "The stored version can no longer be loaded", body = super::schema::ErrorBody)
    )
)]
pub async fn shadow_start(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<ShadowReportBody>> {
    require_admin(&caller, "shadow policies")?;
    let registry = app.policies.clone();
    let report = blocking(move || registry.shadow(&id, &caller.username)).await?;
    Ok(Json(ShadowReportBody::of(Some(&report), &Now::read(&app.policies)?)))
}

#[utoipa::path(
    delete,
    path = "/api/v3.1/policies/shadow",
    tag = "policies",
    summary = "Stop shadowing (the report is kept)",
    responses(
        (status = 200, description = "OK", body = ShadowReportBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 409, description = "No shadow candidate is set", body = super::schema::ErrorBody)
    )
)]
pub async fn shadow_stop(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Result<Json<ShadowReportBody>> {
    require_admin(&caller, "stop shadowing")?;
    let registry = app.policies.clone();
    let report = blocking(move || registry.stop_shadow(&caller.username)).await?;
    Ok(Json(ShadowReportBody::of(Some(&report), &Now::read(&app.policies)?)))
}

/// `?_size=N`: how many of the most recent disagreements to include (default all kept).
/// The shadow report quotes other users' requests (paths, names): for sys_admins only.
#[utoipa::path(
    get,
    path = "/api/v3.1/policies/shadow",
    tag = "policies",
    summary = "The shadow report",
    params(super::schema::SizeQuery),
    responses(
        (status = 200, description = "OK", body = ShadowReportBody),
        (status = 400, description = "A bad `_size`", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody)
    )
)]
pub async fn shadow_report(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    q: QueryPairs,
) -> Result<Json<ShadowReportBody>> {
    require_admin(&caller, "read the shadow report")?;
    let recent = match q.get("_size").filter(|v| !v.is_empty()) {
        None => RECENT_DISAGREEMENTS,
        Some(v) => super::json::count("_size", v)? as usize,
    };
    let report = app.policies.shadow_report(recent);
    Ok(Json(ShadowReportBody::of(report.as_ref(), &Now::read(&app.policies)?)))
}

#[utoipa::path(
    delete,
    path = "/api/v3.1/policies/{id}",
    tag = "policies",
    summary = "Delete a stored version (not the builtin, the active, the previous or the shadowed one)",
    params(("id" = String, Path, description = "`builtin`, a policy version's sha256, or a unique prefix of it")),
    responses(
        (status = 200, description = "Deleted", body = PolicyVersionBody),
        (status = 400, description = "An ambiguous prefix", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 404, description = "No such policy version", body = super::schema::ErrorBody),
        (status = 409, description = "The version is in use", body = super::schema::ErrorBody)
    )
)]
pub async fn delete(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<PolicyVersionBody>> {
    require_admin(&caller, "delete policies")?;
    let registry = app.policies.clone();
    let gone = blocking(move || registry.delete(&id, &caller.username)).await?;
    Ok(Json(PolicyVersionBody::of(&gone, &Now::read(&app.policies)?)))
}

/// `GET /metrics`: Prometheus text. Outside authentication and the gate, so a
/// scraper reads it in every maintenance state.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "metrics",
    summary = "Prometheus metrics (no credentials, every state)",
    security(()),
    responses(
        (status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)
    )
)]
pub async fn metrics(State(app): State<Arc<App>>) -> Response {
    let published = app.manager.published();
    let active = app.slots.active();
    let shadow = app.slots.shadow();
    let mut text = app.policies.metrics().render(&drydock_gate::metrics::Scrape {
        snapshot: &published.snapshot,
        active: &active,
        shadow: shadow.as_deref(),
    });
    text.push_str("# HELP drydock_failed_logins_total Logins refused for a wrong user name or password.\n");
    text.push_str("# TYPE drydock_failed_logins_total counter\n");
    text.push_str(&format!("drydock_failed_logins_total {}\n", app.auth.failed_logins()));
    if let Some(log) = &app.decisions {
        text.push_str(&log.metrics());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}
