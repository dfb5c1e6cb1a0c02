//! The zkey's A and B matrices in compressed-row form. The zkey lists coefficients in any
//! order; grouped by row once when a key is loaded, `M·w` runs in parallel over rows and
//! sums each row in a register instead of scattering additions into the output.

use ark_bn254::Fr;
use ark_ff::Zero;
use rayon::prelude::*;

use crate::zkey::Coef;
use crate::{Groth16Error, Result};

/// Rows each parallel task evaluates: enough to amortise the task, small enough to spread
/// uneven rows over the threads.
const ROWS_PER_TASK: usize = 4096;

/// A sparse matrix with `rows` rows over `n_vars` signals.
pub(crate) struct SparseRows {
    /// Row r's entries are `signals[starts[r]..starts[r + 1]]` (and the same in `values`).
    starts: Vec<u32>,
    signals: Vec<u32>,
    values: Vec<Fr>,
    n_vars: usize,
}

impl SparseRows {
    /// Groups `coefs` by row (a stable counting sort: a row keeps its coefficients' order).
    /// A coefficient outside `rows` x `n_vars` is an error, not a later panic.
    pub(crate) fn new(coefs: &[Coef], rows: usize, n_vars: usize) -> Result<Self> {
        if u32::try_from(coefs.len()).is_err() {
            return Err(Groth16Error::BadCoefficient {
                index: coefs.len(),
                what: "more coefficients than a zkey can hold (2^32)".into(),
            });
        }
        let mut starts = vec![0u32; rows + 1];
        for (index, c) in coefs.iter().enumerate() {
            let bad = |what: String| Groth16Error::BadCoefficient { index, what };
            if c.constraint as usize >= rows {
                return Err(bad(format!(
                    "constraint {} outside the domain of {rows}",
                    c.constraint
                )));
            }
            if c.signal as usize >= n_vars {
                return Err(bad(format!(
                    "signal {} outside the {n_vars} signals",
                    c.signal
                )));
            }
            starts[c.constraint as usize + 1] += 1;
        }
        for r in 0..rows {
            starts[r + 1] += starts[r];
        }
        let mut next = starts.clone();
        let mut signals = vec![0u32; coefs.len()];
        let mut values = vec![Fr::zero(); coefs.len()];
        for c in coefs {
            let slot = &mut next[c.constraint as usize];
            signals[*slot as usize] = c.signal;
            values[*slot as usize] = c.value;
            *slot += 1;
        }
        Ok(Self {
            starts,
            signals,
            values,
            n_vars,
        })
    }

    /// Row `r` of `M·w`; `witness` holds the `n_vars` signals (checked by the callers).
    fn row(&self, r: usize, witness: &[Fr]) -> Fr {
        let (s, e) = (self.starts[r] as usize, self.starts[r + 1] as usize);
        let mut acc = Fr::zero();
        for (&signal, value) in self.signals[s..e].iter().zip(&self.values[s..e]) {
            // Checked below n_vars = witness.len() when the rows were built.
            acc += *value * witness[signal as usize];
        }
        acc
    }

    fn rows(&self) -> usize {
        self.starts.len() - 1
    }
}

