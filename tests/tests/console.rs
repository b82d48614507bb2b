//! The operator's console in a real headless browser (Debian's chromium, driven by
//! chromedriver over WebDriver): sign in; a running `sleep` holds activation, the
//! banner and the remaining-executions table show it, and the banner turns to
//! "activated" by itself when the execution ends; deactivate; shadow the strict
//! policy and see a disagreement appear; promote, roll back. A non-admin sees no
//! change buttons, and a change without the session's token is refused (403).
//! Screenshots of each step land in `target/console-screenshots/`.

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

    // A running sleep holds activation; the page shows it, then follows by itself.
    let exec = admin.start_execution("d", "sleep", json!({"seconds": 4})).json()["id"].as_str().unwrap().to_string();
    admin.wait_for(10, "the sleep to start", |a| a.get(&format!("/api/v3.1/executions/{exec}")).json()["status"] == "started");
    type_into(&c, "reason-in", "console test").await;
    click(&c, "activate").await;
    until(&c, "activating", |v| v == "activating", "#banner", Some("data-status")).await;
    until(&c, "the execution in the table", |v| v.contains(&exec), "#remaining", None).await;
    until(&c, "the reason", |v| v == "console test", "#reason", None).await;
    shot(&c, "02-activating").await;
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
