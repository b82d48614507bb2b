//! The operator's console in a real headless browser (Debian's chromium, driven by
//! chromedriver over WebDriver): sign in; an unfinished execution holds activation, the
//! banner and the remaining-executions table show it, and the banner turns to
//! "activated" by itself when it is reported ended; deactivate; shadow the strict
//! policy and see a disagreement appear; promote, roll back. A non-admin sees no
//! change buttons, and a change without the session's token is refused (403).
//! Screenshots of each step land in `target/console-screenshots/`. Beside it, over
//! plain HTTP (no browser): a non-admin's session, with its own valid token, changes
//! nothing.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use drydock_e2e::{ADMIN_PASSWORD, Server, free_port, workspace};
use drydock_engine::STRICT_POLICY;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// chromedriver on a free port, and the browser's own profile folder; on drop both
/// stop — the browser too, even when the test failed before closing its session
/// (found by its profile folder: killing chromedriver does not end chromium).
struct Driver {
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
}

impl Driver {
    fn start() -> Driver {
        let bin = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("chromedriver is missing: run scripts/test.sh, which installs Debian's chromium and chromium-driver");
        let port = free_port();
        let child = Command::new(bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, port, profile: tempfile::tempdir().unwrap() }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("pkill").args(["-9", "-f"]).arg(self.profile.path()).status();
    }
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-dev-shm-usage", "--window-size=1200,1600",
                     format!("--user-data-dir={}", driver.profile.path().display())],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a browser session")
}

fn shots() -> PathBuf {
    let dir = workspace().join("target").join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
}

