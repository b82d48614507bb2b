//! The command line's reading of what a server sends: any status and body become a
//! reply, an error a person can read, and the printed maintenance state; any event
//! stream is split into events. Never a crash, whatever the server says.

use std::sync::OnceLock;

use drydock::client::{Client, EventStream, Reply, Target, decode_body};

fn client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        Client::new(Target {
            base: "http://127.0.0.1:9".into(),
            username: Some("admin".into()),
            password: Some("x".into()),
            tenant: "default_tenant".into(),
            ca_file: None,
        })
        .expect("a client")
    })
}

pub fn run(bytes: &[u8]) {
    let (status, retry, rest) = match bytes {
        [a, b, c, rest @ ..] => (100 + (u16::from_le_bytes([*a, *b]) % 500), *c, rest),
        _ => return,
    };
    let text = String::from_utf8_lossy(rest).into_owned();
    let mut stream = EventStream::default();
    for line in text.lines() {
        let _ = stream.line(line);
    }
    let _ = stream.line("");
    let body = decode_body(text);
    drydock::maintenance::print_state(&body, true);
    drydock::maintenance::print_state(&body, false);
    let reply = Reply { status, body, retry_after: (retry % 2 == 0).then(|| retry.to_string()) };
    let err = client().api_error(&reply);
    assert!(!err.message.is_empty());
}
