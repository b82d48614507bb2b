;; A component that asks the host for things: refused (a policy can call nothing).
(component
  (import "log" (func (param "message" string)))
  (import "wasi:clocks/wall-clock@0.2.0" (instance (export "now" (func (result u64)))))
  ;; Even an import of type names alone is refused: a policy imports nothing.
  (import "only-types" (instance (type $t u32) (export "t" (type (eq $t)))))
)
