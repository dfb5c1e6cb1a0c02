// Montgomery arithmetic over one prime field with LIMBS 32-bit limbs, little endian.
// A template: the host replaces FIELD by the field's name (Fq, Fr). Every operation
// returns a fully reduced value in [0, p), so results equal the CPU backend's bit for bit.
// 32-bit limbs with 64-bit products are portable OpenCL and compile to mad.wide on NVIDIA.
// On CUDA the 256-bit sums and differences are PTX carry chains (common.h), one instruction
// per word; PoCL runs the portable forms, gpu-compile-check interprets the PTX ones.

// 16-byte alignment lets a thread move an element with two 128-bit loads instead of eight
// 32-bit ones (buffers are allocated with far larger alignment).
typedef struct ALIGN16 { u32 v[LIMBS]; } FIELD;

// The modulus and R = 2^(32 LIMBS) mod p (one in Montgomery form), generated from the
// arkworks types by the host as FIELD_P_LIMBS / FIELD_ONE_LIMBS / FIELD_INV.
DEVICE FIELD FIELD_P() { FIELD r = {FIELD_P_LIMBS}; return r; }
DEVICE FIELD FIELD_ONE() { FIELD r = {FIELD_ONE_LIMBS}; return r; }

DEVICE FIELD FIELD_zero() {
    FIELD r;
    UNROLL for (int i = 0; i < LIMBS; i++) r.v[i] = 0;
    return r;
}

DEVICE bool FIELD_is_zero(FIELD a) {
    u32 x = 0;
    UNROLL for (int i = 0; i < LIMBS; i++) x |= a.v[i];
    return x == 0;
}

DEVICE bool FIELD_eq(FIELD a, FIELD b) {
    u32 x = 0;
    UNROLL for (int i = 0; i < LIMBS; i++) x |= a.v[i] ^ b.v[i];
    return x == 0;
}

// r = a + b over 2^(32 LIMBS); returns the carry out.
DEVICE u32 FIELD_add_raw(FIELD *r, FIELD a, FIELD b) {
#if defined(__CUDACC__) && LIMBS == 8
    u32 c;
    CHAIN_ADD8(r->v, a.v, b.v, c);
    return c;
#else
    u64 c = 0;
    UNROLL for (int i = 0; i < LIMBS; i++) {
        c += (u64)a.v[i] + b.v[i];
        r->v[i] = (u32)c;
        c >>= 32;
    }
    return (u32)c;
#endif
}

// r = a - b over 2^(32 LIMBS); returns the borrow out (non-zero when a < b).
DEVICE u32 FIELD_sub_raw(FIELD *r, FIELD a, FIELD b) {
#if defined(__CUDACC__) && LIMBS == 8
    u32 borrow;
    CHAIN_SUB8(r->v, a.v, b.v, borrow);
    return borrow;
#else
    // a + ~b + 1: an addition's carry chain, which compilers turn into add-with-carry
    // instructions; the borrow-propagating form (sign of a 64-bit difference) took four
    // instructions per word in NVIDIA's code.
    u64 c = 1;
    UNROLL for (int i = 0; i < LIMBS; i++) {
        c += (u64)a.v[i] + (u32)~b.v[i];
        r->v[i] = (u32)c;
        c >>= 32;
    }
    return 1 - (u32)c;
#endif
}

// The modulus is below 2^(32 LIMBS - 1), so a + b never carries out.
DEVICE FIELD FIELD_add(FIELD a, FIELD b) {
    FIELD r, s;
    FIELD_add_raw(&r, a, b);
    return FIELD_sub_raw(&s, r, FIELD_P()) ? r : s;
}

DEVICE FIELD FIELD_sub(FIELD a, FIELD b) {
    FIELD r, s;
    u32 borrow = FIELD_sub_raw(&r, a, b);
    FIELD_add_raw(&s, r, FIELD_P());
    return borrow ? s : r;
}

DEVICE FIELD FIELD_double(FIELD a) { return FIELD_add(a, a); }

DEVICE FIELD FIELD_neg(FIELD a) { return FIELD_sub(FIELD_zero(), a); }

