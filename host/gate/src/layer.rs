//! The tower layer and the per-request decision.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::MatchedPath;
use axum::response::Response;
use http::{HeaderValue, Request};

use drydock_engine::{Caller, Decision, Denial, Fault, Policy, Published, RequestDescriptor, Role, Slots, Snapshot};

use crate::admission::{AdmissionTicket, Ticket};
use crate::label::Labels;
use crate::{BYPASS_HEADER, FLOOR_LABEL, FailMode, GateConfig, POLICY_HEADER, StateSource};

/// Told about the gate's decisions (metrics, shadow evaluation). Called on the
/// request path: an implementation must be cheap and must never block.
pub trait Observer: Send + Sync + 'static {
    /// The active `policy` decided `decision` on `desc` under `published`. `took` is
    /// how long the policy took; `None` when the gate answered from its memo of this
    /// very request under this very state and policy (no policy call was made).
    fn decided(
        &self,
        policy: &Arc<Policy>,
        desc: &RequestDescriptor,
        published: &Arc<Published>,
        decision: &Decision,
        took: Option<Duration>,
    );
    /// `policy` could not decide; the fail mode did. That verdict is not the
    /// policy's: it is never reported as [`Observer::decided`].
    fn faulted(&self, _policy: &Policy, _fault: &Fault) {}
    /// The admin floor admitted a sys_admin without asking the policy.
    fn floor(&self, _desc: &RequestDescriptor) {}
}

/// The decision-maker shared by every request: policy slots, state, configuration.
#[derive(Clone)]
pub struct Gate {
    pub slots: Arc<Slots>,
    pub state: Arc<dyn StateSource>,
    pub config: Arc<GateConfig>,
    pub observer: Option<Arc<dyn Observer>>,
    labels: Arc<Labels>,
    /// Unique per gate (and its clones): the memo keeps one gate's decisions from
    /// answering another's, whose state source may differ.
    id: u64,
}

/// Where a verdict came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The policy decided, in this long.
    Policy(Duration),
    /// The memo remembered the policy's decision of this very request.
    Memo,
    /// The policy faulted; the fail mode decided.
    FailMode,
}

impl Gate {
    pub fn new(slots: Arc<Slots>, state: Arc<dyn StateSource>, config: GateConfig) -> Gate {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        Gate { slots, state, config: Arc::new(config), observer: None, labels: Arc::default(), id }
    }

    /// Report every decision to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Gate {
        self.observer = Some(observer);
        self
    }

    pub fn layer(&self) -> GateLayer {
        GateLayer { gate: self.clone() }
    }

    /// Ask `policy` about `desc` under `snapshot`, applying the fail mode to faults.
    pub fn ask(&self, policy: &Policy, desc: &RequestDescriptor, snapshot: &Snapshot) -> Decision {
        match policy.decide(desc, snapshot) {
            Ok(d) => d,
            Err(fault) => self.on_fault(policy, desc, fault),
        }
    }

    /// [`Gate::ask`] under a published state, answered from the per-thread memo of
    /// recent decisions when this very gate had this very request decided under this
    /// very state version by this very policy (see `memo`); and where the verdict
    /// came from.
    pub fn ask_published(&self, policy: &Policy, desc: &RequestDescriptor, published: &Published) -> (Decision, Origin) {
        let key = crate::memo::Key { gate: self.id, policy: policy.serial(), version: published.version, facts: published.facts };
        if let Some(d) = crate::memo::recall(key, desc) {
            return (d, Origin::Memo);
        }
        let started = Instant::now();
        match policy.decide(desc, &published.snapshot) {
            Ok(d) => {
                let took = started.elapsed();
                crate::memo::remember(key, desc, &d);
                (d, Origin::Policy(took))
            }
            Err(fault) => (self.on_fault(policy, desc, fault), Origin::FailMode),
        }
    }

    fn on_fault(&self, policy: &Policy, desc: &RequestDescriptor, fault: Fault) -> Decision {
        tracing::warn!(policy = %policy.label(), route = %desc.route, %fault, "policy fault");
        if let Some(observer) = &self.observer {
            observer.faulted(policy, &fault);
        }
        match self.config.fail_mode {
            FailMode::Open => Decision::Allow,
            FailMode::Closed => Decision::Deny(Denial {
                status: 503,
                error_code: "policy_error".into(),
                message: format!(
                    "The admission policy {} could not decide this request ({fault}); the request was refused. An administrator can roll the policy back.",
                    policy.label()
                ),
                retry_after: None,
            }),
        }
    }
}

