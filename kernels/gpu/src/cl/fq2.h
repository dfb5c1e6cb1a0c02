// Fq2 = Fq[u] / (u^2 + 1), BN254's G2 coordinate field. The same interface as the prime fields so
// that the curve template instantiates for G2 unchanged.

typedef struct { Fq c0; Fq c1; } Fq2;

DEVICE Fq2 Fq2_zero() { Fq2 r; r.c0 = Fq_zero(); r.c1 = Fq_zero(); return r; }
DEVICE Fq2 Fq2_ONE() { Fq2 r; r.c0 = Fq_ONE(); r.c1 = Fq_zero(); return r; }
DEVICE bool Fq2_is_zero(Fq2 a) { return Fq_is_zero(a.c0) && Fq_is_zero(a.c1); }
DEVICE bool Fq2_eq(Fq2 a, Fq2 b) { return Fq_eq(a.c0, b.c0) && Fq_eq(a.c1, b.c1); }
// No function of the kernels assigns to a struct parameter: Mesa's rusticl (22.3, on llvmpipe)
// passes a struct argument by reference without the copy C requires, so a callee that
// assigned to one changed its caller's variable (Fq2_sub after Fq2_add then returned x).
DEVICE Fq2 Fq2_add(Fq2 a, Fq2 b) { Fq2 r; r.c0 = Fq_add(a.c0, b.c0); r.c1 = Fq_add(a.c1, b.c1); return r; }
DEVICE Fq2 Fq2_sub(Fq2 a, Fq2 b) { Fq2 r; r.c0 = Fq_sub(a.c0, b.c0); r.c1 = Fq_sub(a.c1, b.c1); return r; }
DEVICE Fq2 Fq2_double(Fq2 a) { return Fq2_add(a, a); }
DEVICE Fq2 Fq2_neg(Fq2 a) { Fq2 r; r.c0 = Fq_neg(a.c0); r.c1 = Fq_neg(a.c1); return r; }

// Karatsuba: three Fq products, inlined here (Fq2_mul itself is called from the G2
// formulas): three calls fewer per Fq2 product, and ptxas gave G2_sum_chunks 200 registers
// instead of 232 and G2_reduce_buckets 40% fewer spilled bytes.
DEVICE_CALL Fq2 Fq2_mul(Fq2 a, Fq2 b) {
    Fq aa = Fq_mul_inline(a.c0, b.c0);
    Fq bb = Fq_mul_inline(a.c1, b.c1);
    Fq s = Fq_mul_inline(Fq_add(a.c0, a.c1), Fq_add(b.c0, b.c1));
    Fq2 r;
    r.c0 = Fq_sub(aa, bb);
    r.c1 = Fq_sub(Fq_sub(s, aa), bb);
    return r;
}

// (a0 + a1 u)^2 = (a0 + a1)(a0 - a1) + 2 a0 a1 u: two Fq products.
DEVICE_CALL Fq2 Fq2_sqr(Fq2 a) {
    Fq p = Fq_mul_inline(a.c0, a.c1);
    Fq2 r;
    r.c0 = Fq_mul_inline(Fq_add(a.c0, a.c1), Fq_sub(a.c0, a.c1));
    r.c1 = Fq_double(p);
    return r;
}

// a b + c d: the point formulas' one-reduction sum (field.h) has no Fq2 form; G2 adds.
DEVICE Fq2 Fq2_mul_sum(Fq2 a, Fq2 b, Fq2 c, Fq2 d) { return Fq2_add(Fq2_mul(a, b), Fq2_mul(c, d)); }

// (a0 + a1 u)^-1 = (a0 - a1 u) / (a0^2 + a1^2).
DEVICE Fq2 Fq2_inverse(Fq2 a) {
    Fq t = Fq_inverse(Fq_add(Fq_sqr(a.c0), Fq_sqr(a.c1)));
    Fq2 r;
    r.c0 = Fq_mul(a.c0, t);
    r.c1 = Fq_neg(Fq_mul(a.c1, t));
    return r;
}

// Unit-test kernel, as the prime fields' selftest kernels.
KERNEL void Fq2_selftest(GLOBAL const Fq2 *a, GLOBAL const Fq2 *b, GLOBAL Fq2 *out, u32 count) {
    u32 i = GLOBAL_ID();
    if (i >= count) return;
    Fq2 x = a[i], y = b[i];
    out[5 * i] = Fq2_mul(x, y);
    out[5 * i + 1] = Fq2_add(x, y);
    out[5 * i + 2] = Fq2_sub(x, y);
    out[5 * i + 3] = Fq2_sqr(x);
    out[5 * i + 4] = Fq2_mul_sum(x, y, Fq2_sub(x, y), Fq2_add(x, y));
}
