pragma circom 2.0.0;
// No public inputs and no outputs: nPublic = 0. Proves knowledge of a, b with a*b = 6, a != 1.
template NoPublic() {
    signal input a;
    signal input b;
    signal inv;
    a * b === 6;
    inv <-- 1 / (a - 1);
    inv * (a - 1) === 1;
}
component main = NoPublic();
