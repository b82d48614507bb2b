//! Policy case tables: what `drydock policy test` reads, runs through the real engine
//! and reports. A case names a request, the state it is decided under, and the
//! expected outcome. Requests are described exactly as the server describes them
//! (same route table, same descriptor code, same admin floor).

use std::path::Path;

use serde::{Deserialize, Serialize};

use drydock_server::api::{API_PREFIX, route_template};
use drydock_engine::Policy;
use drydock_engine::ExecutionStatus;
use drydock_gate::{Caller, Decision, ExecutionCounts, GateConfig, RequestDescriptor, Role, Snapshot};
use drydock_engine::MaintenanceState;

/// One case file: `cases:` is a list of [`Case`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// What the file covers, for its readers; accepted, never printed.
    #[serde(default)]
    pub description: Option<String>,
    pub cases: Vec<serde_yaml_ng::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[serde(default = "deactivated")]
    pub state: MaintenanceState,
    /// Unfinished executions by status, e.g. `{started: 1, pending: 2}`.
    #[serde(default)]
    pub executions: std::collections::BTreeMap<ExecutionStatus, u32>,
    /// Facts the server tells the policy about the state, e.g.
    /// `{maintenance.reason: disk swap, maintenance.retry-after: "1800"}`.
    #[serde(default)]
    pub facts: std::collections::BTreeMap<String, String>,
    pub request: CaseRequest,
    pub expect: Expected,
}

fn deactivated() -> MaintenanceState {
    MaintenanceState::Deactivated
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    pub method: String,
    pub path: String,
    /// The route template; resolved from `path` by the server's route table if absent.
    #[serde(default)]
    pub route: Option<String>,
    #[serde(default = "default_user")]
    pub user: String,
    /// `sys_admin` or `user` (alias `default`).
    #[serde(default = "default_role")]
    pub role: String,
    /// Whether `X-BYPASS-MAINTENANCE` is sent.
    #[serde(default)]
    pub bypass: bool,
    /// Facts the server established about the request, e.g. `{parent-execution: e1}`.
    #[serde(default)]
    pub attributes: std::collections::BTreeMap<String, String>,
}

fn default_user() -> String {
    "user".into()
}

fn default_role() -> String {
    "user".into()
}

/// The expected outcome: `allow` (the policy was asked and admitted), `floor` (the
/// host's admin floor admitted without asking the policy), or
/// `{deny: {status, error_code, message?, retry_after?}}` where `retry_after: null`
/// asserts that the refusal carries none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expected {
    Allow,
    Floor,
    Deny {
        status: u16,
        error_code: String,
        message: Option<String>,
        /// Absent: not checked; `Some(None)`: must carry none; `Some(Some(n))`: must be n.
        retry_after: Option<Option<u32>>,
    },
}

/// A field that may be absent (`None`), `null` (`Some(None)`) or a value.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DenySpec {
    status: u16,
    error_code: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, deserialize_with = "present")]
    retry_after: Option<Option<u32>>,
}

// By hand: YAML values carry enums as tags, and a case author writes plain words.
impl<'de> Deserialize<'de> for Expected {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_yaml_ng::Value::deserialize(d)?;
        match value.as_str() {
            Some("allow") => return Ok(Expected::Allow),
            Some("floor") => return Ok(Expected::Floor),
            _ => {}
        }
        let deny = value
            .as_mapping()
            .filter(|m| m.len() == 1)
            .and_then(|m| m.get("deny"))
            .ok_or_else(|| D::Error::custom("expected `allow`, `floor` or `{deny: {status, error_code}}`"))?;
        let spec: DenySpec = serde_path_to_error::deserialize(deny.clone()).map_err(|e| {
            let at = e.path().to_string();
            let inner = e.into_inner();
            if at == "." { D::Error::custom(format!("deny: {inner}")) } else { D::Error::custom(format!("deny.{at}: {inner}")) }
        })?;
        Ok(Expected::Deny {
            status: spec.status,
            error_code: spec.error_code,
            message: spec.message,
            retry_after: spec.retry_after,
        })
    }
}

/// A case file that could not be read, with where and why.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {place}{reason}")]
pub struct CaseError {
    pub file: String,
    pub place: String,
    pub reason: String,
}

/// Read and check a case file (YAML; JSON is YAML too).
pub fn load(path: &Path) -> Result<Vec<Case>, CaseError> {
    let file = path.display().to_string();
    let err = |place: String, reason: String| CaseError { file: file.clone(), place, reason };
    let text = std::fs::read_to_string(path).map_err(|e| err(String::new(), format!("cannot read: {e}")))?;
    parse(&file, &text)
}