#if defined(MUL_CHAINS) && defined(__CUDACC__)
// The running sum of the carry-chain products (below) divided by 2^32 once its word 0 is
// zero: O is the new E, E's words from 2 up the new O, and E's word 1 the new s.
DEVICE void FIELD_chains_shift(u32 *e, u32 *o, u32 *e8, u32 *o8, u32 *s) {
    *s = e[1];
    u32 shifted[LIMBS];
    UNROLL for (int k = 0; k < LIMBS - 2; k++) shifted[k] = e[k + 2];
    shifted[LIMBS - 2] = *e8;
    shifted[LIMBS - 1] = 0;
    UNROLL for (int k = 0; k < LIMBS; k++) { e[k] = o[k]; o[k] = shifted[k]; }
    *e8 = *o8;
    *o8 = 0;
}

// The reduction half of one carry-chain CIOS step, once the step's products are in:
// m from word 0, its rows of p, then the division by 2^32.
DEVICE void FIELD_chains_reduce_step(u32 *e, u32 *o, u32 *e8, u32 *o8, u32 *s) {
    const FIELD p = FIELD_P();
    u32 m = e[0] * FIELD_INV;
    CHAIN_ROW(e, *e8, p.v[0], p.v[2], p.v[4], p.v[6], m);
    CHAIN_ROW(o, *o8, p.v[1], p.v[3], p.v[5], p.v[7], m);
    FIELD_chains_shift(e, o, e8, o8, s);
}

// The final T = s + E + 2^32 O (< 2p < 2^255, which leaves e8, o[7] and o8 zero) reduced
// below p.
DEVICE FIELD FIELD_chains_result(const u32 *e, const u32 *o, u32 s) {
    FIELD r, q;
    CHAIN_MERGE(r.v, e, o, s);
    return FIELD_sub_raw(&q, r, FIELD_P()) ? r : q;
}

// Montgomery reduction (lo + 2^256 hi) / 2^256 mod p of a value below p 2^256: the
// carry-chain product's loop without its a * b rows (m reads word 0 with s added, which
// the odd row then adds with its carry), then hi added to (lo + M p) / 2^256 <= p. For a
// square below p^2, hi < p / 4 and one subtraction of p is enough.
DEVICE FIELD FIELD_chains_reduce(const u32 *lo, FIELD hi) {
    const FIELD p = FIELD_P();
    u32 e[LIMBS], o[LIMBS], e8 = 0, o8 = 0, s = 0;
    UNROLL for (int k = 0; k < LIMBS; k++) { e[k] = lo[k]; o[k] = 0; }
    UNROLL for (int i = 0; i < LIMBS; i++) {
        u32 m = (e[0] + s) * FIELD_INV;
        CHAIN_ROW_AFTER_ADD(e[0], s, o, o8, p.v[1], p.v[3], p.v[5], p.v[7], m);
        CHAIN_ROW(e, e8, p.v[0], p.v[2], p.v[4], p.v[6], m);
        FIELD_chains_shift(e, o, &e8, &o8, &s);
    }
    FIELD r, q;
    CHAIN_MERGE(r.v, e, o, s);
    FIELD_add_raw(&r, r, hi);
    return FIELD_sub_raw(&q, r, p) ? r : q;
}
#endif

