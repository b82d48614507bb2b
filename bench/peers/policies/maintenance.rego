# Cloudify's maintenance-mode rules (policy-wasm/default/src/rules.rs) in Rego.
# `code` is the refusal's error code, "" when the request is allowed.
package drydock

import rego.v1

allowed_while_activated := {
	"status", "version", "ok", "maintenance", "license", "config", "managers", "brokers",
	"db-nodes", "cluster", "cluster-status", "file-server-auth", "snapshots", "snapshot-status",
}

admin_bypass if {
	input.caller.bypass
	input.caller.role == "sys_admin"
}

writes if input.request.method in {"POST", "PUT", "PATCH"}

segments := split(trim(input.request.route, "/"), "/")

starts_work if {
	count(segments) == 3
	segments[0] == "snapshots"
	segments[2] == "restore"
}

starts_work if {
	writes
	segments == ["executions"]
}

starts_work if {
	writes
	count(segments) == 2
	segments[0] in {"deployments", "snapshots"}
}

starts_work if {
	writes
	segments[0] == "deployment-modifications"
}

child if {
	input.attributes.parent != ""
	input.request.method == "POST"
	trim(input.request.route, "/") == "executions"
}

default code := ""

code := "maintenance_mode_active" if {
	not admin_bypass
	input.state == "activated"
	not allowed_while_activated[input.request.first_segment]
}

code := "entering_maintenance_mode" if {
	not admin_bypass
	input.state == "activating"
	starts_work
	not child
}
