//! The console's HTML: one page, server-rendered, accessible (labels, landmarks, a
//! live region for the state), readable on a phone. The one script swaps in the
//! state fragment when the server says it changed, and refreshes a running shadow
//! report every two seconds.

use drydock_engine::Decision;

use super::Session;
use crate::api::App;
use crate::manager::MaintenanceView;
use crate::registry::{Active, ShadowReport, Version};
use crate::store::{Page, Transition};

/// Text as HTML (content or a quoted attribute).
pub fn esc(s: &str) -> String {
    html_escape::encode_quoted_attribute(s).into_owned()
}

/// Remaining executions the page lists at most.
const SHOWN: usize = 100;

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:0;color:#111;background:#fafafa;line-height:1.4}\
main{max-width:60rem;margin:auto;padding:1rem}\
header{display:flex;justify-content:space-between;align-items:center;padding:.5rem 1rem;background:#123;color:#fff}\
header form{margin:0}\
.banner{padding:1.2rem;border-radius:.5rem;font-size:1.6rem;font-weight:700;margin:1rem 0}\
.deactivated{background:#d8f5dd;color:#0b4a17}.activating{background:#fff1c2;color:#5c4100}.activated{background:#ffd6d6;color:#6b0000}\
section{background:#fff;border:1px solid #ddd;border-radius:.5rem;padding:1rem;margin:1rem 0}\
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:.3rem;border-bottom:1px solid #eee;vertical-align:top}\
label{display:block;margin:.4rem 0}input,select,button{font-size:1rem;padding:.3rem}\
button{background:#124;color:#fff;border:0;border-radius:.3rem;padding:.4rem .8rem;cursor:pointer}\
button:focus,input:focus,select:focus{outline:3px solid #f90}\
.notice{padding:.6rem;background:#e6f0ff;border-left:4px solid #124}.muted{color:#555}\
@media (max-width:40rem){.banner{font-size:1.2rem}table{font-size:.8rem}}";

const SCRIPT: &str = r#"
(function () {
  var live = document.getElementById('state');
  function typing() {
    var form = document.querySelector('form[action="/console/maintenance/activate"]');
    return form && Array.prototype.some.call(form.querySelectorAll('input:not([type=hidden])'), function (i) { return i.value; });
  }
  function refresh() {
    fetch('/console/state', {credentials: 'same-origin'}).then(function (r) { return r.text(); })
      .then(function (html) {
        var was = document.getElementById('banner').dataset.status;
        live.innerHTML = html;
        // A new status changes what can be done: swap in the controls for it, unless
        // the operator is filling in the activation form.
        var controls = document.getElementById('controls');
        if (controls && document.getElementById('banner').dataset.status !== was && !typing()) {
          fetch('/console/controls', {credentials: 'same-origin'}).then(function (r) { return r.text(); })
            .then(function (html) { controls.innerHTML = html; });
        }
      });
  }
  if (window.EventSource) {
    var es = new EventSource('/console/events');
    es.addEventListener('change', refresh);
  }
  var upload = document.getElementById('upload-form');
  if (upload) {
    upload.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var file = document.getElementById('wasm').files[0];
      var out = document.getElementById('upload-result');
      if (!file) { out.textContent = 'Choose a .wasm file first.'; return; }
      // Checked and compiled before it is stored: seconds for a Rust component,
      // half a minute for a Python or JavaScript one.
      out.textContent = file.size > 4194304
        ? 'Uploading and compiling (a Python or JavaScript component takes 20-35 s)...'
        : 'Uploading and checking...';
      fetch('/console/policies/upload', {method: 'POST', credentials: 'same-origin', body: file,
        headers: {'Content-Type': 'application/wasm', 'X-CSRF-Token': upload.dataset.csrf}})
        .then(function (r) { return r.text().then(function (t) { out.textContent = t; if (r.ok) { setTimeout(function () { location.reload(); }, 800); } }); });
    });
  }
  var chart = document.getElementById('chart');
  function draw() {
    fetch('/console/chart', {credentials: 'same-origin'}).then(function (r) { return r.text(); })
      .then(function (html) { chart.innerHTML = html; });
  }
  if (chart) { draw(); setInterval(draw, 5000); }
  var shadow = document.getElementById('shadow');
  if (shadow && shadow.dataset.running === 'true') {
    setInterval(function () {
      fetch('/console/shadow', {credentials: 'same-origin'}).then(function (r) { return r.text(); })
        .then(function (html) { shadow.innerHTML = html; });
    }, 2000);
  }
})();
"#;

/// A captioned table; `rows` are cells already in HTML.
fn table(id: &str, caption: &str, head: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut out = format!("<table id=\"{}\"><caption>{}</caption><tr>", esc(id), esc(caption));
    for h in head {
        out.push_str(&format!("<th>{}</th>", esc(h)));
    }
    out.push_str("</tr>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            out.push_str(&format!("<td>{cell}</td>"));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

fn layout(title: &str, header: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>{header}<main>{body}</main></body></html>",
        esc(title)
    )
}

fn notice_html(notice: Option<&str>) -> String {
    notice.map_or(String::new(), |n| format!("<p class=\"notice\" role=\"status\" id=\"notice\">{}</p>", esc(n)))
}

pub fn login(notice: Option<&str>) -> String {
    let body = format!(
        "<h1>drydock console</h1>{}\
         <form method=\"post\" action=\"/console/login\" aria-label=\"Sign in\">\
         <label for=\"username\">Username</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required>\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <p><button id=\"sign-in\" type=\"submit\">Sign in</button></p></form>",
        notice_html(notice)
    );
    layout("drydock — sign in", "", &body)
}

/// What the dashboard shows, gathered off the async workers (it reads the database).
pub struct Dashboard {
    pub view: MaintenanceView,
    pub history: Vec<Transition>,
    pub versions: Vec<Version>,
    pub active: Active,
    pub shadow: Option<ShadowReport>,
    pub policy_log: Vec<crate::store::PolicyLogEntry>,
    /// The newest refusals in the decision log (a sys_admin's; read for the whole
    /// page only, not for every live refresh: see [`Dashboard::for_page`]).
    pub refusals: Vec<crate::decisions::DecisionRecord>,
    /// Who signed each version, by sha256 (read for the whole page only, too).
    pub signers: std::collections::HashMap<String, Vec<crate::registry::Signer>>,
}

impl Dashboard {
    /// What only the whole page shows: the newest refusals of the decision log (when
    /// there is one) and who signed each version.
    pub fn for_page(mut self, app: &App) -> crate::error::Result<Dashboard> {
        if app.decisions.is_some() {
            let f = crate::store::DecisionFilter { verdict: Some(crate::decisions::Verdict::Deny), ..Default::default() };
            self.refusals = app.manager.decisions(&f, &Page { offset: 0, size: 10, sort: None })?.0;
        }
        self.signers = app.policies.signers()?;
        Ok(self)
    }

    /// What `admin` (a sys_admin's session) may see: the policy history, the
    /// shadow report (other users' request paths) and the remaining executions
    /// (every tenant's) are a sys_admin's, as in the API; anyone else sees the count.
    pub fn gather(app: &App, admin: bool) -> crate::error::Result<Dashboard> {
        let mut view = app.manager.maintenance_listing(SHOWN);
        if !admin {
            view.remaining = view.remaining.map(|_| Default::default());
        }
        Ok(Dashboard {
            // The page lists the oldest; the headline counts them all.
            view,
            history: app.manager.history(&Page { offset: 0, size: 10, sort: None })?.0,
            versions: app.policies.list()?,
            active: app.policies.active()?,
            shadow: if admin { app.policies.shadow_report(10) } else { None },
            policy_log: if admin { app.policies.history(10)? } else { Vec::new() },
            refusals: Vec::new(),
            signers: Default::default(),
        })
    }
}

fn csrf(session: &Session) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", esc(&session.csrf))
}

fn button(session: &Session, action: &str, label: &str, id: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\" style=\"display:inline\">{}<button id=\"{}\" type=\"submit\">{}</button></form>",
        esc(action),
        csrf(session),
        esc(id),
        esc(label)
    )
}

/// The live part: the banner, what activation waits for, the history.
pub fn state(d: &Dashboard) -> String {
    let v = &d.view;
    let status = v.state().as_str();
    let rec = v.record.as_ref();
    let mut out = String::new();
    let headline = match (status, v.remaining.as_ref().map(|_| v.unfinished)) {
        ("activating", Some(n)) => format!("Activating — waiting for {n} execution{}", if n == 1 { "" } else { "s" }),
        ("activated", _) => "Activated — in maintenance mode".to_string(),
        _ => "Deactivated — serving normally".to_string(),
    };
    out.push_str(&format!("<div class=\"banner {status}\" id=\"banner\" data-status=\"{status}\">{}</div>", esc(&headline)));
    if let Some(r) = rec {
        out.push_str(&format!("<p>Requested by <b>{}</b> at {}", esc(&r.requested_by), esc(&r.activation_requested_at)));
        if let Some(reason) = &r.reason {
            out.push_str(&format!(" — reason: <b id=\"reason\">{}</b>", esc(reason)));
        }
        if let Some(until) = &r.until {
            out.push_str(&format!(" — expected to end {}", esc(until)));
        }
        if let Some((at, on)) = &r.deadline {
            out.push_str(&format!(" — deadline {} ({})", esc(at), on.as_str()));
        }
        out.push_str("</p>");
    }
    if let Some(w) = &v.next_window {
        out.push_str(&format!(
            "<p>{} window: {} – {}{}</p>",
            if w.status.as_str() == "started" { "Current" } else { "Next" },
            esc(&w.start_at),
            esc(w.end_at.as_deref().unwrap_or("no set end")),
            w.reason.as_deref().map_or(String::new(), |r| format!(" ({})", esc(r)))
        ));
    }
    if let Some(rem) = v.remaining.as_ref().filter(|r| !r.is_empty()) {
        let rows = rem.iter().map(|r| {
            vec![esc(&r.id), esc(&r.workflow_id), esc(r.deployment_id.as_deref().unwrap_or("")), r.status.as_str().to_string()]
        });
        out.push_str(&table("remaining", "Remaining executions", &["id", "workflow", "deployment", "status"], rows));
        if v.unfinished > rem.len() as u64 {
            out.push_str(&format!("<p>… and {} more (the oldest {} are listed).</p>", v.unfinished - rem.len() as u64, rem.len()));
        }
    }
    let rows = d.history.iter().map(|t| {
        vec![
            esc(&t.at),
            esc(&t.by),
            format!("{} → {}", t.from.as_str(), t.to.as_str()),
            esc(t.reason.as_deref().unwrap_or("")),
            esc(&t.detail),
        ]
    });
    out.push_str(&table("history", "History (newest first)", &["at", "by", "from → to", "reason", "detail"], rows));
    out
}

/// The maintenance controls: outside the live region, so a form being filled in is
/// never replaced under the operator's hands.
pub fn controls(d: &Dashboard, session: &Session) -> String {
    let mut out = String::new();
    let status = d.view.state().as_str();
    if session.is_admin() {
        if status == "deactivated" {
            out.push_str(&format!(
                "<form method=\"post\" action=\"/console/maintenance/activate\" aria-label=\"Activate maintenance mode\">{}\
                 <label for=\"reason-in\">Reason</label><input id=\"reason-in\" name=\"reason\" maxlength=\"500\">\
                 <label for=\"until-in\">Expected end (RFC 3339 or a duration: 45m)</label><input id=\"until-in\" name=\"until\">\
                 <label for=\"deadline-in\">Deadline for running work (optional)</label><input id=\"deadline-in\" name=\"deadline\">\
                 <label for=\"on-deadline-in\">At the deadline</label><select id=\"on-deadline-in\" name=\"on_deadline\">\
                 <option>wait</option><option>cancel</option><option>force-cancel</option><option>revert</option></select>\
                 <p><button id=\"activate\" type=\"submit\">Activate maintenance mode</button></p></form>",
                csrf(session)
            ));
        } else {
            out.push_str(&format!("<p>{}</p>", button(session, "/console/maintenance/deactivate", "Deactivate", "deactivate")));
        }
    }
    out
}

fn verdict(d: &Decision) -> String {
    match d {
        Decision::Allow => "allow".into(),
        Decision::Deny(d) => format!("deny {} {} (Retry-After {})", d.status, d.error_code, d.retry_after.map_or("–".into(), |r| r.to_string())),
    }
}

/// The shadow report: counts and the latest differing requests side by side.
pub fn shadow(report: Option<&ShadowReport>) -> String {
    let Some(r) = report else { return "<p class=\"muted\">No shadow run yet.</p>".into() };
    let mut out = format!(
        "<p id=\"shadow-counts\">Candidate <b>{}</b>{}: <span id=\"agreements\">{}</span> agreements, \
         <span id=\"disagreements\">{}</span> disagreements ({} candidate faults, {} skipped)</p>",
        esc(&r.candidate.label()),
        if r.running { " (running)" } else { " (stopped)" },
        r.agreements,
        r.disagreements,
        r.candidate_faults,
        r.skipped
    );
    if !r.recent.is_empty() {
        let rows = r.recent.iter().map(|d| {
            let candidate = match &d.candidate {
                Ok(c) => verdict(c),
                Err(f) => format!("fault: {f}"),
            };
            vec![
                format!("{} {}", esc(&d.request.method), esc(&d.request.path)),
                esc(&verdict(&d.active)),
                esc(&candidate),
                esc(&d.differs_in.join(", ")),
            ]
        });
        out.push_str(&table("disagreements-table", "Latest disagreements", &["request", "active", "candidate", "differs in"], rows));
    }
    out
}

pub fn dashboard(d: &Dashboard, session: &Session, notice: Option<&str>) -> String {
    let header = format!(
        "<header><b>drydock</b><span>{} ({}) {}</span></header>",
        esc(&session.username),
        esc(session.role.as_str()),
        button(session, "/console/logout", "Sign out", "sign-out")
    );
    let mut body = notice_html(notice);
    body.push_str(&format!(
        "<section aria-labelledby=\"m-h\"><h2 id=\"m-h\">Maintenance</h2><div id=\"state\" aria-live=\"polite\">{}</div><div id=\"controls\">{}</div></section>",
        state(d),
        controls(d, session)
    ));
    let active_id = d.active.version.id.as_str();
    let shadow_id = d.shadow.as_ref().filter(|r| r.running).map(|r| r.candidate.id.clone());
    let mut policies = format!(
        "<section aria-labelledby=\"p-h\"><h2 id=\"p-h\">Policies</h2><p>Active: <b id=\"active-policy\">{}</b></p>",
        esc(&d.active.version.label())
    );
    if session.is_admin() && d.active.previous.is_some() {
        policies.push_str(&format!("<p>{}</p>", button(session, "/console/policies/rollback", "Roll back", "rollback")));
    }
    policies.push_str("<table id=\"versions\"><caption>Versions</caption><tr><th>version</th><th>id</th><th>uploaded</th><th>signed by</th><th></th></tr>");
    for v in &d.versions {
        let mut actions = String::new();
        if session.is_admin() {
            // What this version would have answered to the last day's logged traffic.
            actions.push_str(&button(session, &format!("/console/policies/{}/replay", v.id), "Replay 24 h", &format!("replay-{}", v.id)));
            actions.push(' ');
        }
        if session.is_admin() && v.id != active_id {
            actions.push_str(&button(session, &format!("/console/policies/{}/activate", v.id), "Promote", &format!("promote-{}", v.id)));
            if shadow_id.as_deref() != Some(v.id.as_str()) {
                actions.push(' ');
                actions.push_str(&button(session, &format!("/console/policies/{}/shadow", v.id), "Shadow", &format!("shadow-{}", v.id)));
            }
        }
        let signed_by = match (v.is_builtin(), d.signers.get(&v.sha256)) {
            (true, _) => "part of drydock".to_string(),
            (false, None) => "-".to_string(),
            (false, Some(list)) => list
                .iter()
                .map(|s| match &s.trusted_as {
                    Some(name) => esc(name),
                    None => format!("{} (not trusted)", esc(&s.key_id)),
                })
                .collect::<Vec<_>>()
                .join(", "),
        };
        policies.push_str(&format!(
            "<tr><td>{}{}</td><td>{}</td><td>{}</td><td id=\"signed-{}\">{signed_by}</td><td>{actions}</td></tr>",
            esc(&v.label()),
            if v.id == active_id { " <b>(active)</b>" } else { "" },
            esc(&v.id),
            v.uploaded.as_ref().map_or("builtin".to_string(), |(by, at)| format!("{} {}", esc(by), esc(at))),
            esc(&v.id)
        ));
    }
    policies.push_str("</table>");
    let running = d.shadow.as_ref().is_some_and(|r| r.running);
    policies.push_str(&format!(
        "<h3>Shadow run</h3><div id=\"shadow\" data-running=\"{running}\" aria-live=\"polite\">{}</div>",
        shadow(d.shadow.as_ref())
    ));
    if session.is_admin() && running {
        policies.push_str(&format!("<p>{}</p>", button(session, "/console/policies/shadow/stop", "Stop shadowing", "shadow-stop")));
    }
    if session.is_admin() {
        policies.push_str(&format!(
            "<form id=\"upload-form\" data-csrf=\"{}\" aria-label=\"Upload a policy version\">\
             <label for=\"wasm\">Upload a policy component (.wasm)</label><input id=\"wasm\" type=\"file\" accept=\".wasm,application/wasm\">\
             <button id=\"upload\" type=\"submit\">Upload</button> <span id=\"upload-result\" role=\"status\"></span></form>",
            esc(&session.csrf)
        ));
    }
    policies.push_str("<h3>Decisions and faults per second</h3><div id=\"chart\" aria-live=\"off\"></div>");
    let rows = d.policy_log.iter().map(|l| vec![esc(&l.at), esc(&l.username), esc(&l.action), esc(&l.policy_id), esc(&l.detail)]);
    policies.push_str(&table("policy-history", "Policy history (newest first)", &["at", "by", "action", "version", "detail"], rows));
    if session.is_admin() {
        // From the decision log: why requests were refused, by which version.
        let rows = d.refusals.iter().map(|r| {
            vec![
                esc(&r.at),
                esc(&r.input.request.user),
                format!("{} {}", esc(&r.input.request.method), esc(&r.input.request.path)),
                format!("{} {}", r.answer.status.unwrap_or(0), esc(r.answer.error_code.as_deref().unwrap_or(""))),
                esc(r.origin.as_str()),
                esc(r.policy.as_ref().map_or("", |p| p.label.as_str())),
                esc(&r.id),
            ]
        });
        policies.push_str(&table("refusals", "Recent refusals (newest first; drydock decisions show ID)", &["at", "user", "request", "answer", "from", "version", "decision"], rows));
    }
    policies.push_str("</section>");
    body.push_str(&policies);
    body.push_str(&format!("<script>{SCRIPT}</script>"));
    layout("drydock console", &header, &body)
}

pub fn dashboard_error(session: &Session, error: &str) -> String {
    layout(
        "drydock console",
        &format!("<header><b>drydock</b><span>{}</span></header>", esc(&session.username)),
        &format!("<p role=\"alert\">The console cannot read the state: {}</p>", esc(error)),
    )
}

/// Counter samples for the chart: (when, [(version, decisions, faults)]), the last
/// ten minutes at most.
#[derive(Default)]
pub struct Chart(std::sync::Mutex<std::collections::VecDeque<(std::time::Instant, Vec<(String, u64, u64)>)>>);

const CHART_SPAN: std::time::Duration = std::time::Duration::from_secs(600);
const CHART_SAMPLES: usize = 240;

impl Chart {
    pub fn sample(&self, totals: Vec<(String, u64, u64)>) {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        // Several open pages: one sample a second is plenty.
        if s.back().is_some_and(|(at, _)| now.duration_since(*at) < std::time::Duration::from_secs(1)) {
            return;
        }
        s.push_back((now, totals));
        while s.len() > CHART_SAMPLES || s.front().is_some_and(|(at, _)| now.duration_since(*at) > CHART_SPAN) {
            s.pop_front();
        }
    }

    /// One small SVG line per version: decisions/s, and faults/s in red when any.
    pub fn render(&self) -> String {
        let s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if s.len() < 2 {
            return "<p class=\"muted\">Gathering samples…</p>".into();
        }
        let mut labels: Vec<&str> = s.iter().flat_map(|(_, t)| t.iter().map(|(l, _, _)| l.as_str())).collect();
        labels.sort();
        labels.dedup();
        let mut out = String::from("<table id=\"chart-table\"><tr><th>version</th><th>last minutes</th><th>now</th></tr>");
        for label in labels {
            let count = |t: &Vec<(String, u64, u64)>| t.iter().find(|(l, _, _)| l == label).map_or((0, 0), |(_, d, f)| (*d, *f));
            let rates: Vec<(f64, f64)> = s
                .iter()
                .zip(s.iter().skip(1))
                .map(|((a, ta), (b, tb))| {
                    let dt = b.duration_since(*a).as_secs_f64().max(0.001);
                    let ((d0, f0), (d1, f1)) = (count(ta), count(tb));
                    (d1.saturating_sub(d0) as f64 / dt, f1.saturating_sub(f0) as f64 / dt)
                })
                .collect();
            let max = rates.iter().map(|(d, f)| d.max(*f)).fold(1.0, f64::max);
            let (w, h) = (240.0, 40.0);
            let step = w / (rates.len().max(2) - 1) as f64;
            let line = |pick: fn(&(f64, f64)) -> f64| {
                rates
                    .iter()
                    .enumerate()
                    .map(|(i, r)| format!("{:.1},{:.1}", i as f64 * step, h - pick(r) / max * h))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let faults = rates.iter().any(|r| r.1 > 0.0);
            let last = rates.last().copied().unwrap_or_default();
            out.push_str(&format!(
                "<tr><td>{}</td><td><svg width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"decisions per second of {}, up to {max:.0}\">\
                 <polyline fill=\"none\" stroke=\"#124\" stroke-width=\"2\" points=\"{}\"/>{}</svg></td><td>{:.1}/s{}</td></tr>",
                esc(label),
                esc(label),
                line(|r| r.0),
                if faults { format!("<polyline fill=\"none\" stroke=\"#c00\" stroke-width=\"2\" points=\"{}\"/>", line(|r| r.1)) } else { String::new() },
                last.0,
                if last.1 > 0.0 { format!(", {:.1} faults/s", last.1) } else { String::new() }
            ));
        }
        out.push_str("</table>");
        out
    }
}
