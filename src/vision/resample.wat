;; TensorFlow's legacy bilinear resampling (src/vision/resample.ts) in WebAssembly: the same float32
;; operations in the same order, so the result is bit for bit the JavaScript's (and tf.image's), but
;; without JavaScript's float64 arithmetic and the Math.fround after every step that exactness costs
;; there. Compiled by `npm run build:wasm` into resample-wasm.ts; test/resample-wasm.test.ts checks
;; the two agree and that the embedded module is this file's.
;;
;; Pixel bytes become floats through a signed 32-bit conversion (f32x4.convert_i32x4_s): the same floats
;; for 0-255, one cvtdq2ps on x86, where V8 expands the unsigned one into several instructions (the
;; TensorFlow pass's 416 rows of 720 -> 416 took 0.44 ms unsigned, 0.25 signed, A/B in one process).
;;
;; For TensorFlow's sampler JavaScript drives the row loop and copies one source row at a time into
;; memory; darknet's runs its whole row loop here (dk_resize) on a window of source rows copied in at
;; once (JavaScript's per-row work was a fifth of its time). Either way the module's memory holds a
;; bounded part of the source whatever the picture's size, and the output picture (copied out a plane
;; at a time: one copy per row and channel cost more than the copying itself).
(module
  (memory (export "memory") 1)

  ;; One row of horizontally interpolated samples, planar: channel c of column x at dst + 4*(c*n + x).
  ;; src: the source row's first byte, or -1 for a row of padding (every sample the pad value).
  ;; lo, hi: per column, the byte offsets in the row of the two taps (-1: a padding column); w: the
  ;; weight of the second tap. Per sample: l + (r - l) * w, each step rounded to float32.
  (func (export "horizontal")
    (param $src i32) (param $dst i32) (param $n i32) (param $C i32)
    (param $lo i32) (param $hi i32) (param $w i32) (param $pad f32)
    (local $x i32) (local $c i32) (local $c0 i32) (local $c1 i32) (local $wx f32)
    (local $l f32) (local $r f32) (local $plane i32) (local $d i32)
    (local $v v128) (local $lf v128) (local $s v128)
    (local $lo4 v128) (local $hi4 v128) (local $vl v128) (local $vr v128) (local $w4 v128) (local $a v128) (local $b v128)
    (local.set $plane (i32.shl (local.get $n) (i32.const 2)))
    (if (i32.lt_s (local.get $src) (i32.const 0))
      (then
        (local.set $x (i32.mul (local.get $n) (local.get $C)))
        (block $done
          (loop $fill
            (br_if $done (i32.eqz (local.get $x)))
            (local.set $x (i32.sub (local.get $x) (i32.const 1)))
            (f32.store (i32.add (local.get $dst) (i32.shl (local.get $x) (i32.const 2))) (local.get $pad))
            (br $fill)))
        (return)))
    (local.set $x (i32.const 0))
    (block $rowdone
      (loop $col
        (br_if $rowdone (i32.ge_u (local.get $x) (local.get $n)))
        ;; four three-channel columns whose taps are all in the image: the taps' pixels gathered into one
        ;; vector each side, bytes regrouped by channel (R of the four columns, then G, then B), and the
        ;; four samples of a channel interpolated and stored at once, the same float32 operations per lane
        (if (i32.and (i32.eq (local.get $C) (i32.const 3)) (i32.le_u (i32.add (local.get $x) (i32.const 4)) (local.get $n)))
          (then
            (local.set $lo4 (v128.load (i32.add (local.get $lo) (i32.shl (local.get $x) (i32.const 2)))))
            (local.set $hi4 (v128.load (i32.add (local.get $hi) (i32.shl (local.get $x) (i32.const 2)))))
            (if (i32.eqz (v128.any_true (i32x4.lt_s (v128.or (local.get $lo4) (local.get $hi4)) (v128.const i32x4 0 0 0 0))))
              (then
                (local.set $vl (v128.load32_zero (i32.add (local.get $src) (i32x4.extract_lane 0 (local.get $lo4)))))
                (local.set $vl (v128.load32_lane 1 (i32.add (local.get $src) (i32x4.extract_lane 1 (local.get $lo4))) (local.get $vl)))
                (local.set $vl (v128.load32_lane 2 (i32.add (local.get $src) (i32x4.extract_lane 2 (local.get $lo4))) (local.get $vl)))
                (local.set $vl (v128.load32_lane 3 (i32.add (local.get $src) (i32x4.extract_lane 3 (local.get $lo4))) (local.get $vl)))
                (local.set $vr (v128.load32_zero (i32.add (local.get $src) (i32x4.extract_lane 0 (local.get $hi4)))))
                (local.set $vr (v128.load32_lane 1 (i32.add (local.get $src) (i32x4.extract_lane 1 (local.get $hi4))) (local.get $vr)))
                (local.set $vr (v128.load32_lane 2 (i32.add (local.get $src) (i32x4.extract_lane 2 (local.get $hi4))) (local.get $vr)))
                (local.set $vr (v128.load32_lane 3 (i32.add (local.get $src) (i32x4.extract_lane 3 (local.get $hi4))) (local.get $vr)))
                (local.set $vl (i8x16.shuffle 0 4 8 12 1 5 9 13 2 6 10 14 3 7 11 15 (local.get $vl) (local.get $vl)))
                (local.set $vr (i8x16.shuffle 0 4 8 12 1 5 9 13 2 6 10 14 3 7 11 15 (local.get $vr) (local.get $vr)))
                (local.set $w4 (v128.load (i32.add (local.get $w) (i32.shl (local.get $x) (i32.const 2)))))
                (local.set $d (i32.add (local.get $dst) (i32.shl (local.get $x) (i32.const 2))))
                ;; R and G from the low eight bytes, B from the high
                (local.set $a (i16x8.extend_low_i8x16_u (local.get $vl)))
                (local.set $b (i16x8.extend_low_i8x16_u (local.get $vr)))
                (local.set $lf (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (local.get $a))))
                (v128.store (local.get $d)
                  (f32x4.add (local.get $lf) (f32x4.mul (f32x4.sub (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (local.get $b))) (local.get $lf)) (local.get $w4))))
                (local.set $lf (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (local.get $a))))
                (v128.store (i32.add (local.get $d) (local.get $plane))
                  (f32x4.add (local.get $lf) (f32x4.mul (f32x4.sub (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (local.get $b))) (local.get $lf)) (local.get $w4))))
                (local.set $lf (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (i16x8.extend_high_i8x16_u (local.get $vl)))))
                (v128.store (i32.add (local.get $d) (i32.shl (local.get $plane) (i32.const 1)))
                  (f32x4.add (local.get $lf) (f32x4.mul (f32x4.sub (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (i16x8.extend_high_i8x16_u (local.get $vr)))) (local.get $lf)) (local.get $w4))))
                (local.set $x (i32.add (local.get $x) (i32.const 4)))
                (br $col)))))
        (local.set $c0 (i32.load (i32.add (local.get $lo) (i32.shl (local.get $x) (i32.const 2)))))
        (local.set $c1 (i32.load (i32.add (local.get $hi) (i32.shl (local.get $x) (i32.const 2)))))
        (local.set $wx (f32.load (i32.add (local.get $w) (i32.shl (local.get $x) (i32.const 2)))))
        ;; three channels with both taps in the image, the common case: no per-sample branch, the three
        ;; channels of both taps in one vector (each pixel's four bytes loaded: its three and the next one,
        ;; whose lane is left unused; the row's memory has four bytes of slack for the last pixel), the
        ;; same float32 sub, mul, add per lane as the scalar path
        (if (i32.and (i32.eq (local.get $C) (i32.const 3))
              (i32.ge_s (i32.or (local.get $c0) (local.get $c1)) (i32.const 0)))
          (then
            (local.set $v (v128.load32_lane 1 (i32.add (local.get $src) (local.get $c1))
              (v128.load32_zero (i32.add (local.get $src) (local.get $c0)))))
            (local.set $v (i16x8.extend_low_i8x16_u (local.get $v)))
            (local.set $lf (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (local.get $v))))
            (local.set $s
              (f32x4.add (local.get $lf)
                (f32x4.mul
                  (f32x4.sub (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (local.get $v))) (local.get $lf))
                  (f32x4.splat (local.get $wx)))))
            (local.set $d (i32.add (local.get $dst) (i32.shl (local.get $x) (i32.const 2))))
            (f32.store (local.get $d) (f32x4.extract_lane 0 (local.get $s)))
            (f32.store (i32.add (local.get $d) (local.get $plane)) (f32x4.extract_lane 1 (local.get $s)))
            (f32.store (i32.add (local.get $d) (i32.shl (local.get $plane) (i32.const 1))) (f32x4.extract_lane 2 (local.get $s)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $col)))
        (local.set $c (i32.const 0))
        (block $chdone
          (loop $ch
            (br_if $chdone (i32.ge_u (local.get $c) (local.get $C)))
            (local.set $l
              (if (result f32) (i32.lt_s (local.get $c0) (i32.const 0))
                (then (local.get $pad))
                (else (f32.convert_i32_u (i32.load8_u (i32.add (local.get $src) (i32.add (local.get $c0) (local.get $c))))))))
            (local.set $r
              (if (result f32) (i32.lt_s (local.get $c1) (i32.const 0))
                (then (local.get $pad))
                (else (f32.convert_i32_u (i32.load8_u (i32.add (local.get $src) (i32.add (local.get $c1) (local.get $c))))))))
            (f32.store
              (i32.add (local.get $dst)
                (i32.add (i32.mul (local.get $c) (local.get $plane)) (i32.shl (local.get $x) (i32.const 2))))
              (f32.add (local.get $l) (f32.mul (f32.sub (local.get $r) (local.get $l)) (local.get $wx))))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $ch)))
        (local.set $x (i32.add (local.get $x) (i32.const 1)))
        (br $col)))
  )

  ;; One output row: t + (b - t) * yw, then (v - mean[c]) / std[c], all float32, four samples at a time.
  ;; a, b: the top and bottom rows; mean, std: C float32 each; channel c's n samples go to
  ;; out + c * ostride (bytes), so that rows land straight in a planar picture of the whole output.
  (func (export "vertical")
    (param $a i32) (param $b i32) (param $out i32) (param $n i32) (param $C i32) (param $yw f32)
    (param $mean i32) (param $std i32) (param $ostride i32)
    (local $c i32) (local $o i32) (local $i i32) (local $end i32) (local $end4 i32) (local $off i32)
    (local $m f32) (local $s f32) (local $t f32)
    (local $m4 v128) (local $s4 v128) (local $y4 v128) (local $t4 v128)
    (local.set $y4 (f32x4.splat (local.get $yw)))
    (local.set $c (i32.const 0))
    (block $chdone
      (loop $ch
        (br_if $chdone (i32.ge_u (local.get $c) (local.get $C)))
        (local.set $m (f32.load (i32.add (local.get $mean) (i32.shl (local.get $c) (i32.const 2)))))
        (local.set $s (f32.load (i32.add (local.get $std) (i32.shl (local.get $c) (i32.const 2)))))
        (local.set $m4 (f32x4.splat (local.get $m)))
        (local.set $s4 (f32x4.splat (local.get $s)))
        ;; sample indices [i, end) of this channel's plane; SIMD up to end4, the rest one by one
        (local.set $i (i32.mul (local.get $c) (local.get $n)))
        ;; where sample i goes, less 4 * i
        (local.set $o (i32.sub (i32.add (local.get $out) (i32.mul (local.get $c) (local.get $ostride))) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $end (i32.add (local.get $i) (local.get $n)))
        (local.set $end4 (i32.sub (local.get $end) (i32.and (local.get $n) (i32.const 3))))
        (block $vdone
          (loop $v
            (br_if $vdone (i32.ge_u (local.get $i) (local.get $end4)))
            (local.set $off (i32.shl (local.get $i) (i32.const 2)))
            (local.set $t4 (v128.load (i32.add (local.get $a) (local.get $off))))
            (v128.store (i32.add (local.get $o) (local.get $off))
              (f32x4.div
                (f32x4.sub
                  (f32x4.add (local.get $t4)
                    (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $b) (local.get $off))) (local.get $t4)) (local.get $y4)))
                  (local.get $m4))
                (local.get $s4)))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $v)))
        (block $sdone
          (loop $sc
            (br_if $sdone (i32.ge_u (local.get $i) (local.get $end)))
            (local.set $off (i32.shl (local.get $i) (i32.const 2)))
            (local.set $t (f32.load (i32.add (local.get $a) (local.get $off))))
            (f32.store (i32.add (local.get $o) (local.get $off))
              (f32.div
                (f32.sub
                  (f32.add (local.get $t)
                    (f32.mul (f32.sub (f32.load (i32.add (local.get $b) (local.get $off))) (local.get $t)) (local.get $yw)))
                  (local.get $m))
                (local.get $s)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $sc)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $ch)))
  )

  ;; ---- darknet's resize_image (src/vision/resample-darknet.ts): a two-pass corner-aligned bilinear in
  ;; float32, on values already normalised; per sample w0 * a + w1 * b, each product and the sum rounded
  ;; to float32 (no fused multiply-add: darknet's amd64 build has none), as resampleDarknetJs does.
  ;; JavaScript calls dk_resize alone; the three passes below are its pieces.
  ;; Rows are kept interleaved (C values a pixel) until the vertical pass writes the planes.

  ;; n source values (8-bit) to floats, (v - mean) / std by channel: twelve values a step, which is
  ;; whole pixels for 1 or 3 channels, so the channel pattern repeats every three vectors (pat: the three
  ;; mean vectors, then the three std vectors). A step reads 16 bytes and writes 12 floats: the source
  ;; row has 16 bytes of slack after it, the destination 48.
  (func $dk_normalise (param $src i32) (param $dst i32) (param $n i32) (param $pat i32)
    (local $i i32) (local $d i32) (local $v v128) (local $h v128)
    (local $m0 v128) (local $m1 v128) (local $m2 v128) (local $s0 v128) (local $s1 v128) (local $s2 v128)
    (local.set $m0 (v128.load (local.get $pat)))
    (local.set $m1 (v128.load offset=16 (local.get $pat)))
    (local.set $m2 (v128.load offset=32 (local.get $pat)))
    (local.set $s0 (v128.load offset=48 (local.get $pat)))
    (local.set $s1 (v128.load offset=64 (local.get $pat)))
    (local.set $s2 (v128.load offset=80 (local.get $pat)))
    (local.set $i (i32.const 0))
    (local.set $d (local.get $dst))
    (block $done
      (loop $step
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $v (v128.load (i32.add (local.get $src) (local.get $i))))
        (local.set $h (i16x8.extend_low_i8x16_u (local.get $v)))
        (v128.store (local.get $d)
          (f32x4.div (f32x4.sub (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (local.get $h))) (local.get $m0)) (local.get $s0)))
        (v128.store offset=16 (local.get $d)
          (f32x4.div (f32x4.sub (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (local.get $h))) (local.get $m1)) (local.get $s1)))
        (v128.store offset=32 (local.get $d)
          (f32x4.div (f32x4.sub (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (i16x8.extend_high_i8x16_u (local.get $v)))) (local.get $m2)) (local.get $s2)))
        (local.set $i (i32.add (local.get $i) (i32.const 12)))
        (local.set $d (i32.add (local.get $d) (i32.const 48)))
        (br $step)))
  )

  ;; The horizontal pass of one normalised row into n output pixels: pixel x is w0 * p + w1 * q from
  ;; column x's 16-byte record at cols + 16x (off, w0, w1: i32, f32, f32), p the row's pixel at byte
  ;; offset off and q the pixel after it (darknet's copied last column is w0 0, w1 1 on the pixel before
  ;; the last: the same value). Three channels: a pixel's three values and the next one's first in a
  ;; vector, the fourth lane's result overwritten by the next pixel's store (the destination has 16 bytes
  ;; of slack), the record one load, its weights spread by shuffles. Other channel counts value by value.
  (func $dk_horizontal (param $row i32) (param $dst i32) (param $n i32) (param $C i32) (param $cols i32)
    (local $x i32) (local $c i32) (local $p i32) (local $d i32) (local $e i32) (local $a f32) (local $b f32)
    (local $r v128)
    (local.set $x (i32.const 0))
    (local.set $d (local.get $dst))
    (local.set $e (local.get $cols))
    (if (i32.eq (local.get $C) (i32.const 3))
      (then
        (block $done
          (loop $col
            (br_if $done (i32.ge_u (local.get $x) (local.get $n)))
            (local.set $r (v128.load (local.get $e)))
            (local.set $p (i32.add (local.get $row) (i32x4.extract_lane 0 (local.get $r))))
            (v128.store (local.get $d)
              (f32x4.add
                (f32x4.mul (v128.load (local.get $p))
                  (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $r) (local.get $r)))
                (f32x4.mul (v128.load offset=12 (local.get $p))
                  (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $r) (local.get $r)))))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (local.set $d (i32.add (local.get $d) (i32.const 12)))
            (local.set $e (i32.add (local.get $e) (i32.const 16)))
            (br $col)))
        (return)))
    (block $done
      (loop $col
        (br_if $done (i32.ge_u (local.get $x) (local.get $n)))
        (local.set $p (i32.add (local.get $row) (i32.load (local.get $e))))
        (local.set $a (f32.load offset=4 (local.get $e)))
        (local.set $b (f32.load offset=8 (local.get $e)))
        (local.set $c (i32.const 0))
        (block $chdone
          (loop $ch
            (br_if $chdone (i32.ge_u (local.get $c) (local.get $C)))
            (f32.store (local.get $d)
              (f32.add
                (f32.mul (f32.load (local.get $p)) (local.get $a))
                (f32.mul (f32.load (i32.add (local.get $p) (i32.shl (local.get $C) (i32.const 2)))) (local.get $b))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $d (i32.add (local.get $d) (i32.const 4)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $ch)))
        (local.set $x (i32.add (local.get $x) (i32.const 1)))
        (local.set $e (i32.add (local.get $e) (i32.const 16)))
        (br $col)))
  )

  ;; The vertical pass of one output row: w0 * t + w1 * b from the interleaved rows t and b (only
  ;; w0 * t when single: darknet's last row, or a source of one row), channel c of pixel x written to
  ;; out + c * ostride + 4x. Three channels: four pixels (three vectors a row) a step, regrouped by
  ;; channel with two shuffles a plane; the pixels left over and other channel counts one by one.
  (func $dk_vertical (param $t i32) (param $b i32) (param $out i32) (param $n i32) (param $C i32)
    (param $w0 f32) (param $w1 f32) (param $single i32) (param $ostride i32)
    (local $x i32) (local $c i32) (local $k i32) (local $o i32) (local $v f32)
    (local $y0 v128) (local $y1 v128) (local $v0 v128) (local $v1 v128) (local $v2 v128)
    (local.set $y0 (f32x4.splat (local.get $w0)))
    (local.set $y1 (f32x4.splat (local.get $w1)))
    (local.set $x (i32.const 0))
    (if (i32.eq (local.get $C) (i32.const 3))
      (then
        (block $done
          (loop $step
            (br_if $done (i32.gt_u (i32.add (local.get $x) (i32.const 4)) (local.get $n)))
            (local.set $k (i32.mul (local.get $x) (i32.const 12)))
            (local.set $v0 (f32x4.mul (v128.load (i32.add (local.get $t) (local.get $k))) (local.get $y0)))
            (local.set $v1 (f32x4.mul (v128.load offset=16 (i32.add (local.get $t) (local.get $k))) (local.get $y0)))
            (local.set $v2 (f32x4.mul (v128.load offset=32 (i32.add (local.get $t) (local.get $k))) (local.get $y0)))
            (if (i32.eqz (local.get $single))
              (then
                (local.set $v0 (f32x4.add (local.get $v0) (f32x4.mul (v128.load (i32.add (local.get $b) (local.get $k))) (local.get $y1))))
                (local.set $v1 (f32x4.add (local.get $v1) (f32x4.mul (v128.load offset=16 (i32.add (local.get $b) (local.get $k))) (local.get $y1))))
                (local.set $v2 (f32x4.add (local.get $v2) (f32x4.mul (v128.load offset=32 (i32.add (local.get $b) (local.get $k))) (local.get $y1))))))
            ;; v0 = R0 G0 B0 R1, v1 = G1 B1 R2 G2, v2 = B2 R3 G3 B3
            (local.set $o (i32.add (local.get $out) (i32.shl (local.get $x) (i32.const 2))))
            (v128.store (local.get $o)
              (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 20 21 22 23
                (i8x16.shuffle 0 1 2 3 12 13 14 15 24 25 26 27 0 0 0 0 (local.get $v0) (local.get $v1)) (local.get $v2)))
            (v128.store (i32.add (local.get $o) (local.get $ostride))
              (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 24 25 26 27
                (i8x16.shuffle 4 5 6 7 16 17 18 19 28 29 30 31 0 0 0 0 (local.get $v0) (local.get $v1)) (local.get $v2)))
            (v128.store (i32.add (local.get $o) (i32.shl (local.get $ostride) (i32.const 1)))
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 28 29 30 31
                (i8x16.shuffle 8 9 10 11 20 21 22 23 0 0 0 0 0 0 0 0 (local.get $v0) (local.get $v1)) (local.get $v2)))
            (local.set $x (i32.add (local.get $x) (i32.const 4)))
            (br $step)))))
    (block $done
      (loop $px
        (br_if $done (i32.ge_u (local.get $x) (local.get $n)))
        (local.set $c (i32.const 0))
        (block $chdone
          (loop $ch
            (br_if $chdone (i32.ge_u (local.get $c) (local.get $C)))
            (local.set $k (i32.shl (i32.add (i32.mul (local.get $x) (local.get $C)) (local.get $c)) (i32.const 2)))
            (local.set $v (f32.mul (f32.load (i32.add (local.get $t) (local.get $k))) (local.get $w0)))
            (if (i32.eqz (local.get $single))
              (then (local.set $v (f32.add (local.get $v) (f32.mul (f32.load (i32.add (local.get $b) (local.get $k))) (local.get $w1))))))
            (f32.store
              (i32.add (i32.add (local.get $out) (i32.mul (local.get $c) (local.get $ostride))) (i32.shl (local.get $x) (i32.const 2)))
              (local.get $v))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $ch)))
        (local.set $x (i32.add (local.get $x) (i32.const 1)))
        (br $px)))
  )

  ;; darknet's resize_image of output rows y0 .. y1 - 1, the whole row loop here: per output row its two
  ;; source rows' part rows (normalised, then the horizontal pass) in one of two slots, computed unless a
  ;; slot holds that row already, then the vertical pass into the planes. One call takes as many rows as
  ;; the source window in memory holds; the slots keep their rows from call to call. The job block (i32s
  ;; at $job, filled by resample-darknet.ts):
  ;;   0 window: source row r0's first byte, the rows after it at rowBytes each (16 bytes of slack after)
  ;;   4 rowBytes   8 r0   12 normalised-row scratch   16 the normaliser's channel pattern
  ;;   20, 24 the two slots' part rows   28, 32 the source row each holds (-1: none)
  ;;   36 n, the output width   40 C   44 per output column 16 bytes: off (i32), w0, w1 (f32)
  ;;   48 per output row 16 bytes: iy (i32), w0, w1 (f32), single (i32)   52 the output planes   56 their stride
  (func $dk_slot (param $job i32) (param $r i32) (param $keep i32) (result i32)
    (local $s i32)
    (if (i32.eq (i32.load offset=28 (local.get $job)) (local.get $r)) (then (return (i32.const 0))))
    (if (i32.eq (i32.load offset=32 (local.get $job)) (local.get $r)) (then (return (i32.const 1))))
    ;; rows only go down the picture: give up the slot nearer the top, never the one kept
    (local.set $s
      (if (result i32) (i32.ge_s (local.get $keep) (i32.const 0))
        (then (i32.sub (i32.const 1) (local.get $keep)))
        (else (i32.gt_s (i32.load offset=28 (local.get $job)) (i32.load offset=32 (local.get $job))))))
    (call $dk_normalise
      (i32.add (i32.load (local.get $job))
        (i32.mul (i32.sub (local.get $r) (i32.load offset=8 (local.get $job))) (i32.load offset=4 (local.get $job))))
      (i32.load offset=12 (local.get $job)) (i32.load offset=4 (local.get $job)) (i32.load offset=16 (local.get $job)))
    (call $dk_horizontal
      (i32.load offset=12 (local.get $job))
      (i32.load offset=20 (i32.add (local.get $job) (i32.shl (local.get $s) (i32.const 2))))
      (i32.load offset=36 (local.get $job)) (i32.load offset=40 (local.get $job))
      (i32.load offset=44 (local.get $job)))
    (i32.store offset=28 (i32.add (local.get $job) (i32.shl (local.get $s) (i32.const 2))) (local.get $r))
    (local.get $s))

  (func (export "dk_resize") (param $job i32) (param $y0 i32) (param $y1 i32)
    (local $y i32) (local $e i32) (local $single i32) (local $t i32) (local $b i32) (local $n i32)
    (local.set $n (i32.load offset=36 (local.get $job)))
    (local.set $y (local.get $y0))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $y) (local.get $y1)))
        (local.set $e (i32.add (i32.load offset=48 (local.get $job)) (i32.shl (local.get $y) (i32.const 4))))
        (local.set $single (i32.load offset=12 (local.get $e)))
        (local.set $t (call $dk_slot (local.get $job) (i32.load (local.get $e)) (i32.const -1)))
        (local.set $b
          (if (result i32) (local.get $single)
            (then (local.get $t))
            (else (call $dk_slot (local.get $job) (i32.add (i32.load (local.get $e)) (i32.const 1)) (local.get $t)))))
        (call $dk_vertical
          (i32.load offset=20 (i32.add (local.get $job) (i32.shl (local.get $t) (i32.const 2))))
          (i32.load offset=20 (i32.add (local.get $job) (i32.shl (local.get $b) (i32.const 2))))
          (i32.add (i32.load offset=52 (local.get $job)) (i32.shl (i32.mul (local.get $y) (local.get $n)) (i32.const 2)))
          (local.get $n) (i32.load offset=40 (local.get $job))
          (f32.load offset=4 (local.get $e)) (f32.load offset=8 (local.get $e))
          (local.get $single) (i32.load offset=56 (local.get $job)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $row)))
  )
)