#[derive(Clone)]
pub struct GateLayer {
    gate: Gate,
}

impl<S> tower::Layer<S> for GateLayer {
    type Service = GateService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GateService { gate: self.gate.clone(), inner }
    }
}

#[derive(Clone)]
pub struct GateService<S> {
    gate: Gate,
    inner: S,
}

/// Facts an earlier layer established about a request (say, a verified parent
/// execution), put in its extensions: the gate hands them to the policy as the
/// descriptor's attributes. The gate trusts them as it trusts the [`Caller`]: only
/// the host's own layers should insert them.
#[derive(Debug, Clone, Default)]
pub struct RequestAttributes(pub Vec<(String, String)>);

fn caller_of(req: &Request<Body>) -> Caller {
    let bypass = req.headers().get(BYPASS_HEADER).is_some_and(|v| !v.as_bytes().is_empty());
    match req.extensions().get::<Caller>() {
        Some(c) => Caller { bypass, ..c.clone() },
        None => Caller { username: String::new(), role: Role::Other("anonymous".into()), bypass },
    }
}

/// Refused request bodies up to this size are read and dropped; larger ones
/// end the connection.
const DRAIN_LIMIT: usize = 1024 * 1024;

/// Read what is left of a refused request's body before answering: hyper
/// silently closes a keep-alive connection whose request body was not read, and
/// a client that reuses it (as most do) then fails its next request. A body too
/// large to drain gets `Connection: close`, so the client knows.
async fn refuse_after_draining(req: Request<Body>, mut resp: Response) -> Response {
    if axum::body::to_bytes(req.into_body(), DRAIN_LIMIT).await.is_err() {
        resp.headers_mut().insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

fn with_label(mut resp: Response, label: HeaderValue) -> Response {
    resp.headers_mut().insert(POLICY_HEADER, label);
    resp
}

impl<S> tower::Service<Request<Body>> for GateService<S>
where
    S: tower::Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let template = req
            .extensions()
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_else(|| req.uri().path().to_owned());
        let mut desc = RequestDescriptor::new(
            req.method().as_str(),
            req.uri().path(),
            &template,
            &self.gate.config.api_prefix,
            caller_of(&req),
        );
        if let Some(extra) = req.extensions().get::<RequestAttributes>() {
            desc.attributes.extend(extra.0.iter().cloned());
        }
        let published = self.gate.state.current();

        let (policy, label, verdict) = if self.gate.config.on_floor(&desc) {
            if let Some(observer) = &self.gate.observer {
                observer.floor(&desc);
            }
            (None, HeaderValue::from_static(FLOOR_LABEL), Decision::Allow)
        } else {
            let policy = self.gate.slots.active();
            let (verdict, origin) = self.gate.ask_published(&policy, &desc, &published);
            if let Some(observer) = &self.gate.observer {
                // Metrics, and the shadow candidate's turn (queued, off this path). A
                // fail-mode verdict is not the policy's: `faulted` told the observer.
                match origin {
                    Origin::Policy(took) => observer.decided(&policy, &desc, &published, &verdict, Some(took)),
                    Origin::Memo => observer.decided(&policy, &desc, &published, &verdict, None),
                    Origin::FailMode => {}
                }
            }
            let label = self.gate.labels.of(&policy);
            (Some(policy), label, verdict)
        };
        tracing::debug!(policy = ?label, method = %desc.method, route = %desc.route, ?verdict, "decision");

        match verdict {
            Decision::Deny(denial) => {
                let resp = self.gate.config.refuse(&denial);
                Box::pin(async move { Ok(with_label(refuse_after_draining(req, resp).await, label)) })
            }
            Decision::Allow => {
                let ticket = Ticket { version: published.version, desc, policy, gate: self.gate.clone() };
                req.extensions_mut().insert(AdmissionTicket(Arc::new(ticket)));
                // Take the service that was driven to readiness; leave a fresh clone.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                Box::pin(async move {
                    let resp = inner.call(req).await?;
                    Ok(with_label(resp, label))
                })
            }
        }
    }
}
