//! `X-Drydock-Policy` values, made once per policy rather than per response.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use drydock_engine::Policy;
use http::HeaderValue;

/// The header value of the policy that decided last, keyed by its serial: a swap
/// costs one new value, a response one pointer load and a reference count.
#[derive(Default)]
pub(crate) struct Labels {
    last: ArcSwapOption<(u64, HeaderValue)>,
}

impl Labels {
    pub(crate) fn of(&self, policy: &Policy) -> HeaderValue {
        if let Some(last) = &*self.last.load()
            && last.0 == policy.serial()
        {
            return last.1.clone();
        }
        // The engine admits only printable names and versions without spaces, so the
        // label is always a valid header value.
        let value = HeaderValue::from_str(policy.label()).unwrap_or_else(|_| HeaderValue::from_static("unnamed"));
        self.last.store(Some(Arc::new((policy.serial(), value.clone()))));
        value
    }
}
