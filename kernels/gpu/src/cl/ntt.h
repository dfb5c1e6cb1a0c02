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

// a[i] *= c * g^i (consts = {c, g}): coset shifts and the inverse's 1/n, fused.
KERNEL void Fr_scale(GLOBAL Fr *a, GLOBAL const Fr *consts, u32 count) {
    u32 i = GLOBAL_ID();
    if (i >= count) return;
    a[i] = Fr_mul(a[i], Fr_mul(consts[0], Fr_pow(consts[1], i)));
}