/// `A·w` and `B·w` in one parallel pass over the rows. The two matrices must have been
/// built for the same rows and signals; `witness` must hold those signals.
pub(crate) fn evaluate_pair(
    a: &SparseRows,
    b: &SparseRows,
    witness: &[Fr],
) -> Result<(Vec<Fr>, Vec<Fr>)> {
    for m in [a, b] {
        if witness.len() != m.n_vars {
            return Err(Groth16Error::WitnessLength {
                expected: m.n_vars,
                got: witness.len(),
            });
        }
    }
    let rows = a.rows();
    if b.rows() != rows {
        return Err(Groth16Error::InvalidHeader {
            file: "zkey",
            what: format!("A has {rows} rows and B {}", b.rows()),
        });
    }
    // Zeroed in parallel: the first touch of 2 x 32 bytes x rows is a measurable part.
    let zeros = || -> Vec<Fr> { rayon::iter::repeat_n(Fr::zero(), rows).collect() };
    let mut pair = (zeros(), zeros());
    pair.0
        .par_chunks_mut(ROWS_PER_TASK)
        .zip(pair.1.par_chunks_mut(ROWS_PER_TASK))
        .enumerate()
        .for_each(|(task, (out_a, out_b))| {
            let first = task * ROWS_PER_TASK;
            for (i, (x, y)) in out_a.iter_mut().zip(out_b).enumerate() {
                *x = a.row(first + i, witness);
                *y = b.row(first + i, witness);
            }
        });
    Ok(pair)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::UniformRand;
    use rand::{Rng, SeedableRng};

    /// The zkey semantics, coefficient by coefficient in file order.
    fn scattered(coefs: &[Coef], witness: &[Fr], rows: usize) -> Vec<Fr> {
        let mut out = vec![Fr::zero(); rows];
        for c in coefs {
            out[c.constraint as usize] += c.value * witness[c.signal as usize];
        }
        out
    }

    #[test]
    fn rows_give_the_scattered_sum_for_any_coefficient_order() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        // Empty rows, a row of many entries, repeated (row, signal) pairs, rows spanning
        // task boundaries, and an empty matrix.
        for (rows, n_vars, count) in [
            (1, 1, 0),
            (1, 3, 5),
            (8, 4, 40),
            (3 * ROWS_PER_TASK + 5, 50, 20_000),
        ] {
            let coefs: Vec<Coef> = (0..count)
                .map(|k| Coef {
                    constraint: if k % 7 == 0 {
                        0
                    } else {
                        rng.gen_range(0..rows as u32)
                    },
                    signal: rng.gen_range(0..n_vars as u32),
                    value: if k % 5 == 0 {
                        -Fr::from(1u64)
                    } else {
                        Fr::rand(&mut rng)
                    },
                })
                .collect();
            let witness: Vec<Fr> = (0..n_vars).map(|_| Fr::rand(&mut rng)).collect();
            // B: the same coefficients in reverse order.
            let reversed: Vec<Coef> = coefs.iter().rev().cloned().collect();
            let a = SparseRows::new(&coefs, rows, n_vars).expect("valid");
            let b = SparseRows::new(&reversed, rows, n_vars).expect("valid");
            let (aw, bw) = evaluate_pair(&a, &b, &witness).expect("evaluates");
            assert_eq!(aw, scattered(&coefs, &witness, rows));
            assert_eq!(bw, aw);
        }
    }

    #[test]
    fn out_of_range_coefficients_and_short_witnesses_are_errors() {
        let c = |constraint, signal| Coef {
            constraint,
            signal,
            value: Fr::from(3u64),
        };
        let err = SparseRows::new(&[c(0, 0), c(4, 0)], 4, 2)
            .err()
            .expect("row 4 of 4");
        assert!(
            err.to_string().contains("#1") && err.to_string().contains("constraint 4"),
            "{err}"
        );
        let err = SparseRows::new(&[c(0, 2)], 4, 2)
            .err()
            .expect("signal 2 of 2");
        assert!(err.to_string().contains("signal 2"), "{err}");
        let m = SparseRows::new(&[c(3, 1)], 4, 2).expect("valid");
        assert!(matches!(
            evaluate_pair(&m, &m, &[Fr::from(1u64)]),
            Err(Groth16Error::WitnessLength {
                expected: 2,
                got: 1
            })
        ));
        let other = SparseRows::new(&[c(3, 1)], 8, 2).expect("valid");
        let err = evaluate_pair(&m, &other, &[Fr::from(1u64); 2]).expect_err("4 and 8 rows");
        assert!(err.to_string().contains("4 rows and B 8"), "{err}");
    }
}
