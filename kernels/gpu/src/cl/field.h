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

// Montgomery product a * b / 2^(32 LIMBS) mod p (CIOS), inlined where it is called;
// FIELD_mul below is the called (not inlined) form most code uses.
DEVICE FIELD FIELD_mul_inline(FIELD a, FIELD b) {
#if defined(MUL_CHAINS) && defined(__CUDACC__)
    // The carry-chain product (CUDA only, APPLIANCE_GPU_FIELD_PRODUCT=chains): CIOS with
    // the running sum kept as T = s + E + e8 2^256 + 2^32 (O + o8 2^256), the products of
    // even limbs added into E and those of odd limbs into O. Each 64-bit product then lands
    // on a word pair that is also a register pair, so a row of four products is four
    // IMAD.WIDE.U32 with carries (common.h). Dividing by 2^32 swaps the roles: O is the
    // new E, E's words from 2 up the new O, and E's word 1 the new s. Every partial sum
    // stays below 2^287 (a, b < p < 2^254), so no carry is lost, and T < 2p at the end.
    const FIELD p = FIELD_P();
    u32 e[LIMBS], o[LIMBS], e8 = 0, o8 = 0, s = 0;
    UNROLL for (int k = 0; k < LIMBS; k++) { e[k] = 0; o[k] = 0; }
    UNROLL for (int i = 0; i < LIMBS; i++) {
        CHAIN_ROW_AFTER_ADD(e[0], s, o, o8, a.v[1], a.v[3], a.v[5], a.v[7], b.v[i]);
        CHAIN_ROW(e, e8, a.v[0], a.v[2], a.v[4], a.v[6], b.v[i]);
        u32 m = e[0] * FIELD_INV;
        CHAIN_ROW(e, e8, p.v[0], p.v[2], p.v[4], p.v[6], m);
        CHAIN_ROW(o, o8, p.v[1], p.v[3], p.v[5], p.v[7], m);
        // e[0] is now 0: divide by 2^32.
        s = e[1];
        u32 shifted[LIMBS];
        UNROLL for (int k = 0; k < LIMBS - 2; k++) shifted[k] = e[k + 2];
        shifted[LIMBS - 2] = e8;
        shifted[LIMBS - 1] = 0;
        UNROLL for (int k = 0; k < LIMBS; k++) { e[k] = o[k]; o[k] = shifted[k]; }
        e8 = o8;
        o8 = 0;
    }
    // T < 2p < 2^255 leaves e8, o[7] and o8 zero.
    FIELD r, q;
    CHAIN_MERGE(r.v, e, o, s);
    return FIELD_sub_raw(&q, r, p) ? r : q;
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

DEVICE FIELD FIELD_sqr(FIELD a) { return FIELD_mul(a, a); }

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

// Unit-test kernel: out[4i..4i+4] = a*b, a+b, a-b, a^2 for the host to compare with arkworks.
KERNEL void FIELD_selftest(GLOBAL const FIELD *a, GLOBAL const FIELD *b, GLOBAL FIELD *out, u32 count) {
    u32 i = GLOBAL_ID();
    if (i >= count) return;
    FIELD x = a[i], y = b[i];
    out[4 * i] = FIELD_mul(x, y);
    out[4 * i + 1] = FIELD_add_called(x, y);
    out[4 * i + 2] = FIELD_sub_called(x, y);
    out[4 * i + 3] = FIELD_sqr(x);
}
