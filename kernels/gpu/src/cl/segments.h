// The segment layout of the bucket sums, built on the device so that no per-bucket vector
// crosses to the host (at 2^20 points that round trip and the host loop cost ~6 ms of a
// 23 ms MSM on an H200): exclusive prefix sums of u32 vectors, and the cutting of every
// owner's run of inputs into segments of at most seg_len inputs, as msm.h's sum kernels
// read them (inputs start[s] .. stop[s], destination dest[s]).

// Work-group g scans the SCAN_ITEMS * GROUP words of `in` from g SCAN_ITEMS GROUP on into
// `out` (which may be `in`: each word is read and written by one thread) and writes their
// total to sums[g]. Threads past n load zeros: every thread must reach the barriers.
KERNEL void scan_blocks(GLOBAL const u32 *in, GLOBAL u32 *out, GLOBAL u32 *sums, u32 n,
                        u32 count) {
    SHARED u32 sh[GROUP];
    u32 l = LOCAL_ID();
    u32 first = GLOBAL_ID() * SCAN_ITEMS;
    u32 v[SCAN_ITEMS];
    u32 total = 0;
    UNROLL for (u32 k = 0; k < SCAN_ITEMS; k++) {
        v[k] = first + k < n ? in[first + k] : 0;
        total += v[k];
    }
    // Inclusive scan of the thread totals (Hillis-Steele: log2 GROUP steps).
    sh[l] = total;
    for (u32 off = 1; off < GROUP; off <<= 1) {
        BARRIER();
        u32 add = l >= off ? sh[l - off] : 0;
        BARRIER();
        sh[l] += add;
    }
    u32 run = sh[l] - total;
    UNROLL for (u32 k = 0; k < SCAN_ITEMS; k++) {
        if (first + k < n) out[first + k] = run;
        run += v[k];
    }
    if (l == GROUP - 1) sums[GLOBAL_ID() / GROUP] = run;
}

// Adds to every word its block's offset: the exclusive prefix sums of the block totals.
KERNEL void scan_add(GLOBAL u32 *data, GLOBAL const u32 *sums, u32 count) {
    u32 i = GLOBAL_ID();
    if (i >= count) return;
    data[i] += sums[i / (GROUP * SCAN_ITEMS)];
}

// Segments of a run of k inputs.
DEVICE u32 segments_of(u32 k, u32 seg_len) {
    return k / seg_len + (k % seg_len != 0 ? 1u : 0u);
}

// Owner o has k[o] inputs ending at ends[o]. Counts owner o's segments, and its partial
// sums for the next round when it needs more than one segment.
KERNEL void layout_count(GLOBAL const u32 *k, GLOBAL u32 *segs, GLOBAL u32 *parts,
                         u32 seg_len, u32 count) {
    u32 o = GLOBAL_ID();
    if (o >= count) return;
    u32 s = segments_of(k[o], seg_len);
    segs[o] = s;
    parts[o] = s > 1 ? s : 0;
}

// One thread per segment, seg_off and part_off being the exclusive prefix sums of
// layout_count's segs and parts. Segment s belongs to the last owner whose first segment
// is at or before s (a binary search: a bucket holding most of the points is cut into
// thousands of segments, which one thread per owner would write alone). It sums inputs
// start[s] .. stop[s] into the owner itself when the run fits one segment, else into the
// owner's next partial sum (bit 31 set: see the store_sum of msm.h).
KERNEL void layout_segments(GLOBAL const u32 *k, GLOBAL const u32 *ends,
                            GLOBAL const u32 *seg_off, GLOBAL const u32 *part_off, u32 owners,
                            GLOBAL u32 *start, GLOBAL u32 *stop, GLOBAL u32 *dest, u32 seg_len,
                            u32 count) {
    u32 s = GLOBAL_ID();
    if (s >= count) return;
    u32 lo = 0;
    u32 hi = owners;
    while (hi - lo > 1) {
        u32 mid = lo + (hi - lo) / 2;
        if (seg_off[mid] <= s) lo = mid;
        else hi = mid;
    }
    u32 j = s - seg_off[lo];
    u32 n = k[lo];
    u32 end = ends[lo];
    u32 first = end - n + j * seg_len;
    start[s] = first;
    stop[s] = end - first > seg_len ? first + seg_len : end;
    dest[s] = segments_of(n, seg_len) == 1 ? lo : (0x80000000u | (part_off[lo] + j));
}

// The next round's runs: owner o's partial sums, laid out from part_off[o] on.
KERNEL void layout_next(GLOBAL u32 *k, GLOBAL u32 *ends, GLOBAL const u32 *part_off,
                        u32 seg_len, u32 count) {
    u32 o = GLOBAL_ID();
    if (o >= count) return;
    u32 s = segments_of(k[o], seg_len);
    u32 p = s > 1 ? s : 0;
    k[o] = p;
    ends[o] = part_off[o] + p;
}

// dst[i] = src[i]: a device-side copy (sorted scalars keep their bucket runs for the next
// MSM while the bucket sums rewrite a copy).
KERNEL void copy_words(GLOBAL const u32 *src, GLOBAL u32 *dst, u32 count) {
    u32 i = GLOBAL_ID();
    if (i >= count) return;
    dst[i] = src[i];
}
