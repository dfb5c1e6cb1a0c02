// Short Weierstrass (a = 0) points in XYZZ coordinates: x = X/ZZ, y = Y/ZZZ, with
// ZZ^3 = ZZZ^2. XYZZ additions need no inversion and fewer products than Jacobian ones
// (EFD add-2008-s, madd-2008-s, dbl-2008-s-1). ZZ = 0 is the point at infinity; an affine
// base with x = y = 0 (not on the curve) stands for infinity.
// A template: POINT is replaced by the group (G1, G2) and FIELD by its coordinate field.
// The formulas multiply with FIELD_mul_ec / FIELD_sqr_ec / FIELD_mul_sum_ec (a b + c d,
// one reduction: Y3's two products), which source.rs maps per group:
// G1 inlines the Fq product into each formula (the call's argument and result moves were
// a tenth of a mixed addition's instructions); G2 calls the Fq2 product, whose three Fq
// products inlined into every G2 formula would make a PTX too large to compile quickly.

typedef struct { FIELD x; FIELD y; } POINT_affine;
typedef struct { FIELD x; FIELD y; FIELD zz; FIELD zzz; } POINT_xyzz;

DEVICE POINT_xyzz POINT_zero() {
    POINT_xyzz r;
    r.x = FIELD_zero(); r.y = FIELD_zero(); r.zz = FIELD_zero(); r.zzz = FIELD_zero();
    return r;
}

DEVICE bool POINT_is_zero(POINT_xyzz p) { return FIELD_is_zero(p.zz); }

DEVICE bool POINT_affine_is_zero(POINT_affine a) {
    return FIELD_is_zero(a.x) && FIELD_is_zero(a.y);
}

// Builds a new point rather than assigning to `a` (fq2.h: Mesa's rusticl).
DEVICE POINT_affine POINT_affine_neg(POINT_affine a) {
    POINT_affine r = a;
    if (!POINT_affine_is_zero(a)) r.y = FIELD_neg(a.y);
    return r;
}

// dbl-2008-s-1 with a = 0.
DEVICE_CALL POINT_xyzz POINT_dbl(POINT_xyzz p) {
    if (POINT_is_zero(p)) return p;
    FIELD u = FIELD_double(p.y);
    FIELD v = FIELD_sqr_ec(u);
    FIELD w = FIELD_mul_ec(u, v);
    FIELD s = FIELD_mul_ec(p.x, v);
    FIELD x2 = FIELD_sqr_ec(p.x);
    FIELD m = FIELD_add(FIELD_double(x2), x2);
    POINT_xyzz r;
    r.x = FIELD_sub(FIELD_sqr_ec(m), FIELD_double(s));
    r.y = FIELD_mul_sum_ec(m, FIELD_sub(s, r.x), w, FIELD_neg(p.y));
    r.zz = FIELD_mul_ec(v, p.zz);
    r.zzz = FIELD_mul_ec(w, p.zzz);
    return r;
}

// madd-2008-s: p + q with q affine.
DEVICE_CALL POINT_xyzz POINT_add_affine(POINT_xyzz p, POINT_affine q) {
    if (POINT_affine_is_zero(q)) return p;
    if (POINT_is_zero(p)) {
        POINT_xyzz r;
        r.x = q.x; r.y = q.y; r.zz = FIELD_ONE(); r.zzz = FIELD_ONE();
        return r;
    }
    FIELD pp_ = FIELD_sub(FIELD_mul_ec(q.x, p.zz), p.x);
    FIELD rr = FIELD_sub(FIELD_mul_ec(q.y, p.zzz), p.y);
    if (FIELD_is_zero(pp_)) {
        return FIELD_is_zero(rr) ? POINT_dbl(p) : POINT_zero();
    }
    FIELD pp = FIELD_sqr_ec(pp_);
    FIELD ppp = FIELD_mul_ec(pp_, pp);
    FIELD qq = FIELD_mul_ec(p.x, pp);
    POINT_xyzz r;
    r.x = FIELD_sub(FIELD_sub(FIELD_sqr_ec(rr), ppp), FIELD_double(qq));
    r.y = FIELD_mul_sum_ec(rr, FIELD_sub(qq, r.x), FIELD_neg(p.y), ppp);
    r.zz = FIELD_mul_ec(p.zz, pp);
    r.zzz = FIELD_mul_ec(p.zzz, ppp);
    return r;
}

// add-2008-s: p + q, both XYZZ.
DEVICE_CALL POINT_xyzz POINT_add(POINT_xyzz p, POINT_xyzz q) {
    if (POINT_is_zero(p)) return q;
    if (POINT_is_zero(q)) return p;
    FIELD u1 = FIELD_mul_ec(p.x, q.zz);
    FIELD s1 = FIELD_mul_ec(p.y, q.zzz);
    FIELD pp_ = FIELD_sub(FIELD_mul_ec(q.x, p.zz), u1);
    FIELD rr = FIELD_sub(FIELD_mul_ec(q.y, p.zzz), s1);
    if (FIELD_is_zero(pp_)) {
        return FIELD_is_zero(rr) ? POINT_dbl(p) : POINT_zero();
    }
    FIELD pp = FIELD_sqr_ec(pp_);
    FIELD ppp = FIELD_mul_ec(pp_, pp);
    FIELD qq = FIELD_mul_ec(u1, pp);
    POINT_xyzz r;
    r.x = FIELD_sub(FIELD_sub(FIELD_sqr_ec(rr), ppp), FIELD_double(qq));
    r.y = FIELD_mul_sum_ec(rr, FIELD_sub(qq, r.x), FIELD_neg(s1), ppp);
    r.zz = FIELD_mul_ec(FIELD_mul_ec(p.zz, q.zz), pp);
    r.zzz = FIELD_mul_ec(FIELD_mul_ec(p.zzz, q.zzz), ppp);
    return r;
}

// k * p for a small k (double and add, most significant bit first).
DEVICE POINT_xyzz POINT_mul_small(POINT_xyzz p, u32 k) {
    POINT_xyzz r = POINT_zero();
    for (int i = 31; i >= 0; i--) {
        r = POINT_dbl(r);
        if ((k >> i) & 1) r = POINT_add(r, p);
    }
    return r;
}