/// Check a case file's text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Vec<Case>, CaseError> {
    let err = |place: String, reason: String| CaseError { file: file.to_string(), place, reason };
    let de = serde_yaml_ng::Deserializer::from_str(text);
    let parsed: CaseFile = serde_path_to_error::deserialize(de).map_err(|e| {
        let at = e.path().to_string();
        let place = if at == "." { String::new() } else { format!("field `{at}`: ") };
        err(place, e.into_inner().to_string())
    })?;
    if parsed.cases.is_empty() {
        return Err(err(String::new(), "no cases (`cases:` is empty)".into()));
    }
    parsed
        .cases
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let label = match value.get("name").and_then(|n| n.as_str()) {
                Some(n) => format!("case {} ({n}): ", i + 1),
                None => format!("case {}: ", i + 1),
            };
            let case: Case = serde_path_to_error::deserialize(value).map_err(|e| {
                let at = e.path().to_string();
                let inner = e.into_inner().to_string();
                let reason = if at == "." { inner } else { format!("field `{at}`: {inner}") };
                err(label.clone(), reason)
            })?;
            case.validate().map_err(|reason| err(label, reason))?;
            Ok(case)
        })
        .collect()
}

impl Case {
    fn validate(&self) -> Result<(), String> {
        if !self.request.path.starts_with('/') {
            return Err(format!("field `request.path`: `{}` must start with `/`", self.request.path));
        }
        if self.request.method.is_empty() || !self.request.method.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(format!("field `request.method`: `{}` is not an HTTP method", self.request.method));
        }
        if Role::parse(&self.request.role).is_none() {
            return Err(format!("field `request.role`: `{}` is not `sys_admin` or `user`", self.request.role));
        }
        if let Some((status, _)) = self.executions.iter().find(|(s, _)| s.is_terminal()) {
            return Err(format!(
                "field `executions`: `{status}` is an end state; only unfinished executions are counted"
            ));
        }
        if let Expected::Deny { status, .. } = self.expect
            && !(400..=599).contains(&status)
        {
            return Err(format!("field `expect.deny.status`: {status} is not an HTTP error status"));
        }
        Ok(())
    }

    /// The descriptor and snapshot the server would build for this request.
    pub fn descriptor(&self) -> (RequestDescriptor, Snapshot) {
        let r = &self.request;
        let template = r
            .route
            .as_ref()
            .map(|t| if t.starts_with('/') { t.clone() } else { format!("{API_PREFIX}/{t}") })
            .or_else(|| route_template(&r.path))
            .unwrap_or_else(|| r.path.clone());
        let caller = Caller {
            username: r.user.clone(),
            role: Role::parse(&r.role).unwrap_or(Role::User),
            bypass: r.bypass,
        };
        let mut desc = RequestDescriptor::new(&r.method, &r.path, &template, API_PREFIX, caller);
        desc.attributes = r.attributes.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let snapshot = Snapshot {
            state: self.state,
            executions: ExecutionCounts { by_status: self.executions.iter().map(|(s, n)| (*s, *n)).collect() },
            facts: self.facts.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        };
        (desc, snapshot)
    }
}

/// What a policy actually answered, in the vocabulary of expectations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Actual {
    Allow,
    Deny { status: u16, error_code: String, message: String, retry_after: Option<u32> },
    /// Admitted by the host's admin floor without asking the policy.
    Floor,
    Fault { reason: String },
}

/// Decide one case the way the server would.
pub fn evaluate(policy: &Policy, config: &GateConfig, case: &Case) -> Actual {
    let (desc, snapshot) = case.descriptor();
    if config.on_floor(&desc.view()) {
        return Actual::Floor;
    }
    match policy.decide(&desc, &snapshot) {
        Ok(Decision::Allow) => Actual::Allow,
        Ok(Decision::Deny(d)) => Actual::Deny {
            status: d.status,
            error_code: d.error_code,
            message: d.message,
            retry_after: d.retry_after,
        },
        Err(fault) => Actual::Fault { reason: fault.to_string() },
    }
}

/// Whether `actual` meets `expected`. The message and retry-after are compared only
/// when the case gives them.
pub fn matches(expected: &Expected, actual: &Actual) -> bool {
    match (expected, actual) {
        (Expected::Allow, Actual::Allow) | (Expected::Floor, Actual::Floor) => true,
        (
            Expected::Deny { status, error_code, message, retry_after },
            Actual::Deny { status: s, error_code: c, message: m, retry_after: r },
        ) => {
            status == s
                && error_code == c
                && message.as_ref().is_none_or(|x| x == m)
                && retry_after.is_none_or(|x| x == *r)
        }
        _ => false,
    }
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expected::Allow => f.write_str("allow"),
            Expected::Floor => f.write_str("allow (admin floor)"),
            Expected::Deny { status, error_code, message, retry_after } => {
                write!(f, "deny {status} {error_code}")?;
                if let Some(m) = message {
                    write!(f, " {m:?}")?;
                }
                match retry_after {
                    Some(Some(r)) => write!(f, " retry-after {r}")?,
                    Some(None) => f.write_str(" without retry-after")?,
                    None => {}
                }
                Ok(())
            }
        }
    }
}

