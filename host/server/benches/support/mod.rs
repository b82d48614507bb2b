//! What the server benchmarks share: a blocking HTTP client with the admin's
//! credentials, and the real server started in-process on a free port.
#![allow(dead_code)] // each bench uses its part

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use base64::Engine as _;
use drydock_engine::Limits;
use drydock_gate::FailMode;
use drydock_server::server::{ServeOptions, Server};

pub const PASSWORD: &str = "bench-secret";

pub fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub struct Http {
    pub agent: ureq::Agent,
    pub base: String,
    auth: String,
}

pub struct Answer {
    pub status: u16,
    pub label: String,
    pub body: String,
}

impl Http {
    pub fn new(base: &str) -> Http {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Per phase, not global: with a global timeout ureq resolves the
            // address on a new thread for every request, a cost of the client
            // that 8 clients would take from the server's 2 cores.
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_send_request(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(30)))
            .timeout_recv_body(Some(Duration::from_secs(30)))
            .build()
            .into();
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}"))
        );
        Http {
            agent,
            base: base.to_string(),
            auth,
        }
    }

    pub fn send(&self, method: &str, path: &str, body: Vec<u8>, content_type: &str) -> Answer {
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("Authorization", &self.auth)
            .header("Tenant", "default_tenant")
            .header("Content-Type", content_type)
            .body(body)
            .unwrap();
        let resp = self
            .agent
            .run(req)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let label = resp
            .headers()
            .get("x-drydock-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let mut body = String::new();
        resp.into_body()
            .into_reader()
            .read_to_string(&mut body)
            .unwrap();
        Answer {
            status,
            label,
            body,
        }
    }

    pub fn get(&self, path: &str) -> Answer {
        self.send("GET", path, Vec::new(), "application/json")
    }

    pub fn post(&self, path: &str) -> Answer {
        self.send("POST", path, Vec::new(), "application/json")
    }
}

pub fn json_field(body: &str, pointer: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v.pointer(pointer)
        .and_then(|x| x.as_str())
        .unwrap_or_default()
        .to_string()
}

/// Start the real server (what `drydock serve` builds and runs, the follower of
/// other hosts included) on a free port, on its own runtime: one "host".
pub fn start(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
) -> (tokio::runtime::Runtime, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let opts = ServeOptions {
        connections: Default::default(),
        follow: Default::default(),
        event_stream_lifetime: std::time::Duration::from_secs(3600),
        decision_log: None,
        trust: drydock_server::trust::Trust::none(),
        ceiling: Default::default(),
        listen,
        data_dir: data_dir.to_path_buf(),
        database_url: database_url.map(str::to_string),
        database_pool_size: 16,
        start_in_maintenance: None,
        policy: None,
        admin_user: "admin".into(),
        admin_password: Some(PASSWORD.into()),
        limits: Limits::default(),
        fail_mode: FailMode::Closed,
    };
    let server = Server::build(&opts).expect("build the server");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.spawn(async move { server.run(listen).await.unwrap() });
    let base = format!("http://{listen}");
    let probe = Http::new(&base);
    for _ in 0..200 {
        if probe
            .agent
            .get(format!("{base}/api/v3.1/ok"))
            .call()
            .is_ok()
        {
            return (rt, base);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("the server did not answer");
}
