//! The tower layer and the per-request decision.
//!
//! The request path is built to copy nothing when the gate remembers the decision:
//! the request is described by borrowing from the HTTP request ([`RequestView`]),
//! the memo is read from that view, the admitted request carries a ticket without a
//! copy of the request, and the response future is not boxed.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::MatchedPath;
use axum::response::Response;
use http::{Extensions, HeaderMap, HeaderValue, Method, Request, Uri};

use drydock_engine::{Caller, CallerView, Decision, Denial, Fault, Policy, Published, RequestDescriptor, RequestView, Role, Slots, Snapshot};

use crate::admission::AdmissionTicket;
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
        desc: &RequestView<'_>,
        published: &Arc<Published>,
        decision: &Decision,
        took: Option<Duration>,
    );
    /// `policy` could not decide; the fail mode did. That verdict is not the
    /// policy's: it is never reported as [`Observer::decided`].
    fn faulted(&self, _policy: &Policy, _fault: &Fault) {}
    /// The admin floor admitted a sys_admin without asking the policy.
    fn floor(&self, _desc: &RequestView<'_>) {}
    /// Every verdict the gate gives, wherever it came from (after the calls above):
    /// for a decision log. Returns the decision's id when it is kept, which the gate
    /// sends back as [`DECISION_HEADER`]. Called on the request's path: it must not
    /// block (queue, don't write).
    fn answered(&self, _answer: &Answered<'_>) -> Option<HeaderValue> {
        None
    }
}

/// The response header that names a kept decision (see [`Observer::answered`]).
pub const DECISION_HEADER: &str = "x-drydock-decision-id";

/// One verdict of the gate, as [`Observer::answered`] hears it.
pub struct Answered<'a> {
    /// The policy asked (`None`: the admin floor answered without asking).
    pub policy: Option<&'a Arc<Policy>>,
    pub desc: &'a RequestView<'a>,
    pub published: &'a Arc<Published>,
    pub verdict: &'a Decision,
    /// `None`: the admin floor.
    pub origin: Option<Origin>,
    /// The request's W3C `traceparent` header, if it had a plausible one.
    pub traceparent: Option<&'a str>,
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
        GateLayer { gate: Arc::new(self.clone()) }
    }

    /// Ask `policy` about `desc` under `snapshot`, applying the fail mode to faults.
    pub fn ask(&self, policy: &Policy, desc: &RequestDescriptor, snapshot: &Snapshot) -> Decision {
        let view = desc.view();
        match policy.decide_view(&view, snapshot) {
            Ok(d) => d,
            Err(fault) => self.on_fault(policy, &view, fault),
        }
    }

    /// Describe a request as the gate does (the caller from the [`Caller`] extension,
    /// the bypass header, [`RequestAttributes`], the matched route) and hand the
    /// borrowed description to `f`.
    pub fn describe<R>(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        extensions: &Extensions,
        f: impl FnOnce(&RequestView<'_>) -> R,
    ) -> R {
        static ANONYMOUS: LazyLock<Role> = LazyLock::new(|| Role::Other("anonymous".into()));
        let path = uri.path();
        let template = extensions.get::<MatchedPath>().map_or(path, MatchedPath::as_str);
        let bypass = headers.get(BYPASS_HEADER).is_some_and(|v| !v.as_bytes().is_empty());
        let caller = match extensions.get::<Caller>() {
            Some(c) => CallerView { username: &c.username, role: &c.role, bypass },
            None => CallerView { username: "", role: &ANONYMOUS, bypass },
        };
        // The standard methods are upper case already; only an extension method in
        // lower case is copied.
        let upper;
        let mut method = method.as_str();
        if method.bytes().any(|b| b.is_ascii_lowercase()) {
            upper = method.to_ascii_uppercase();
            method = &upper;
        }
        let mut view = RequestView::new(method, path, template, &self.config.api_prefix, caller);
        if let Some(extra) = extensions.get::<RequestAttributes>() {
            view.attributes = &extra.0;
        }
        f(&view)
    }

    /// [`Gate::ask`] under a published state, answered from the per-thread memo of
    /// recent decisions when this very gate had this very request decided under this
    /// very state version by this very policy (see `memo`); and where the verdict
    /// came from.
    pub fn ask_published(&self, policy: &Policy, desc: &RequestView<'_>, published: &Published) -> (Decision, Origin) {
        let key = crate::memo::Key { gate: self.id, policy: policy.serial(), version: published.version, facts: published.facts };
        if let Some(d) = crate::memo::recall(key, desc) {
            return (d, Origin::Memo);
        }
        let started = Instant::now();
        match policy.decide_view(desc, &published.snapshot) {
            Ok(d) => {
                let took = started.elapsed();
                crate::memo::remember(key, desc, &d);
                (d, Origin::Policy(took))
            }
            Err(fault) => (self.on_fault(policy, desc, fault), Origin::FailMode),
        }
    }

    fn on_fault(&self, policy: &Policy, desc: &RequestView<'_>, fault: Fault) -> Decision {
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
    gate: Arc<Gate>,
}

impl<S> tower::Layer<S> for GateLayer {
    type Service = GateService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GateService { gate: self.gate.clone(), inner }
    }
}