// Montgomery product a * b / 2^(32 LIMBS) mod p (CIOS), inlined where it is called;
// FIELD_mul below is the called (not inlined) form most code uses.
DEVICE FIELD FIELD_mul_inline(FIELD a, FIELD b) {
#if defined(MUL_CHAINS) && defined(__CUDACC__)
    // The carry-chain product (CUDA only, APPLIANCE_GPU_FIELD_PRODUCT=chains): CIOS with
    // the running sum kept as T = s + E + e8 2^256 + 2^32 (O + o8 2^256), the products of
    // even limbs added into E and those of odd limbs into O. Each 64-bit product then lands
    // on a word pair that is also a register pair, so a row of four products is four
    // IMAD.WIDE.U32 with carries (common.h). Dividing by 2^32 swaps the roles
    // (FIELD_chains_shift). Every partial sum stays below 2^287 (a, b < p < 2^254), so no
    // carry is lost, and T < 2p at the end.
    u32 e[LIMBS], o[LIMBS], e8 = 0, o8 = 0, s = 0;
    UNROLL for (int k = 0; k < LIMBS; k++) { e[k] = 0; o[k] = 0; }
    UNROLL for (int i = 0; i < LIMBS; i++) {
        CHAIN_ROW_AFTER_ADD(e[0], s, o, o8, a.v[1], a.v[3], a.v[5], a.v[7], b.v[i]);
        CHAIN_ROW(e, e8, a.v[0], a.v[2], a.v[4], a.v[6], b.v[i]);
        FIELD_chains_reduce_step(e, o, &e8, &o8, &s);
    }
    return FIELD_chains_result(e, o, s);
#elif defined(MUL_NOCARRY)
    // The "no-carry" CIOS (as in gnark-crypto): the product and the reduction share one
    // loop and no word above the top is kept. Valid because the modulus' top word is below
    // 2^31 - 1 (source.rs checks it for both fields). Picked with
    // APPLIANCE_GPU_FIELD_PRODUCT=nocarry for A/B runs on a card.
    const FIELD p = FIELD_P();
    u32 t[LIMBS];
    UNROLL for (int i = 0; i < LIMBS; i++) t[i] = 0;
    UNROLL for (int i = 0; i < LIMBS; i++) {
        u64 x = (u64)a.v[0] * b.v[i] + t[0];
        u32 carry_a = (u32)(x >> 32);
        u32 m = (u32)x * FIELD_INV;
        u64 y = (u64)m * p.v[0] + (u32)x;
        u32 carry_m = (u32)(y >> 32);
        UNROLL for (int j = 1; j < LIMBS; j++) {
            x = (u64)a.v[j] * b.v[i] + t[j] + carry_a;
            carry_a = (u32)(x >> 32);
            y = (u64)m * p.v[j] + (u32)x + carry_m;
            carry_m = (u32)(y >> 32);
            t[j - 1] = (u32)y;
        }
        t[LIMBS - 1] = carry_m + carry_a;
    }
    FIELD r, s;
    UNROLL for (int i = 0; i < LIMBS; i++) r.v[i] = t[i];
    return FIELD_sub_raw(&s, r, p) ? r : s;
#else
    const FIELD p = FIELD_P();
    u32 t[LIMBS + 2];
    UNROLL for (int i = 0; i < LIMBS + 2; i++) t[i] = 0;
    UNROLL for (int i = 0; i < LIMBS; i++) {
        u64 c = 0;
        UNROLL for (int j = 0; j < LIMBS; j++) {
            c = (u64)t[j] + (u64)a.v[j] * b.v[i] + (c >> 32);
            t[j] = (u32)c;
        }
        c = (u64)t[LIMBS] + (c >> 32);
        t[LIMBS] = (u32)c;
        t[LIMBS + 1] = (u32)(c >> 32);
        u32 m = t[0] * FIELD_INV;
        c = (u64)t[0] + (u64)m * p.v[0];
        UNROLL for (int j = 1; j < LIMBS; j++) {
            c = (u64)t[j] + (u64)m * p.v[j] + (c >> 32);
            t[j - 1] = (u32)c;
        }
        c = (u64)t[LIMBS] + (c >> 32);
        t[LIMBS - 1] = (u32)c;
        t[LIMBS] = t[LIMBS + 1] + (u32)(c >> 32);
    }
    FIELD r, s;
    UNROLL for (int i = 0; i < LIMBS; i++) r.v[i] = t[i];
    u32 borrow = FIELD_sub_raw(&s, r, p);
    return (t[LIMBS] != 0 || !borrow) ? s : r;
#endif
}

DEVICE_CALL FIELD FIELD_mul(FIELD a, FIELD b) { return FIELD_mul_inline(a, b); }

