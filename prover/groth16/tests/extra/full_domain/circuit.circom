pragma circom 2.0.0;
// A chain of 62 squarings with one public output: constraints + public + 1 = 64.
template Chain(N) {
    signal input x;
    signal output y;
    signal s[N+1];
    s[0] <== x;
    for (var i = 0; i < N; i++) {
        s[i+1] <== s[i] * s[i] + i;
    }
    y <== s[N];
}
component main = Chain(62);
