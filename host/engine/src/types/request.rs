//! Who asks what: the request as a policy sees it. Plain data, no HTTP types.

/// A caller's role. Cloudify's system roles are `sys_admin` and `default`
/// (`user` is accepted as its alias); an embedding application may name its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    SysAdmin,
    User,
    Other(String),
}

impl Role {
    /// The name the policy sees: `sys_admin`, `user`, or the application's own.
    pub fn as_str(&self) -> &str {
        match self {
            Role::SysAdmin => "sys_admin",
            Role::User => "user",
            Role::Other(s) => s,
        }
    }

    /// Parse a role name as clients send it.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "sys_admin" => Some(Role::SysAdmin),
            "user" | "default" => Some(Role::User),
            _ => None,
        }
    }

    /// Whether the caller is a `sys_admin` (the admin floor admits only those).
    pub fn is_admin(&self) -> bool {
        matches!(self, Role::SysAdmin)
    }
}

/// Who is asking. An embedding application's authentication inserts one into the
/// request extensions before the gate runs; the gate sets `bypass` itself from the
/// `X-Bypass-Maintenance` header, and treats a request without one as anonymous.
///
/// ```
/// use drydock_engine::{Caller, Role};
///
/// let caller = Caller { username: "ci-bot".into(), role: Role::Other("robot".into()), bypass: false };
/// assert_eq!(caller.role.as_str(), "robot");
/// ```
#[derive(Debug, Clone)]
pub struct Caller {
    /// The authenticated user name (empty when anonymous).
    pub username: String,
    /// What the policy sees as `caller.role`.
    pub role: Role,
    /// The request carried a non-empty `X-BYPASS-MAINTENANCE` header.
    pub bypass: bool,
}

/// One request, as routed.
#[derive(Debug, Clone)]
pub struct RequestDescriptor {
    /// Upper-case HTTP method.
    pub method: String,
    /// The concrete path, e.g. `/api/v3.1/executions/42`.
    pub path: String,
    /// The matched route's template below the API version, e.g. `executions/{id}`.
    pub route: String,
    /// The first path segment after the API version, e.g. `executions`.
    pub first_segment: String,
    pub caller: Caller,
    /// Extra facts for policies (tenant, an embedding app's own metadata).
    pub attributes: Vec<(String, String)>,
}

impl RequestDescriptor {
    /// Build the descriptor the server builds for a request: the one place that turns
    /// a method, a concrete path and a matched route template into what a policy sees.
    /// `prefix` (e.g. `/api/v3.1`) is stripped from both; an unversioned `/api/...`
    /// path is stripped of `/api`.
    ///
    /// This is what a policy will see for a request in an embedding application
    /// without a prefix (useful to test a policy against your own routes):
    ///
    /// ```
    /// use drydock_engine::{Caller, RequestDescriptor, Role};
    ///
    /// let alice = Caller { username: "alice".into(), role: Role::User, bypass: false };
    /// let d = RequestDescriptor::new("delete", "/todos/7", "/todos/{id}", "", alice);
    /// assert_eq!((d.method.as_str(), d.route.as_str(), d.first_segment.as_str()), ("DELETE", "todos/{id}", "todos"));
    /// ```
    pub fn new(method: &str, path: &str, template: &str, prefix: &str, caller: Caller) -> Self {
        let (route, first_segment) = below_prefix(path, template, prefix);
        RequestDescriptor {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            route: route.to_string(),
            first_segment: first_segment.to_string(),
            caller,
            attributes: Vec::new(),
        }
    }

    /// The same request, borrowed.
    pub fn view(&self) -> RequestView<'_> {
        RequestView {
            method: &self.method,
            path: &self.path,
            route: &self.route,
            first_segment: &self.first_segment,
            caller: CallerView { username: &self.caller.username, role: &self.caller.role, bypass: self.caller.bypass },
            attributes: &self.attributes,
        }
    }
}

/// The route template and the first path segment below `prefix` (see
/// [`RequestDescriptor::new`]), as slices of `template` and `path`.
fn below_prefix<'a>(path: &'a str, template: &'a str, prefix: &str) -> (&'a str, &'a str) {
    let strip = |p: &'a str| -> &'a str {
        // No prefix: no comparison. Comparing an empty slice still calls `memcmp`
        // with a dangling pointer, and glibc's AVX-512 `memcmp` (a masked load of
        // zero bytes there) takes ~90 ns on the AMD machines this was measured on.
        let stripped = if prefix.is_empty() { Some(p) } else { p.strip_prefix(prefix) };
        let rest = stripped
            .filter(|r| r.is_empty() || r.starts_with('/'))
            .or_else(|| p.strip_prefix("/api").filter(|r| r.starts_with('/')))
            .unwrap_or(p);
        rest.trim_start_matches('/')
    };
    let below = strip(path);
    (strip(template), below.split('/').next().unwrap_or(""))
}