// a^2 / 2^(32 LIMBS) mod p. With carry chains, a dedicated square: the 28 products a_i a_j
// (i < j) once, doubled, plus the 8 squares a_i^2, then one Montgomery reduction: 36 + 64
// limb products where the product takes 128. Elsewhere the product itself.
DEVICE FIELD FIELD_sqr_inline(FIELD a) {
#if defined(MUL_CHAINS) && defined(__CUDACC__)
    // Off-diagonal products by word position: od holds those that land on odd word pairs
    // (2k + 1, 2k + 2), ev those on even ones, so that each row is a carry chain of
    // IMAD.WIDE. Rows run in the order that leaves each row's carry word holding at most
    // earlier carries.
    const u32 *x = a.v;
    u32 ev[2 * LIMBS], od[2 * LIMBS];
    UNROLL for (int k = 0; k < 2 * LIMBS; k++) { ev[k] = 0; od[k] = 0; }
    CHAIN_ROW(od + 1, od[9], x[1], x[3], x[5], x[7], x[0]);
    CHAIN_ROW3(ev + 2, ev[8], x[2], x[4], x[6], x[0]);
    CHAIN_ROW3(od + 3, od[9], x[2], x[4], x[6], x[1]);
    CHAIN_ROW3(ev + 4, ev[10], x[3], x[5], x[7], x[1]);
    CHAIN_ROW3(od + 5, od[11], x[3], x[5], x[7], x[2]);
    CHAIN_ROW2(ev + 6, ev[10], x[4], x[6], x[2]);
    CHAIN_ROW2(od + 7, od[11], x[4], x[6], x[3]);
    CHAIN_ROW2(ev + 8, ev[12], x[5], x[7], x[3]);
    CHAIN_ROW2(od + 9, od[13], x[5], x[7], x[4]);
    CHAIN_ROW1(ev + 10, ev[12], x[6], x[4]);
    CHAIN_ROW1(od + 11, od[13], x[6], x[5]);
    CHAIN_ROW1(ev + 12, ev[14], x[7], x[5]);
    CHAIN_ROW1(od + 13, od[15], x[7], x[6]);
    // t = 2 (ev + od) + the diagonal, below p^2 < 2^508: no carry leaves word 15.
    u32 sum[2 * LIMBS], t[2 * LIMBS], c, unused;
    CHAIN_ADD8(sum, ev, od, c);
    CHAIN_ADD8_CARRY_IN(sum + LIMBS, ev + LIMBS, od + LIMBS, c, unused);
    CHAIN_ADD8(t, sum, sum, c);
    CHAIN_ADD8_CARRY_IN(t + LIMBS, sum + LIMBS, sum + LIMBS, c, unused);
    CHAIN_DIAGONAL(t, x);
    FIELD hi;
    UNROLL for (int k = 0; k < LIMBS; k++) hi.v[k] = t[LIMBS + k];
    return FIELD_chains_reduce(t, hi);
#else
    return FIELD_mul_inline(a, a);
#endif
}

DEVICE_CALL FIELD FIELD_sqr(FIELD a) { return FIELD_sqr_inline(a); }

