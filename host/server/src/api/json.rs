//! Request-body and query parsing at the edge: every failure is a 4xx in the
//! reference's shape, never a panic or a 500.
//! Also the paginated list body every list route answers with (`list!`).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use http::header;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::store::Page;

/// A JSON body. No body (or `null`) reads as `{}` (the real client posts some actions
/// without one); any other content type than JSON is refused with 415.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
            let mime = ct.split(';').next().unwrap_or("").trim();
            if !(mime == "application/json" || mime.ends_with("+json")) {
                return Err(Error::UnsupportedMediaType(format!(
                    "Content-Type must be application/json, not `{mime}`"
                )));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge("The request body is larger than this endpoint accepts".into())
            } else {
                Error::BadRequest(format!("Cannot read the request body: {rej}"))
            }
        })?;
        // Where a body is optional, none and JSON `null` both mean "nothing given"
        // (blanks alone are not JSON, and not nothing either).
        let bytes: &[u8] = if bytes.is_empty() || bytes.trim_ascii() == b"null" { b"{}" } else { &bytes };
        // Every body is an object: serde would also read a struct from an array, by
        // position (`["why"]` as a plan with that reason), which no client means.
        if !bytes.trim_ascii_start().starts_with(b"{") {
            return Err(Error::BadRequest("Invalid JSON body: expected an object (`{...}`)".into()));
        }
        serde_json::from_slice(bytes)
            .map(JsonBody)
            .map_err(|e| Error::BadRequest(format!("Invalid JSON body: {e}")))
    }
}

/// A count from a query (`_size`, `_offset`): digits only; any number of them, a
/// count too large for `u32` reads as `u32::MAX` (lists cap it anyway), so the
/// document can say "an integer ≥ 0" and mean it.
pub fn count(key: &str, v: &str) -> Result<u32, Error> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::BadRequest(format!("`{key}` must be a non-negative integer, got `{v}`")));
    }
    Ok(v.parse::<u32>().unwrap_or(u32::MAX))
}

/// The raw query string as ordered key/value pairs (keys may repeat: `type=a&type=b`).
pub struct QueryPairs(pub Vec<(String, String)>);

impl QueryPairs {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> impl Iterator<Item = &str> {
        self.0.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// `_offset`, `_size` and `_sort`, as the real client sends them. `sortable`
    /// lists the columns a client may sort by.
    /// A `true`/`false` query flag (either case); absent is false, anything else a 400.
    pub fn flag(&self, key: &str) -> Result<bool, Error> {
        match self.get(key) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(Error::BadRequest(format!("`{key}` must be true or false, not `{v}`"))),
        }
    }

    pub fn page(&self, sortable: &[&'static str]) -> Result<Page, Error> {
        let num = |key: &str, default: u32| -> Result<u32, Error> {
            match self.get(key).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => count(key, v),
            }
        };
        let offset = num("_offset", 0)?;
        let size = num("_size", 1000)?.min(10_000);
        let sort = match self.get("_sort").filter(|v| !v.is_empty()) {
            None => None,
            Some(spec) => {
                let (desc, name) = match spec.strip_prefix('-') {
                    Some(n) => (true, n),
                    None => (false, spec.strip_prefix('+').unwrap_or(spec)),
                };
                let col = sortable.iter().find(|c| **c == name).ok_or_else(|| {
                    Error::BadRequest(format!("Cannot sort by `{name}`; sortable fields: {}", sortable.join(", ")))
                })?;
                Some((*col, desc))
            }
        };
        Ok(Page { offset, size, sort })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let q = parts.uri.query().unwrap_or("");
        Ok(QueryPairs(form_urlencoded::parse(q.as_bytes()).into_owned().collect()))
    }
}

/// A paginated list body as the real client reads it: `items`, then `metadata`
/// (`{"pagination": {"total", "size", "offset"}, "filtered": null}`). Each use makes
/// one concrete type, both what is sent and its OpenAPI schema (named `$name`):
/// `list!(DeploymentList, DeploymentBody);`, built with `DeploymentList::new(items, total, &page)`.
macro_rules! list {
    ($(#[$meta:meta])* $name:ident, $item:ty) => {
        $(#[$meta])*
        #[derive(::serde::Serialize, ::utoipa::ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            pub items: Vec<$item>,
            pub metadata: crate::api::schema::ListMetadata,
        }

        impl $name {
            /// `items` (one page of them), of `total` in all.
            #[allow(dead_code)]
            pub fn new(items: Vec<$item>, total: u64, page: &crate::store::Page) -> $name {
                $name { items, metadata: crate::api::schema::ListMetadata::of(total, page) }
            }
        }
    };
}
pub(crate) use list;

/// An optional JSON object field (`parameters`, `inputs`): absent or null is `{}`;
/// anything but an object is a client mistake.
pub fn object_or_empty(v: Option<serde_json::Value>, field: &str) -> Result<serde_json::Value, Error> {
    use serde_json::Value;
    match v {
        None | Some(Value::Null) => Ok(Value::Object(Default::default())),
        Some(o @ Value::Object(_)) => Ok(o),
        Some(other) => Err(Error::BadRequest(format!("`{field}` must be an object, got {other}"))),
    }
}

/// Accept the booleans the real client sends as strings ("true"/"false") too.
pub fn loose_bool(v: Option<&serde_json::Value>) -> Result<bool, Error> {
    use serde_json::Value;
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") || s.is_empty() => Ok(false),
        Some(other) => Err(Error::BadRequest(format!("expected a boolean, got {other}"))),
    }
}
