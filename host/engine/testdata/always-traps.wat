;; A test policy (core module, componentized by the build script) with a name
;; and a version whose every decision traps: the smoke test must refuse it.
(module
  (memory (export "memory") 1)
  (data (i32.const 128) "\a0\00\00\00\0c\00\00\00")
  (data (i32.const 136) "\b0\00\00\00\05\00\00\00")
  (data (i32.const 160) "always-traps")
  (data (i32.const 176) "0.0.1")
  (func (export "name") (result i32) (i32.const 128))
  (func (export "version") (result i32) (i32.const 136))
  (func (export "decide") (param i32) (result i32) unreachable)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
)
