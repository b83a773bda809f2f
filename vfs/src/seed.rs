//! The one seed format of Folio's randomised tests and tools: `FOLIO_SEED` replays a run, and
//! every seed is printed the same way, as `0x`-prefixed hex ([`show`]), which [`parse`] reads
//! back (decimal is accepted too, for seeds typed by hand).
//!
//! Used by the simulated disk's users, the crash harness, the proptest runners and the
//! multi-process suites; `cargo xtask crash --replay SEED` takes the same spellings.

/// The environment variable that names the seed to replay.
pub const ENV: &str = "FOLIO_SEED";

/// Parses a seed written as `0x…` hex (as Folio prints them) or in decimal; surrounding
/// whitespace is ignored. `None` if it is neither.
pub fn parse(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() => u64::from_str_radix(hex, 16).ok(),
        Some(_) => None,
        None => s.parse().ok(),
    }
}

/// A seed as Folio prints it: `0x` and lower-case hex.
pub fn show(seed: u64) -> String {
    format!("{seed:#x}")
}

/// The seed [`ENV`] names, if it is set.
///
/// # Panics
/// If it is set to something [`parse`] does not accept: a test must not run on a seed other
/// than the one asked for.
pub fn from_env() -> Option<u64> {
    let value = std::env::var(ENV).ok()?;
    Some(parse(&value).unwrap_or_else(|| {
        panic!("{ENV}={value:?} is not a seed: write it as 0x-prefixed hex or in decimal")
    }))
}

/// The seed [`ENV`] names, else `default`.
pub fn from_env_or(default: u64) -> u64 {
    from_env().unwrap_or(default)
}

/// The seed [`ENV`] names, else one from the clock; printed either way, with the command-line
/// fragment that replays it, so a failure can be reproduced from its log.
pub fn announce(test: &str) -> u64 {
    let seed = from_env().unwrap_or_else(clock_seed);
    eprintln!("{test}: seed {} (replay with {ENV}={})", show(seed), show(seed));
    seed
}

/// A fresh seed from the clock, for runs that explore rather than replay.
pub fn clock_seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| {
        // The nanoseconds' low 64 bits: they change between runs, which is all a seed needs.
        d.as_nanos() as u64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_printed_seed_parses_back_and_decimal_is_accepted() {
        for seed in [0, 1, 0x3a1_f011_0b1e, u64::MAX] {
            assert_eq!(parse(&show(seed)), Some(seed), "{}", show(seed));
            assert_eq!(parse(&seed.to_string()), Some(seed));
        }
        assert_eq!(show(0x1f), "0x1f");
        assert_eq!(parse(" 0X1F\n"), Some(0x1f));
    }

    #[test]
    fn what_is_not_a_seed_is_refused() {
        for bad in ["", "0x", "x1f", "1f", "-1", "0x1g", "18446744073709551616", "0x1_0"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
