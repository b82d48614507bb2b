;; A test policy with two linear memories, 3 MiB and 2 MiB: each under the 4 MiB
;; cap, 5 MiB together. The cap is on the whole instance, so it must not load.
;; Otherwise it is testdata/misbehave.wat.
(module
  (memory (export "memory") 48)
  (memory 32)
  (global $heap (mut i32) (i32.const 1024))

  ;; name / version return areas: (ptr, len)
  (data (i32.const 128) "\a0\00\00\00\09\00\00\00")
  (data (i32.const 136) "\b0\00\00\00\05\00\00\00")
  (data (i32.const 160) "misbehave")
  (data (i32.const 176) "0.0.1")
  ;; 256: decision `allow` (discriminant 0, memory starts zeroed)
  ;; 512: decision `deny` { status 200, error-code "oops", message "no", retry-after none }
  (data (i32.const 512)
    "\01\00\00\00" "\c8\00\00\00" "\58\02\00\00" "\04\00\00\00"
    "\60\02\00\00" "\02\00\00\00" "\00\00\00\00" "\00\00\00\00")
  (data (i32.const 600) "oops")
  (data (i32.const 608) "no")

  (func (export "name") (result i32) (i32.const 128))
  (func (export "version") (result i32) (i32.const 136))

  (func (export "decide") (param $input i32) (result i32)
    (local $c i32)
    ;; input.request.method is (ptr, len) at offset 0
    (if (i32.eqz (i32.load offset=4 (local.get $input))) (then (return (i32.const 256))))
    (local.set $c (i32.load8_u (i32.load (local.get $input))))
    (if (i32.eq (local.get $c) (i32.const 84)) (then unreachable))
    (if (i32.eq (local.get $c) (i32.const 76)) (then (loop $spin (br $spin))))
    (if (i32.eq (local.get $c) (i32.const 77))
      (then
        (loop $eat (br_if $eat (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
        unreachable))
    (if (i32.eq (local.get $c) (i32.const 87)) (then (return (i32.const 512))))
    (i32.const 256))

  ;; Arguments are freed after each call: reset the bump allocator.
  (func (export "cabi_post_decide") (param i32) (global.set $heap (i32.const 1024)))

  (func (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $p i32)
    (local.set $p
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get $align))))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (block $fits
      (loop $grow
        (br_if $fits (i32.le_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))
        (br $grow)))
    (local.get $p))
)
