//! A small interpreter for the integer PTX that NVRTC makes of a called (`.func`) field
//! product, so that CI executes the CUDA flavour of `Fq_mul` and `Fr_mul` without a GPU.
//! PoCL runs the OpenCL flavour of the same source; this covers what only CUDA compiles:
//! NVRTC's translation and the PTX inline assembly of the carry-chain product. It knows
//! the instructions those functions use and refuses any other, so a new one fails the
//! check loudly instead of being skipped.

use std::collections::HashMap;

#[derive(Clone, Debug)]
enum Operand {
    Reg(usize),
    Imm(u64),
    /// A parameter byte address: the parameter's index and an offset.
    Param(usize, usize),
}

#[derive(Clone, Debug)]
struct Inst {
    /// `@%p` (true) or `@!%p` (false) guard.
    guard: Option<(usize, bool)>,
    /// The opcode split at its dots: `madc.hi.cc.u32` -> ["madc", "hi", "cc", "u32"].
    op: Vec<String>,
    args: Vec<Operand>,
    /// The branch target of `bra`.
    target: Option<String>,
}

/// One `.func` of a PTX module, parsed for [`Func::call`].
pub struct Func {
    /// Parameter names in order: the return value first, then the arguments.
    params: Vec<String>,
    body: Vec<Inst>,
    labels: HashMap<String, usize>,
    registers: usize,
}

/// Finds the `.func` whose (possibly mangled) name contains `name` followed by `E` (the
/// end of an Itanium nested name) or `(`.
pub fn find(ptx: &str, name: &str) -> Result<Func, String> {
    let header = ptx
        .match_indices(".func")
        .map(|(at, _)| at)
        .find(|&at| {
            let line = ptx[at..].lines().next().unwrap_or("");
            line.contains(&format!("{name}E")) || line.contains(&format!(" {name}("))
        })
        .ok_or_else(|| format!("no .func {name} in the PTX"))?;
    let text = &ptx[header..];
    let open = text.find("\n{").ok_or("no body")?;
    let close = text.find("\n}").ok_or("no end of body")?;
    let mut params = Vec::new();
    for line in text[..open].lines() {
        if let Some(at) = line.find(".b8 ") {
            let name = line[at + 4..]
                .split('[')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            params.push(name);
        }
    }
    if params.is_empty() {
        return Err(format!("{name}: no parameters found"));
    }
    let mut regs: HashMap<String, usize> = HashMap::new();
    let mut body = Vec::new();
    let mut labels = HashMap::new();
    for raw in text[open + 2..close].lines() {
        let line = raw.split("//").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('.') || line == "{" || line == "}" {
            continue;
        }
        if let Some(label) = line.strip_suffix(':') {
            labels.insert(label.to_string(), body.len());
            continue;
        }
        body.push(parse_inst(line, &params, &mut regs)?);
    }
    Ok(Func {
        params,
        body,
        labels,
        registers: regs.len(),
    })
}

fn parse_inst(
    line: &str,
    params: &[String],
    regs: &mut HashMap<String, usize>,
) -> Result<Inst, String> {
    let line = line.trim_end_matches(';').trim();
    let (guard, rest) = match line.strip_prefix('@') {
        Some(g) => {
            let (p, rest) = g.split_once(char::is_whitespace).ok_or("bad guard")?;
            let (negated, p) = match p.strip_prefix('!') {
                Some(p) => (true, p),
                None => (false, p),
            };
            (Some((reg_index(p, regs), !negated)), rest.trim())
        }
        None => (None, line),
    };
    let (opcode, operands) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let op: Vec<String> = opcode.split('.').map(str::to_string).collect();
    if op[0] == "bra" {
        return Ok(Inst {
            guard,
            op,
            args: vec![],
            target: Some(operands.trim().to_string()),
        });
    }
    let mut args = Vec::new();
    for a in operands.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        args.push(parse_operand(a, params, regs).map_err(|e| format!("`{line}`: {e}"))?);
    }
    Ok(Inst {
        guard,
        op,
        args,
        target: None,
    })
}

fn reg_index(name: &str, regs: &mut HashMap<String, usize>) -> usize {
    let next = regs.len();
    *regs.entry(name.to_string()).or_insert(next)
}