/// Who is asking, borrowed (see [`Caller`]).
#[derive(Debug, Clone, Copy)]
pub struct CallerView<'a> {
    pub username: &'a str,
    pub role: &'a Role,
    pub bypass: bool,
}

/// A request as a policy sees it, borrowed from wherever it lives (an HTTP request,
/// a [`RequestDescriptor`]): what the gate decides and remembers decisions by, so a
/// request whose decision it remembers copies nothing.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// Upper-case HTTP method.
    pub method: &'a str,
    pub path: &'a str,
    /// The matched route's template below the API version, e.g. `executions/{id}`.
    pub route: &'a str,
    /// The first path segment after the API version, e.g. `executions`.
    pub first_segment: &'a str,
    pub caller: CallerView<'a>,
    pub attributes: &'a [(String, String)],
}

impl<'a> RequestView<'a> {
    /// [`RequestDescriptor::new`] without copying: `method` must already be upper
    /// case (`http::Method::as_str` is, for the standard methods).
    pub fn new(method: &'a str, path: &'a str, template: &'a str, prefix: &str, caller: CallerView<'a>) -> Self {
        debug_assert!(!method.bytes().any(|b| b.is_ascii_lowercase()), "method {method:?} is not upper case");
        let (route, first_segment) = below_prefix(path, template, prefix);
        RequestView { method, path, route, first_segment, caller, attributes: &[] }
    }

    /// An owned copy, for what outlives the request (a queued shadow decision).
    pub fn to_descriptor(&self) -> RequestDescriptor {
        RequestDescriptor {
            method: self.method.to_owned(),
            path: self.path.to_owned(),
            route: self.route.to_owned(),
            first_segment: self.first_segment.to_owned(),
            caller: Caller {
                username: self.caller.username.to_owned(),
                role: self.caller.role.clone(),
                bypass: self.caller.bypass,
            },
            attributes: self.attributes.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anon() -> Caller {
        Caller { username: String::new(), role: Role::User, bypass: false }
    }

    #[test]
    fn route_and_first_segment_are_below_the_version() {
        let d = RequestDescriptor::new(
            "post",
            "/api/v3.1/executions/42",
            "/api/v3.1/executions/{id}",
            "/api/v3.1",
            anon(),
        );
        assert_eq!(d.method, "POST");
        assert_eq!(d.route, "executions/{id}");
        assert_eq!(d.first_segment, "executions");
        assert_eq!(d.path, "/api/v3.1/executions/42");
    }

    #[test]
    fn unversioned_api_paths() {
        let d = RequestDescriptor::new("GET", "/api/version", "/api/version", "/api/v3.1", anon());
        assert_eq!(d.route, "version");
        assert_eq!(d.first_segment, "version");
    }

    #[test]
    fn a_prefix_only_matches_whole_segments() {
        let d = RequestDescriptor::new("GET", "/api/v3.10/status", "/api/v3.10/status", "/api/v3.1", anon());
        assert_eq!(d.first_segment, "v3.10");
    }

    #[test]
    fn a_view_describes_like_the_descriptor() {
        for (path, template, prefix) in [
            ("/api/v3.1/executions/42", "/api/v3.1/executions/{id}", "/api/v3.1"),
            ("/api/version", "/api/version", "/api/v3.1"),
            ("/api/v3.10/status", "/api/v3.10/status", "/api/v3.1"),
            ("/todos/7", "/todos/{id}", ""),
        ] {
            let d = RequestDescriptor::new("GET", path, template, prefix, anon());
            let role = Role::User;
            let v = RequestView::new("GET", path, template, prefix, CallerView { username: "", role: &role, bypass: false });
            assert_eq!((v.route, v.first_segment, v.path), (d.route.as_str(), d.first_segment.as_str(), d.path.as_str()));
            let back = v.to_descriptor();
            assert_eq!((back.route, back.first_segment), (d.route.clone(), d.first_segment.clone()));
            assert_eq!(d.view().route, d.route);
        }
    }

    #[test]
    fn embedding_apps_without_prefix() {
        let d = RequestDescriptor::new("DELETE", "/todos/7", "/todos/{id}", "", anon());
        assert_eq!(d.route, "todos/{id}");
        assert_eq!(d.first_segment, "todos");
    }
}