// (a b + c d) / 2^(32 LIMBS) mod p with one reduction instead of two: the CIOS loop adds
// both products' rows before each step's reduction row. The sum stays below 2 p^2 < p R
// (R = 2^(32 LIMBS) > 4p), so the result is below 2p before its one subtraction, and
// every partial sum below 3p R < 2^288, which the carry words hold. The point formulas
// use it for Y3 = R (Q - X3) - Y1 PPP with -Y1 (ec.h). The no-carry product's bound does
// not cover two products: it adds two products.
DEVICE FIELD FIELD_mul_sum_inline(FIELD a, FIELD b, FIELD c, FIELD d) {
#if defined(MUL_CHAINS) && defined(__CUDACC__)
    u32 e[LIMBS], o[LIMBS], e8 = 0, o8 = 0, s = 0;
    UNROLL for (int k = 0; k < LIMBS; k++) { e[k] = 0; o[k] = 0; }
    UNROLL for (int i = 0; i < LIMBS; i++) {
        CHAIN_ROW_AFTER_ADD(e[0], s, o, o8, a.v[1], a.v[3], a.v[5], a.v[7], b.v[i]);
        CHAIN_ROW(e, e8, a.v[0], a.v[2], a.v[4], a.v[6], b.v[i]);
        CHAIN_ROW(o, o8, c.v[1], c.v[3], c.v[5], c.v[7], d.v[i]);
        CHAIN_ROW(e, e8, c.v[0], c.v[2], c.v[4], c.v[6], d.v[i]);
        FIELD_chains_reduce_step(e, o, &e8, &o8, &s);
    }
    return FIELD_chains_result(e, o, s);
#elif defined(MUL_NOCARRY)
    return FIELD_add(FIELD_mul_inline(a, b), FIELD_mul_inline(c, d));
#else
    const FIELD p = FIELD_P();
    u32 t[LIMBS + 2];
    UNROLL for (int i = 0; i < LIMBS + 2; i++) t[i] = 0;
    UNROLL for (int i = 0; i < LIMBS; i++) {
        u64 x = 0, y = 0;
        UNROLL for (int j = 0; j < LIMBS; j++) {
            x = (u64)t[j] + (u64)a.v[j] * b.v[i] + (x >> 32);
            y = (u64)(u32)x + (u64)c.v[j] * d.v[i] + (y >> 32);
            t[j] = (u32)y;
        }
        u64 top = (u64)t[LIMBS] + (x >> 32) + (y >> 32);
        t[LIMBS] = (u32)top;
        t[LIMBS + 1] += (u32)(top >> 32);
        u32 m = t[0] * FIELD_INV;
        u64 z = (u64)t[0] + (u64)m * p.v[0];
        UNROLL for (int j = 1; j < LIMBS; j++) {
            z = (u64)t[j] + (u64)m * p.v[j] + (z >> 32);
            t[j - 1] = (u32)z;
        }
        z = (u64)t[LIMBS] + (z >> 32);
        t[LIMBS - 1] = (u32)z;
        t[LIMBS] = t[LIMBS + 1] + (u32)(z >> 32);
        t[LIMBS + 1] = 0;
    }
    FIELD r, q;
    UNROLL for (int i = 0; i < LIMBS; i++) r.v[i] = t[i];
    u32 borrow = FIELD_sub_raw(&q, r, p);
    return (t[LIMBS] != 0 || !borrow) ? q : r;
#endif
}

DEVICE_CALL FIELD FIELD_mul_sum(FIELD a, FIELD b, FIELD c, FIELD d) {
    return FIELD_mul_sum_inline(a, b, c, d);
}

// a^-1 = a^(p-2) (Fermat); 0 stays 0. Only used when bases are loaded, so its speed does
// not matter.
DEVICE FIELD FIELD_inverse(FIELD a) {
    FIELD e = {FIELD_PM2_LIMBS};
    FIELD r = FIELD_ONE();
    for (int i = 32 * LIMBS - 1; i >= 0; i--) {
        r = FIELD_sqr(r);
        if ((e.v[i / 32] >> (i % 32)) & 1) r = FIELD_mul(r, a);
    }
    return r;
}

// Called forms of the sum and difference, for the selftest kernel: they make `.func`s in
// the PTX, which gpu-compile-check interprets (with FIELD_mul) against arkworks.
DEVICE_CALL FIELD FIELD_add_called(FIELD a, FIELD b) { return FIELD_add(a, b); }
DEVICE_CALL FIELD FIELD_sub_called(FIELD a, FIELD b) { return FIELD_sub(a, b); }

// Unit-test kernel: out[5i..5i+5] = a*b, a+b, a-b, a^2, a*b + (a-b)(a+b) for the host to
// compare with arkworks.
KERNEL void FIELD_selftest(GLOBAL const FIELD *a, GLOBAL const FIELD *b, GLOBAL FIELD *out, u32 count) {
    u32 i = GLOBAL_ID();
    if (i >= count) return;
    FIELD x = a[i], y = b[i];
    out[5 * i] = FIELD_mul(x, y);
    out[5 * i + 1] = FIELD_add_called(x, y);
    out[5 * i + 2] = FIELD_sub_called(x, y);
    out[5 * i + 3] = FIELD_sqr(x);
    out[5 * i + 4] = FIELD_mul_sum(x, y, FIELD_sub(x, y), FIELD_add(x, y));
}