fn parse_operand(
    a: &str,
    params: &[String],
    regs: &mut HashMap<String, usize>,
) -> Result<Operand, String> {
    if a.starts_with('%') {
        return Ok(Operand::Reg(reg_index(a, regs)));
    }
    if let Some(inner) = a.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        let (name, offset) = match inner.split_once('+') {
            Some((n, o)) => (n.trim(), o.trim().parse().map_err(|_| "bad offset")?),
            None => (inner.trim(), 0),
        };
        let index = params
            .iter()
            .position(|p| p == name)
            .ok_or_else(|| format!("unknown parameter {name}"))?;
        return Ok(Operand::Param(index, offset));
    }
    let (negative, digits) = match a.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, a),
    };
    let magnitude = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex.trim_end_matches('U'), 16),
        None => digits.trim_end_matches('U').parse::<u64>(),
    }
    .map_err(|_| format!("unsupported operand {a}"))?;
    Ok(Operand::Imm(if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    }))
}

/// Width in bits of a type suffix such as `u32`, `s64`, `b32`, `pred`.
fn width(ty: &str) -> Result<u32, String> {
    match &ty[1..] {
        "8" => Ok(8),
        "16" => Ok(16),
        "32" => Ok(32),
        "64" => Ok(64),
        "red" => Ok(1),
        _ => Err(format!("unsupported type .{ty}")),
    }
}

fn lo32(v: u64) -> u64 {
    v & 0xffff_ffff
}

fn mask(v: u64, bits: u32) -> u64 {
    if bits >= 64 {
        v
    } else {
        v & ((1u64 << bits) - 1)
    }
}

/// `v` (of `bits` bits) sign-extended to 64 bits.
fn signed(v: u64, bits: u32) -> i64 {
    if bits >= 64 {
        v as i64
    } else {
        let shift = 64 - bits;
        ((v << shift) as i64) >> shift
    }
}

