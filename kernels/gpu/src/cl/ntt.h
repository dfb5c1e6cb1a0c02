// Radix-2 NTT over Fr, in place, natural order in and out: a bit-reversal permutation,
// then log2(n) butterfly rounds (decimation in time) with a twiddle table resident on the
// device, then the inverse/coset scaling. Data stays on the device between calls.

DEVICE u32 bit_reverse(u32 x, u32 log_n) {
    u32 r = 0;
    for (u32 i = 0; i < log_n; i++) {
        r = (r << 1) | (x & 1);
        x >>= 1;
    }
    return r;
}

KERNEL void Fr_bit_reverse(GLOBAL Fr *a, u32 log_n, u32 count) {
    u32 i = GLOBAL_ID();
    if (i >= count) return;
    u32 j = bit_reverse(i, log_n);
    if (i < j) {
        Fr t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

// One round with half-block m: thread t handles the pair (i, i + m) of its 2m block with
// twiddle omega^(j n / 2m), twiddles[k] = omega^k for k < n/2.
KERNEL void Fr_butterfly(GLOBAL Fr *a, GLOBAL const Fr *twiddles, u32 m, u32 stride, u32 count) {
    u32 t = GLOBAL_ID();
    if (t >= count) return;
    u32 j = t % m;
    u32 i = (t / m) * 2 * m + j;
    Fr u = a[i];
    Fr v = Fr_mul(a[i + m], twiddles[j * stride]);
    a[i] = Fr_add(u, v);
    a[i + m] = Fr_sub(u, v);
}

// The first log2(2 GROUP) rounds in local (shared) memory: each work-group loads a block
// of 2 GROUP consecutive elements (after the bit reversal every butterfly of these rounds
// stays inside such a block), runs all those rounds with a barrier between them, and
// writes the block back: one pass over global memory instead of log2(2 GROUP). The host
// launches it only when n >= 2 GROUP, with n / 2 threads in groups of GROUP.
KERNEL void Fr_butterfly_local(GLOBAL Fr *a, GLOBAL const Fr *twiddles, u32 log_n, u32 count) {
    SHARED Fr s[2 * GROUP];
    u32 l = LOCAL_ID();
    u32 base = (GLOBAL_ID() - l) * 2;
    s[l] = a[base + l];
    s[l + GROUP] = a[base + l + GROUP];
    BARRIER();
    for (u32 m = 1; m <= GROUP; m <<= 1) {
        u32 j = l & (m - 1);
        u32 i = ((l - j) << 1) + j;
        Fr u = s[i];
        Fr v = Fr_mul(s[i + m], twiddles[j * ((1u << (log_n - 1)) / m)]);
        s[i] = Fr_add(u, v);
        s[i + m] = Fr_sub(u, v);
        BARRIER();
    }
    if (base + l < 2 * count) {
        a[base + l] = s[l];
        a[base + l + GROUP] = s[l + GROUP];
    }
}

// a[i] *= c * g^i: coset shifts and the inverse's 1/n, fused. The host passes
// lo[j] = g^j (j < 2^k) and hi[j] = c * g^(j 2^k), so c * g^i = lo[i mod 2^k] * hi[i >> k]:
// two products per element instead of a square-and-multiply power in every thread.
KERNEL void Fr_scale(GLOBAL Fr *a, GLOBAL const Fr *lo, GLOBAL const Fr *hi, u32 k, u32 count) {
    u32 i = GLOBAL_ID();
    if (i >= count) return;
    a[i] = Fr_mul(a[i], Fr_mul(lo[i & ((1u << k) - 1)], hi[i >> k]));
}