#[derive(Clone)]
pub struct GateService<S> {
    gate: Arc<Gate>,
    inner: S,
}

/// Facts an earlier layer established about a request (say, a verified parent
/// execution), put in its extensions: the gate hands them to the policy as the
/// descriptor's attributes. The gate trusts them as it trusts the [`Caller`]: only
/// the host's own layers should insert them.
#[derive(Debug, Clone, Default)]
pub struct RequestAttributes(pub Vec<(String, String)>);

impl RequestAttributes {
    /// Add `facts` after those already in `extensions` (or as the first).
    pub fn append(extensions: &mut Extensions, facts: impl IntoIterator<Item = (String, String)>) {
        match extensions.get_mut::<RequestAttributes>() {
            Some(existing) => existing.0.extend(facts),
            None => {
                extensions.insert(RequestAttributes(facts.into_iter().collect()));
            }
        }
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

fn with_label(mut resp: Response, label: HeaderValue, id: Option<HeaderValue>) -> Response {
    // A `HeaderName`, not the `&str`: inserting a custom name given as a string
    // copies it into a new allocation on every response.
    static NAME: http::HeaderName = http::HeaderName::from_static(POLICY_HEADER);
    static ID: http::HeaderName = http::HeaderName::from_static(DECISION_HEADER);
    resp.headers_mut().insert(NAME.clone(), label);
    if let Some(id) = id {
        resp.headers_mut().insert(ID.clone(), id);
    }
    resp
}

/// The gate's response future: an admitted request's handler, or a refusal (which
/// drains the request body first). Not boxed for the admitted case.
pub enum GateFuture<F> {
    Admitted { inner: F, label: Option<(HeaderValue, Option<HeaderValue>)> },
    Refused(Pin<Box<dyn Future<Output = Response> + Send>>),
}

impl<F, E> Future for GateFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is never moved out of the pinned enum and the enum never
        // changes variant once built; `label` is not structurally pinned.
        match unsafe { self.get_unchecked_mut() } {
            GateFuture::Admitted { inner, label } => {
                let resp = ready!(unsafe { Pin::new_unchecked(inner) }.poll(cx))?;
                Poll::Ready(Ok(match label.take() {
                    Some((label, id)) => with_label(resp, label, id),
                    None => resp,
                }))
            }
            GateFuture::Refused(refusal) => refusal.as_mut().poll(cx).map(Ok),
        }
    }
}

impl<S> tower::Service<Request<Body>> for GateService<S>
where
    S: tower::Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = GateFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let gate = &self.gate;
        let published = gate.state.current();
        // A W3C trace id is 55 characters; anything much longer is not one.
        let traceparent = req.headers().get("traceparent").and_then(|v| v.to_str().ok()).filter(|t| t.len() <= 128);
        let (policy, label, verdict, id) =
            gate.describe(req.method(), req.uri(), req.headers(), req.extensions(), |desc| {
                if gate.config.on_floor(desc) {
                    let mut id = None;
                    if let Some(observer) = &gate.observer {
                        observer.floor(desc);
                        let answer = Answered {
                            policy: None,
                            desc,
                            published: &published,
                            verdict: &Decision::Allow,
                            origin: None,
                            traceparent,
                        };
                        id = observer.answered(&answer);
                    }
                    return (None, HeaderValue::from_static(FLOOR_LABEL), Decision::Allow, id);
                }
                let policy = gate.slots.active();
                let (verdict, origin) = gate.ask_published(&policy, desc, &published);
                let mut id = None;
                if let Some(observer) = &gate.observer {
                    // Metrics, and the shadow candidate's turn (queued, off this path). A
                    // fail-mode verdict is not the policy's: `faulted` told the observer.
                    match origin {
                        Origin::Policy(took) => observer.decided(&policy, desc, &published, &verdict, Some(took)),
                        Origin::Memo => observer.decided(&policy, desc, &published, &verdict, None),
                        Origin::FailMode => {}
                    }
                    let answer = Answered {
                        policy: Some(&policy),
                        desc,
                        published: &published,
                        verdict: &verdict,
                        origin: Some(origin),
                        traceparent,
                    };
                    id = observer.answered(&answer);
                }
                tracing::debug!(policy = %policy.label(), method = %desc.method, route = %desc.route, ?verdict, "decision");
                let label = gate.labels.of(&policy);
                (Some(policy), label, verdict, id)
            });

        match verdict {
            Decision::Deny(denial) => {
                let resp = gate.config.refuse(&denial);
                GateFuture::Refused(Box::pin(async move { with_label(refuse_after_draining(req, resp).await, label, id) }))
            }
            Decision::Allow => {
                // Only a request that may write can need deciding again; the safe
                // methods (RFC 9110 §9.2.1) never write, so they carry no ticket.
                if !req.method().is_safe() {
                    let ticket = AdmissionTicket { version: published.version, policy, gate: gate.clone() };
                    req.extensions_mut().insert(ticket);
                }
                // Called here, not inside the future: the service driven to readiness
                // is the one called, and nothing needs a clone of it.
                GateFuture::Admitted { inner: self.inner.call(req), label: Some((label, id)) }
            }
        }
    }
}