impl Func {
    /// Runs the function on argument bytes (one slice per parameter after the return
    /// value) and returns the return value's `ret_len` bytes.
    pub fn call(&self, args: &[&[u8]], ret_len: usize) -> Result<Vec<u8>, String> {
        if args.len() + 1 != self.params.len() {
            return Err(format!(
                "{} arguments for {} parameters",
                args.len(),
                self.params.len() - 1
            ));
        }
        let mut memory: Vec<Vec<u8>> = vec![vec![0u8; ret_len]];
        memory.extend(args.iter().map(|a| a.to_vec()));
        let mut r = vec![0u64; self.registers];
        let mut carry = 0u64;
        let mut pc = 0;
        let mut steps = 0usize;
        while pc < self.body.len() {
            steps += 1;
            if steps > 1_000_000 {
                return Err("more than a million steps".into());
            }
            let inst = &self.body[pc];
            pc += 1;
            if let Some((p, when)) = inst.guard {
                if (r[p] != 0) != when {
                    continue;
                }
            }
            let get = |o: &Operand| -> Result<u64, String> {
                match o {
                    Operand::Reg(i) => Ok(r[*i]),
                    Operand::Imm(v) => Ok(*v),
                    Operand::Param(..) => Err("parameter used as a value".into()),
                }
            };
            let dst = match inst.args.first() {
                Some(Operand::Reg(i)) => Some(*i),
                _ => None,
            };
            let op: Vec<&str> = inst.op.iter().map(String::as_str).collect();
            let arg = |k: usize| -> Result<u64, String> {
                get(inst
                    .args
                    .get(k)
                    .ok_or_else(|| format!("{op:?}: missing operand"))?)
            };
            let value: u64 = match op.as_slice() {
                ["ret"] | ["ret", "uni"] => break,
                ["bra"] | ["bra", "uni"] => {
                    let t = inst.target.as_deref().unwrap_or("");
                    pc = *self.labels.get(t).ok_or_else(|| format!("no label {t}"))?;
                    continue;
                }
                ["ld", "param", t] => {
                    let Some(Operand::Param(p, off)) = inst.args.get(1) else {
                        return Err("ld.param without a parameter address".into());
                    };
                    let n = (width(t)? / 8) as usize;
                    let bytes = memory[*p]
                        .get(*off..off + n)
                        .ok_or("ld.param out of bounds")?;
                    let mut v = 0u64;
                    for (i, b) in bytes.iter().enumerate() {
                        v |= (*b as u64) << (8 * i);
                    }
                    v
                }
                ["st", "param", t] => {
                    let Some(Operand::Param(p, off)) = inst.args.first() else {
                        return Err("st.param without a parameter address".into());
                    };
                    let n = (width(t)? / 8) as usize;
                    let v = arg(1)?;
                    let slot = memory[*p]
                        .get_mut(*off..off + n)
                        .ok_or("st.param out of bounds")?;
                    for (i, b) in slot.iter_mut().enumerate() {
                        *b = (v >> (8 * i)) as u8;
                    }
                    continue;
                }
                ["mov", t] => mask(arg(1)?, width(t)?),
                ["neg", t] => mask(arg(1)?.wrapping_neg(), width(t)?),
                ["not", t] => mask(!arg(1)?, width(t)?),
                ["and", "pred"] => (arg(1)? & arg(2)?) & 1,
                ["or", "pred"] => (arg(1)? | arg(2)?) & 1,
                ["and", t] => mask(arg(1)? & arg(2)?, width(t)?),
                ["or", t] => mask(arg(1)? | arg(2)?, width(t)?),
                ["xor", t] => mask(arg(1)? ^ arg(2)?, width(t)?),
                ["add", t] => mask(arg(1)?.wrapping_add(arg(2)?), width(t)?),
                ["sub", t] => mask(arg(1)?.wrapping_sub(arg(2)?), width(t)?),
                ["shl", t] => {
                    let w = width(t)?;
                    let s = arg(2)?;
                    if s >= w as u64 {
                        0
                    } else {
                        mask(arg(1)? << s, w)
                    }
                }
                ["shr", t] => {
                    let w = width(t)?;
                    let shift = arg(2)?;
                    if t.starts_with('s') {
                        mask((signed(arg(1)?, w) >> shift.min(w as u64 - 1)) as u64, w)
                    } else if shift >= w as u64 {
                        0
                    } else {
                        mask(arg(1)?, w) >> shift
                    }
                }
                ["mul", "lo", t] => mask(arg(1)?.wrapping_mul(arg(2)?), width(t)?),
                ["mul", "hi", "u32"] => (lo32(arg(1)?) * lo32(arg(2)?)) >> 32,
                ["mul", "wide", "u32"] => lo32(arg(1)?) * lo32(arg(2)?),
                ["mad", "lo", t] => mask(
                    arg(1)?.wrapping_mul(arg(2)?).wrapping_add(arg(3)?),
                    width(t)?,
                ),
                // 32-bit multiply-adds with the carry flag: `cc` writes it, `madc` reads it.
                [m @ ("mad" | "madc"), half @ ("lo" | "hi"), rest @ ..] => {
                    let p = lo32(arg(1)?) * lo32(arg(2)?);
                    let part = if *half == "lo" { lo32(p) } else { p >> 32 };
                    let cin = if *m == "madc" { carry } else { 0 };
                    let sum = part + lo32(arg(3)?) + cin;
                    if rest.first() == Some(&"cc") {
                        carry = sum >> 32;
                    }
                    lo32(sum)
                }
                [a @ ("add" | "addc"), "cc", "u32"] | [a @ "addc", "u32"] => {
                    let cin = if *a == "addc" { carry } else { 0 };
                    let sum = lo32(arg(1)?) + lo32(arg(2)?) + cin;
                    if op.len() == 3 {
                        carry = sum >> 32;
                    }
                    lo32(sum)
                }
                [s @ ("sub" | "subc"), "cc", "u32"] | [s @ "subc", "u32"] => {
                    let bin = if *s == "subc" { carry } else { 0 };
                    let (a, b) = (lo32(arg(1)?), lo32(arg(2)?));
                    if op.len() == 3 {
                        // PTX's carry flag holds the borrow after a subtraction.
                        carry = (a < b + bin) as u64;
                    }
                    lo32(a.wrapping_sub(b).wrapping_sub(bin))
                }
                ["cvt", to, from] => {
                    let (wt, wf) = (width(to)?, width(from)?);
                    let v = mask(arg(1)?, wf);
                    let v = if from.starts_with('s') {
                        signed(v, wf) as u64
                    } else {
                        v
                    };
                    mask(v, wt)
                }
                ["setp", cmp, t] => {
                    let w = width(t)?;
                    let (a, b) = (arg(1)?, arg(2)?);
                    let ord = if t.starts_with('s') {
                        signed(a, w).cmp(&signed(b, w))
                    } else {
                        mask(a, w).cmp(&mask(b, w))
                    };
                    use std::cmp::Ordering::*;
                    let holds = match *cmp {
                        "eq" => ord == Equal,
                        "ne" => ord != Equal,
                        "lt" | "lo" => ord == Less,
                        "le" | "ls" => ord != Greater,
                        "gt" | "hi" => ord == Greater,
                        "ge" | "hs" => ord != Less,
                        other => return Err(format!("unsupported comparison {other}")),
                    };
                    holds as u64
                }
                ["selp", t] => mask(if arg(3)? != 0 { arg(1)? } else { arg(2)? }, width(t)?),
                _ => return Err(format!("unsupported PTX instruction {}", inst.op.join("."))),
            };
            let d = dst.ok_or_else(|| format!("{}: no destination register", inst.op.join(".")))?;
            r[d] = value;
        }
        Ok(std::mem::take(&mut memory[0]))
    }
}
