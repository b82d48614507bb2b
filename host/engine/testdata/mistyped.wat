;; Exports the world's function names with the wrong types.
(component
  (core module $m (func (export "f") (result i32) i32.const 0))
  (core instance $i (instantiate $m))
  (func (export "name") (result u32) (canon lift (core func $i "f")))
  (func (export "version") (result u32) (canon lift (core func $i "f")))
  (func (export "decide") (result u32) (canon lift (core func $i "f")))
)