/// Poll the page until `f` holds (30 s at most), without reloading it.
async fn until(c: &Client, what: &str, f: impl Fn(String) -> bool, css: &str, attr: Option<&str>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = match c.find(Locator::Css(css)).await {
            Ok(e) => match attr {
                Some(a) => e.attr(a).await.ok().flatten().unwrap_or_default(),
                None => e.text().await.unwrap_or_default(),
            },
            Err(_) => String::new(),
        };
        if f(value.clone()) {
            return;
        }
        assert!(Instant::now() < deadline, "not within 30 s: {what} (last: {value:?})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_in(c: &Client, base: &str, user: &str, password: &str) {
    c.goto(&format!("{base}/console")).await.unwrap();
    c.find(Locator::Id("username")).await.unwrap().send_keys(user).await.unwrap();
    c.find(Locator::Id("password")).await.unwrap().send_keys(password).await.unwrap();
    c.find(Locator::Id("sign-in")).await.unwrap().click().await.unwrap();
    until(c, "the dashboard after sign-in", |v| !v.is_empty(), "#banner", Some("data-status")).await;
}

/// Click `#id`, finding it again if the live page replaced it meanwhile (30 s at most).
async fn click(c: &Client, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let outcome = match c.find(Locator::Id(id)).await {
            Ok(e) => e.click().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(()) => return,
            Err(e) => assert!(Instant::now() < deadline, "cannot click #{id} within 30 s: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Type into `#id`, finding it again if the live page replaced it meanwhile.
async fn type_into(c: &Client, id: &str, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let outcome = match c.find(Locator::Id(id)).await {
            Ok(e) => e.send_keys(text).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(()) => return,
            Err(e) => assert!(Instant::now() < deadline, "cannot type into #{id} within 30 s: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_drives_maintenance_and_policies_in_a_real_browser() {
    let s = Server::start();
    let base = s.base();
    let admin = s.admin();
    s.user("viewer");
    admin.create_deployment("d");
    let driver = Driver::start();
    let c = browser(&driver).await;

    sign_in(&c, &base, "admin", ADMIN_PASSWORD).await;
    until(&c, "deactivated", |v| v == "deactivated", "#banner", Some("data-status")).await;
    shot(&c, "01-signed-in").await;

    // An unfinished execution holds activation (an `install` no worker runs: it
    // waits for the test, not a clock); the page shows it, then follows by itself
    // when the test reports it ended.
    let exec = admin.start_execution("d", "install", json!({})).json()["id"].as_str().unwrap().to_string();
    type_into(&c, "reason-in", "console test").await;
    click(&c, "activate").await;
    until(&c, "activating", |v| v == "activating", "#banner", Some("data-status")).await;
    until(&c, "the execution in the table", |v| v.contains(&exec), "#remaining", None).await;
    until(&c, "the reason", |v| v == "console test", "#reason", None).await;
    shot(&c, "02-activating").await;
    let r = admin.patch(&format!("/api/v3.1/executions/{exec}"), &json!({"status": "terminated"}));
    assert_eq!(r.status, 200, "{}", r.text);
    until(&c, "activated, live (no reload)", |v| v == "activated", "#banner", Some("data-status")).await;
    until(&c, "the controls for it", |v| v == "Deactivate", "#deactivate", None).await;
    shot(&c, "03-activated").await;
    click(&c, "deactivate").await;
    until(&c, "deactivated", |v| v == "deactivated", "#banner", Some("data-status")).await;

    // Policies: shadow the strict one, see it disagree, promote, roll back.
    // Upload through the page: a bad file shows the server's refusal, the strict
    // policy is stored.
    let files = tempfile::tempdir().unwrap();
    let (bad, strict) = (files.path().join("bad.wasm"), files.path().join("strict.wasm"));
    std::fs::write(&bad, b"not a component").unwrap();
    std::fs::write(&strict, STRICT_POLICY).unwrap();
    type_into(&c, "wasm", bad.to_str().unwrap()).await;
    click(&c, "upload").await;
    until(&c, "the refusal", |v| v.contains("was refused"), "#upload-result", None).await;
    shot(&c, "04-upload-refused").await;
    type_into(&c, "wasm", strict.to_str().unwrap()).await;
    click(&c, "upload").await;
    until(&c, "the upload", |v| v.starts_with("Uploaded: cloudify-strict@"), "#upload-result", None).await;
    let list = admin.get("/api/v3.1/policies").json();
    let id = list["items"].as_array().unwrap().iter().find(|v| v["name"] == "cloudify-strict").expect("stored")["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The page reloads itself after an upload; the new version has its buttons.
    until(&c, "the new version listed", |v| v.contains(&id), "#versions", None).await;
    click(&c, &format!("shadow-{id}")).await;
    until(&c, "the shadow run", |v| v.contains("(running)"), "#shadow-counts", None).await;
    // Refusals while activated: strict says retry in 300 s, the default 60.
    admin.post("/api/v3.1/maintenance/activate", &json!({}));
    let viewer = s.client("viewer", "user-secret");
    for _ in 0..3 {
        assert_eq!(viewer.get("/api/v3.1/deployments").status, 503);
    }
    until(&c, "a disagreement", |v| v.parse::<u64>().unwrap_or(0) > 0, "#disagreements", None).await;
    until(&c, "the differing request", |v| v.contains("GET /api/v3.1/deployments"), "#disagreements-table", None).await;
    // The chart: decisions per second by version, drawn while the page is open.
    until(&c, "the chart", |v| v.contains("cloudify-default@") && v.contains("/s"), "#chart-table", None).await;
    shot(&c, "05-shadow").await;
    // Replay the day's logged refusals against the candidate: the default's 60 s
    // become strict's 300 s on the viewer's reads.
    click(&c, &format!("replay-{id}")).await;
    until(&c, "the replay's report", |v| v.starts_with("Replay of cloudify-strict@") && v.contains("GET deployments ("), "#notice", None).await;
    shot(&c, "05b-replay").await;
    click(&c, &format!("promote-{id}")).await;
    until(&c, "strict active", |v| v.starts_with("cloudify-strict@"), "#active-policy", None).await;
    click(&c, "rollback").await;
    until(&c, "default active again", |v| v.starts_with("cloudify-default@"), "#active-policy", None).await;
    shot(&c, "06-rolled-back").await;
    click(&c, "sign-out").await;

    // A non-admin sees, and changes nothing.
    sign_in(&c, &base, "viewer", "user-secret").await;
    shot(&c, "07-viewer").await;
    let html = c.source().await.unwrap();
    for id in ["deactivate", "activate", "rollback", "shadow-stop", "upload"] {
        assert!(!html.contains(&format!("id=\"{id}\"")), "a non-admin sees #{id}");
    }
    assert!(!html.contains("id=\"promote-"), "a non-admin sees promote buttons");
    c.close().await.unwrap();

    // A forged change: the session's cookie without its token, or a non-admin's.
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let login = |user: &str, pw: &str| {
        let r = agent
            .post(&format!("{base}/console/login"))
            .content_type("application/x-www-form-urlencoded")
            .send(format!("username={user}&password={pw}"))
            .unwrap();
        assert_eq!(r.status().as_u16(), 303);
        r.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string()
    };
    let admin_cookie = login("admin", ADMIN_PASSWORD);
    let post = |cookie: &str, body: &str| {
        agent
            .post(&format!("{base}/console/maintenance/deactivate"))
            .header("Cookie", cookie)
            .content_type("application/x-www-form-urlencoded")
            .send(body.to_string())
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(post(&admin_cookie, ""), 403, "no token");
    assert_eq!(post(&admin_cookie, "csrf=forged"), 403, "a wrong token");
    assert_eq!(post("drydock_session=made-up", "csrf=x"), 401, "no session");
    assert_eq!(admin.maintenance()["status"], "activated", "nothing changed");
}

// ---- A non-admin's own session and token, over plain HTTP (no browser) ----

const ONLY_ADMINS: &str = "Only a sys_admin may change maintenance mode and policies";
const NOT_ITS_TOKEN: &str = "This change does not carry the session's token; reload the console";

/// What a browser's form post does, without the browser: answers (303s included)
/// come back as they are, never followed.
fn plain() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Status, `Location` and text of a console answer.
fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>, what: &str) -> (u16, String, String) {
    let mut r = r.unwrap_or_else(|e| panic!("{what}: {e}"));
    let location = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    (r.status().as_u16(), location, text)
}

/// Sign in with the console's form; returns the session cookie (`name=value`).
fn sign_in_plain(agent: &ureq::Agent, base: &str, user: &str, password: &str) -> String {
    let r = agent
        .post(&format!("{base}/console/login"))
        .content_type("application/x-www-form-urlencoded")
        .send(format!("username={user}&password={password}"))
        .unwrap_or_else(|e| panic!("sign in as {user}: {e}"));
    assert_eq!(r.status().as_u16(), 303, "sign in as {user}");
    let cookie = r.headers().get("set-cookie").expect("a session cookie").to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

/// The dashboard as the session sees it.
fn page_plain(agent: &ureq::Agent, base: &str, cookie: &str) -> String {
    let (status, _, text) = answer(agent.get(&format!("{base}/console")).header("Cookie", cookie).call(), "GET /console");
    assert_eq!(status, 200, "{text}");
    text
}

/// The session's CSRF token, from a form on its own page (the sign-out form carries
/// it on every session's page).
fn csrf_of(page: &str) -> String {
    const FIELD: &str = "name=\"csrf\" value=\"";
    let at = page.find(FIELD).unwrap_or_else(|| panic!("no CSRF token on the page:\n{page}")) + FIELD.len();
    let token: String = page[at..].chars().take_while(|c| *c != '"').collect();
    assert!(token.len() >= 32, "not a CSRF token: {token:?}");
    token
}

/// Post a console form with the session's cookie.
fn post_form(agent: &ureq::Agent, base: &str, cookie: &str, path: &str, form: &str) -> (u16, String, String) {
    let r = agent
        .post(&format!("{base}{path}"))
        .header("Cookie", cookie)
        .content_type("application/x-www-form-urlencoded")
        .send(form);
    answer(r, &format!("POST {path}"))
}

/// Upload as the page's script does: the bytes, the token in `X-CSRF-Token`.
fn upload_plain(agent: &ureq::Agent, base: &str, cookie: &str, token: &str, bytes: &[u8]) -> (u16, String, String) {
    let r = agent
        .post(&format!("{base}/console/policies/upload"))
        .header("Cookie", cookie)
        .header("X-CSRF-Token", token)
        .content_type("application/wasm")
        .send(bytes);
    answer(r, "POST /console/policies/upload")
}

/// Everything a console change could change, as the admin API reads it.
fn what_changes(admin: &drydock_e2e::Client) -> serde_json::Value {
    let list = admin.get("/api/v3.1/policies");
    assert_eq!(list.status, 200, "{}", list.text);
    let versions: Vec<serde_json::Value> = list.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| json!([v["id"], v["active"], v["previous"], v["shadow"]]))
        .collect();
    let shadow = admin.get("/api/v3.1/policies/shadow");
    assert_eq!(shadow.status, 200, "{}", shadow.text);
    let shadow = shadow.json();
    let log = admin.get("/api/v3.1/policies/history");
    assert_eq!(log.status, 200, "{}", log.text);
    let active = admin.get("/api/v3.1/policies/active");
    assert_eq!(active.status, 200, "{}", active.text);
    json!({
        "maintenance": admin.maintenance()["status"],
        "versions": versions,
        "active": active.json()["id"],
        "shadow": [shadow["running"], shadow["candidate"]["id"]],
        "policy_log_entries": log.json()["items"].as_array().unwrap().len(),
    })
}

/// A non-admin signed in to the console holds a valid session and its own valid CSRF
/// token; every change the console offers, posted with them, is refused for the role
/// (403, saying so), and nothing changes. The same posts from an admin's session do
/// change things, so the refusals are the role check's, not a malformed request's.
#[test]
fn a_non_admins_own_session_and_token_change_nothing_over_plain_http() {
    let s = Server::start();
    let base = s.base();
    let admin = s.admin();
    s.user("viewer");
    let agent = plain();
    let cookie = sign_in_plain(&agent, &base, "viewer", "user-secret");
    let page = page_plain(&agent, &base, &cookie);
    assert!(page.contains("viewer (user)"), "not the viewer's page:\n{page}");
    let token = csrf_of(&page);
    let own = format!("csrf={token}");

    // A non-admin is refused for its role before its form is even read, whatever
    // token it carries; an admin's session with a forged token, for the token.
    let forged = post_form(&agent, &base, &cookie, "/console/maintenance/activate", "csrf=forged&reason=x");
    assert_eq!((forged.0, forged.2.as_str()), (403, ONLY_ADMINS), "a non-admin's forged token");
    let admins = sign_in_plain(&agent, &base, "admin", ADMIN_PASSWORD);
    let forged = post_form(&agent, &base, &admins, "/console/maintenance/activate", "csrf=forged&reason=x");
    assert_eq!((forged.0, forged.2.as_str()), (403, NOT_ITS_TOKEN), "an admin's forged token");
    assert_eq!(admin.maintenance()["status"], "deactivated");
    let refused = |(status, location, text): (u16, String, String), what: &str| {
        assert_eq!(
            (status, text.as_str(), location.as_str()),
            (403, ONLY_ADMINS, ""),
            "{what}: a non-admin's change with its own token was not refused for its role"
        );
    };

    // Deactivated, the builtin alone: activate, upload.
    let before = what_changes(&admin);
    assert_eq!(before["maintenance"], "deactivated", "{before}");
    refused(post_form(&agent, &base, &cookie, "/console/maintenance/activate", &format!("{own}&reason=mine")), "activate");
    refused(upload_plain(&agent, &base, &cookie, &token, STRICT_POLICY), "upload");
    assert_eq!(what_changes(&admin), before, "a non-admin's activate or upload changed something");
    // The viewer's upload stored nothing: the admin's is the first.
    let up = admin.req("POST", "/api/v3.1/policies").header("Content-Type", "application/wasm").body(STRICT_POLICY.to_vec()).send();
    assert_eq!(up.status, 201, "{}", up.text);
    let strict = up.json()["id"].as_str().unwrap().to_string();

    // A stored version beside the active one: shadow it, promote it.
    let before = what_changes(&admin);
    refused(post_form(&agent, &base, &cookie, &format!("/console/policies/{strict}/shadow"), &own), "shadow");
    refused(post_form(&agent, &base, &cookie, &format!("/console/policies/{strict}/activate"), &own), "promote");
    assert_eq!(what_changes(&admin), before, "a non-admin's shadow or promote changed something");

    // Strict active (the builtin to roll back to), the builtin shadowed, maintenance
    // on: roll back, stop shadowing, deactivate.
    let r = admin.post(&format!("/api/v3.1/policies/{strict}/activate"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin.post("/api/v3.1/policies/builtin/shadow", &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin.post("/api/v3.1/maintenance/activate", &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    let before = what_changes(&admin);
    assert_eq!(before["maintenance"], "activated", "{before}");
    assert_eq!(before["active"], strict.as_str(), "{before}");
    assert_eq!(before["shadow"], json!([true, "builtin"]), "{before}");
    refused(post_form(&agent, &base, &cookie, "/console/policies/rollback", &own), "rollback");
    refused(post_form(&agent, &base, &cookie, "/console/policies/shadow/stop", &own), "stop shadowing");
    refused(post_form(&agent, &base, &cookie, "/console/maintenance/deactivate", &own), "deactivate");
    assert_eq!(what_changes(&admin), before, "a non-admin's rollback, shadow stop or deactivate changed something");
    // Still the same session, still its token: the refusals were not a sign-out.
    assert_eq!(csrf_of(&page_plain(&agent, &base, &cookie)), token);

    // The same posts, from an admin's session with its token, change things.
    let admin_cookie = sign_in_plain(&agent, &base, "admin", ADMIN_PASSWORD);
    let admin_own = format!("csrf={}", csrf_of(&page_plain(&agent, &base, &admin_cookie)));
    for path in ["/console/policies/rollback", "/console/policies/shadow/stop", "/console/maintenance/deactivate"] {
        let (status, location, text) = post_form(&agent, &base, &admin_cookie, path, &admin_own);
        assert_eq!(status, 303, "{path}: an admin's change: {text}");
        assert!(location.starts_with("/console?notice="), "{path}: {location}");
        assert!(!location.contains("Refused"), "{path}: {location}");
    }
    let after = what_changes(&admin);
    assert_eq!(after["maintenance"], "deactivated", "{after}");
    assert_eq!(after["active"], "builtin", "{after}");
    assert_eq!(after["shadow"][0], false, "{after}");
}

/// A console session holds only while its user is as it was at sign-in: a sys_admin
/// demoted, given a new password, or deleted (by another admin, through the API)
/// loses every session at once; its token changes nothing any more.
#[test]
fn a_console_session_ends_when_its_user_is_demoted_repassworded_or_deleted() {
    let s = Server::start();
    let base = s.base();
    let admin = s.admin();
    let agent = plain();
    for (change, body) in [
        ("demoted", Some(json!({"role": "default"}))),
        ("given a new password", Some(json!({"password": "another-secret"}))),
        ("deleted", None),
    ] {
        let r = admin.put("/api/v3.1/users", &json!({"username": "ops", "password": "ops-secret", "role": "sys_admin"}));
        assert_eq!(r.status, 201, "{change}: {}", r.text);
        let cookie = sign_in_plain(&agent, &base, "ops", "ops-secret");
        let token = csrf_of(&page_plain(&agent, &base, &cookie));
        match &body {
            Some(body) => assert_eq!(admin.post("/api/v3.1/users/ops", body).status, 200, "{change}"),
            None => assert_eq!(admin.delete("/api/v3.1/users/ops").status, 200, "{change}"),
        }
        let (status, _, text) = post_form(&agent, &base, &cookie, "/console/maintenance/activate", &format!("csrf={token}&reason=late"));
        assert_eq!(status, 401, "{change}: the old session still acted: {text}");
        assert_eq!(admin.maintenance()["status"], "deactivated", "{change}: maintenance was turned on");
        let (status, _, _) = answer(agent.get(&format!("{base}/console/state")).header("Cookie", &cookie).call(), "state");
        assert_eq!(status, 401, "{change}: the old session still reads the console");
        if body.is_some() {
            assert_eq!(admin.delete("/api/v3.1/users/ops").status, 200);
        }
    }
}

/// A `default` user's console shows neither the policy history nor the shadow
/// report (other users' request paths), as the API refuses both to them.
#[test]
fn a_non_admins_console_shows_no_policy_history_or_shadow_report() {
    let s = Server::start();
    let base = s.base();
    let admin = s.admin();
    let up = admin.req("POST", "/api/v3.1/policies").header("Content-Type", "application/wasm").body(STRICT_POLICY.to_vec()).send();
    assert_eq!(up.status, 201, "{}", up.text);
    let id = up.json()["id"].as_str().unwrap().to_string();
    assert_eq!(admin.post(&format!("/api/v3.1/policies/{id}/shadow"), &json!({})).status, 200);
    // A request only the shadow report would show.
    admin.get("/api/v3.1/deployments/secret-path-of-admin");
    let agent = plain();
    let admins = page_plain(&agent, &base, &sign_in_plain(&agent, &base, "admin", ADMIN_PASSWORD));
    assert!(admins.contains("<td>upload</td>"), "the admin's page shows the policy history:\n{admins}");
    s.user("viewer");
    let cookie = sign_in_plain(&agent, &base, "viewer", "user-secret");
    let page = page_plain(&agent, &base, &cookie);
    assert!(!page.contains("<td>upload</td>"), "a viewer's page shows the policy history:\n{page}");
    assert!(!page.contains("secret-path-of-admin") && !page.contains("(running)"), "a viewer's page shows the shadow report:\n{page}");
    let (status, _, text) = answer(agent.get(&format!("{base}/console/shadow")).header("Cookie", &cookie).call(), "shadow");
    assert_eq!(status, 403, "a viewer reads the shadow report: {text}");
}

/// A form posted from another site is refused, sign-in included (a page elsewhere
/// could sign a victim's browser into the attacker's account, or post a change with
/// a session it rides on); the console's own origin, and clients that send no
/// `Origin`, are served. Pages refuse to be shown in another site's frame.
#[test]
fn forms_from_another_site_are_refused_and_pages_cannot_be_framed() {
    let s = Server::start();
    let base = s.base();
    let agent = plain();
    let login = |origin: Option<&str>| {
        let mut r = agent.post(&format!("{base}/console/login")).content_type("application/x-www-form-urlencoded");
        if let Some(o) = origin {
            r = r.header("Origin", o);
        }
        let r = r.send(format!("username=admin&password={ADMIN_PASSWORD}")).unwrap();
        (r.status().as_u16(), r.headers().get("set-cookie").is_some())
    };
    assert_eq!(login(Some("http://evil.example")), (403, false), "a sign-in posted from another site");
    assert_eq!(login(Some("null")), (403, false), "a sign-in posted from an opaque origin");
    assert_eq!(login(Some(&base)), (303, true), "a sign-in from the console itself");
    assert_eq!(login(None), (303, true), "a client that sends no Origin");

    let cookie = sign_in_plain(&agent, &base, "admin", ADMIN_PASSWORD);
    let token = csrf_of(&page_plain(&agent, &base, &cookie));
    let r = agent
        .post(&format!("{base}/console/maintenance/activate"))
        .header("Cookie", &cookie)
        .header("Origin", "https://evil.example")
        .content_type("application/x-www-form-urlencoded")
        .send(format!("csrf={token}&reason=framed"));
    let (status, _, text) = answer(r, "a change posted from another site");
    assert_eq!(status, 403, "{text}");
    assert_eq!(s.admin().maintenance()["status"], "deactivated", "nothing changed");

    let r = agent.get(&format!("{base}/console")).header("Cookie", &cookie).call().unwrap();
    let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(header("content-security-policy"), "frame-ancestors 'none'");
    assert_eq!(header("x-frame-options"), "DENY");
    // Over plain HTTP the cookie cannot be Secure (the browser would never send it).
    let r = agent
        .post(&format!("{base}/console/login"))
        .content_type("application/x-www-form-urlencoded")
        .send(format!("username=admin&password={ADMIN_PASSWORD}"))
        .unwrap();
    assert!(!r.headers().get("set-cookie").unwrap().to_str().unwrap().contains("Secure"));
}