impl std::fmt::Display for Actual {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actual::Allow => f.write_str("allow"),
            Actual::Floor => f.write_str("allow (admin floor)"),
            Actual::Deny { status, error_code, message, retry_after } => {
                write!(f, "deny {status} {error_code} {message:?}")?;
                if let Some(r) = retry_after {
                    write!(f, " retry-after {r}")?;
                }
                Ok(())
            }
            Actual::Fault { reason } => write!(f, "policy fault: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile_path::TempPath {
        tempfile_path::TempPath::new(text)
    }

    /// A minimal temp file without a dev-dependency.
    mod tempfile_path {
        pub struct TempPath(pub std::path::PathBuf);
        impl TempPath {
            pub fn new(text: &str) -> Self {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "drydock-cases-{}-{}.yaml",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::write(&p, text).unwrap();
                TempPath(p)
            }
        }
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn parses_a_case_and_builds_the_server_descriptor() {
        let f = write(
            "cases:\n  - name: start while activating\n    state: activating\n    executions: {started: 2}\n    request: {method: post, path: /api/v3.1/executions, role: sys_admin, user: admin}\n    expect: {deny: {status: 503, error_code: entering_maintenance_mode}}\n",
        );
        let cases = load(&f.0).unwrap();
        let (desc, snap) = cases[0].descriptor();
        assert_eq!(desc.route, "executions");
        assert_eq!(desc.first_segment, "executions");
        assert_eq!(desc.method, "POST");
        assert_eq!(snap.executions.total(), 2);
        assert_eq!(snap.state, MaintenanceState::Activating);
    }

    #[test]
    fn unknown_fields_name_the_file_case_and_field() {
        let f = write("cases:\n  - name: typo\n    request: {method: GET, path: /api/v3.1/status, colour: red}\n    expect: allow\n");
        let e = load(&f.0).unwrap_err().to_string();
        assert!(e.contains("case 1 (typo)"), "{e}");
        assert!(e.contains("request"), "{e}");
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn a_missing_expectation_and_bad_values_are_errors() {
        let f = write("cases:\n  - name: no expect\n    request: {method: GET, path: /api/v3.1/status}\n");
        let e = load(&f.0).unwrap_err().to_string();
        assert!(e.contains("case 1 (no expect)") && e.contains("expect"), "{e}");

        let f = write("cases:\n  - name: bad state\n    state: sideways\n    request: {method: GET, path: /x}\n    expect: allow\n");
        let e = load(&f.0).unwrap_err().to_string();
        assert!(e.contains("field `state`") && e.contains("sideways"), "{e}");

        let f = write("cases:\n  - name: ended\n    executions: {terminated: 1}\n    request: {method: GET, path: /x}\n    expect: allow\n");
        let e = load(&f.0).unwrap_err().to_string();
        assert!(e.contains("executions") && e.contains("end state"), "{e}");
    }

    #[test]
    fn expectations_compare_only_what_they_name() {
        let deny = Actual::Deny { status: 503, error_code: "x".into(), message: "m".into(), retry_after: Some(5) };
        let want = Expected::Deny { status: 503, error_code: "x".into(), message: None, retry_after: None };
        assert!(matches(&want, &deny));
        let want = Expected::Deny { status: 503, error_code: "x".into(), message: Some("other".into()), retry_after: None };
        assert!(!matches(&want, &deny));
        assert!(!matches(&Expected::Allow, &deny));
        assert!(!matches(&Expected::Allow, &Actual::Floor), "the floor is not the policy's allow");
        assert!(matches(&Expected::Floor, &Actual::Floor));
        assert!(!matches(&Expected::Floor, &Actual::Allow));
        let none = Expected::Deny { status: 503, error_code: "x".into(), message: None, retry_after: Some(None) };
        assert!(!matches(&none, &deny), "retry_after: null wants none, the refusal has 5");
        let five = Expected::Deny { status: 503, error_code: "x".into(), message: None, retry_after: Some(Some(5)) };
        assert!(matches(&five, &deny));
        assert!(!matches(&Expected::Allow, &Actual::Fault { reason: "trap".into() }));
    }
}
