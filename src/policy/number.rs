//! Numbers read the way Flux's numerical policy reads them: Go's
//! `strconv.ParseFloat(s, 64)`, so `0x1.8p3`, `1_000`, `Inf` and `NaN` are numbers and
//! `0x1A`, `3__0` and an overflowing `1e309` are not.

/// Parses `text` exactly as Go's `strconv.ParseFloat(text, 64)` accepts it; `None` where
/// Go returns an error (syntax, or overflow to infinity). Underflow gives 0 without error.
pub fn parse_go_float(text: &str) -> Option<f64> {
    if let Some(special) = special(text) {
        return special;
    }
    let b = text.as_bytes();
    let mut i = 0;
    let negative = match b.first() {
        Some(b'+') => {
            i = 1;
            false
        }
        Some(b'-') => {
            i = 1;
            true
        }
        _ => false,
    };
    let body_start = i;
    let hex = i + 2 < b.len() && b[i] == b'0' && b[i + 1].eq_ignore_ascii_case(&b'x');
    if hex {
        i += 2;
    }
    let mantissa_start = i;
    let (mut saw_dot, mut saw_digits, mut underscores) = (false, false, false);
    while let Some(&c) = b.get(i) {
        match c {
            b'_' => underscores = true,
            b'.' if saw_dot => break,
            b'.' => saw_dot = true,
            c if c.is_ascii_digit() || hex && c.is_ascii_hexdigit() => saw_digits = true,
            _ => break,
        }
        i += 1;
    }
    if !saw_digits {
        return None;
    }
    let mantissa_end = i;
    let exp_char = if hex { b'p' } else { b'e' };
    let mut exponent: Option<(usize, usize)> = None;
    if b.get(i).is_some_and(|c| c.eq_ignore_ascii_case(&exp_char)) {
        i += 1;
        let exp_start = i;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
            underscores |= b[i] == b'_';
            i += 1;
        }
        exponent = Some((exp_start, i));
    } else if hex {
        return None;
    }
    if i != b.len() || underscores && !underscores_ok(&b[body_start..]) {
        return None;
    }
    let value = if hex {
        let (exp_start, exp_end) = exponent?;
        hex_value(&b[mantissa_start..mantissa_end], &text[exp_start..exp_end])
    } else {
        let body = &text[body_start..];
        if underscores {
            body.replace('_', "").parse::<f64>().ok()?
        } else {
            body.parse::<f64>().ok()?
        }
    };
    if value.is_infinite() {
        return None;
    }
    Some(if negative { -value } else { value })
}

/// Go `special`: `inf`, `infinity` (with an optional sign) and `nan`, any letter case.
/// `Some(None)` when the text starts like one but has more after it.
fn special(text: &str) -> Option<Option<f64>> {
    if !matches!(
        text.as_bytes().first(),
        Some(b'+' | b'-' | b'i' | b'I' | b'n' | b'N')
    ) {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let (sign, rest) = match lower.as_bytes().first()? {
        b'+' => (1.0, &lower[1..]),
        b'-' => (-1.0, &lower[1..]),
        b'i' => (1.0, lower.as_str()),
        b'n' => {
            return lower
                .starts_with("nan")
                .then(|| (lower == "nan").then_some(f64::NAN));
        }
        _ => return None,
    };
    let common = rest
        .bytes()
        .zip("infinity".bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let consumed = match common {
        8 => 8,
        3..=7 => 3,
        _ => return None,
    };
    Some((consumed == rest.len()).then_some(sign * f64::INFINITY))
}

/// Go `underscoreOK`: underscores only between digits, or after a base prefix.
fn underscores_ok(b: &[u8]) -> bool {
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    for &c in &b[i..] {
        if c.is_ascii_digit() || hex && c.is_ascii_hexdigit() {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Value of a hexadecimal mantissa (digits, `_`, one `.`) times two to the exponent.
fn hex_value(mantissa: &[u8], exponent: &str) -> f64 {
    let mut bits: u64 = 0;
    let mut significant = 0u32;
    let mut scale: i64 = 0;
    let mut sticky = false;
    let mut after_dot = false;
    for &c in mantissa {
        let digit = match c {
            b'.' => {
                after_dot = true;
                continue;
            }
            b'_' => continue,
            c => u64::from(char::from(c).to_digit(16).unwrap_or(0)),
        };
        if significant < 16 {
            if bits != 0 || digit != 0 {
                significant += 1;
            }
            bits = (bits << 4) | digit;
            if after_dot {
                scale -= 4;
            }
        } else {
            sticky |= digit != 0;
            if !after_dot {
                scale += 4;
            }
        }
    }
    if sticky {
        bits |= 1;
    }
    let exp: i64 = {
        let (negative, digits) = match exponent.as_bytes().first() {
            Some(b'-') => (true, &exponent[1..]),
            Some(b'+') => (false, &exponent[1..]),
            _ => (false, exponent),
        };
        let magnitude = digits
            .bytes()
            .filter(u8::is_ascii_digit)
            .fold(0i64, |acc, d| (acc * 10 + i64::from(d - b'0')).min(100_000));
        if negative { -magnitude } else { magnitude }
    };
    let mut value = bits as f64;
    let mut e = exp.saturating_add(scale);
    while e > 1000 {
        value *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        value *= 2f64.powi(-1000);
        e += 1000;
    }
    // `e` is now within ±1000.
    value * 2f64.powi(i32::try_from(e).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go strconv.ParseFloat facts (atof.go, atof_test.go).
    #[test]
    fn go_parse_float() {
        let ok: &[(&str, f64)] = &[
            ("1", 1.0),
            ("017", 17.0),
            ("3E2", 300.0),
            ("5e-3", 0.005),
            ("0.325e1", 3.25),
            ("41.", 41.0),
            (".5", 0.5),
            ("+2", 2.0),
            ("-2.5", -2.5),
            ("0x1.8p3", 12.0),
            ("0X5P0", 5.0),
            ("0x_1p4", 16.0),
            ("0x.8p1", 1.0),
            ("0x1p-2", 0.25),
            ("2_5", 25.0),
            ("1e1_0", 1e10),
            ("1_000.000_1", 1000.0001),
            ("1e-400", 0.0),
            ("inf", f64::INFINITY),
            ("INF", f64::INFINITY),
            ("+Inf", f64::INFINITY),
            ("-infinity", f64::NEG_INFINITY),
            ("InFiNiTy", f64::INFINITY),
            ("1.7976931348623157e308", f64::MAX),
            ("0x1.fffffffffffffp1023", f64::MAX),
            ("0x123456789abcdef01p0", 20988295479420645121.0),
        ];
        for &(text, expected) in ok {
            assert_eq!(parse_go_float(text), Some(expected), "{text}");
        }
        for nan in ["nan", "NaN", "NAN"] {
            assert!(parse_go_float(nan).is_some_and(f64::is_nan), "{nan}");
        }
        for bad in [
            "",
            ".",
            "e5",
            "1e",
            "1e+",
            "1e_5",
            "0x1A",
            "0x",
            "0xp1",
            "0x1.8",
            "3__0",
            "_1",
            "1_",
            "1_.5",
            "1._5",
            "1.2.3",
            "1e309",
            "2e400",
            "0x1p1024",
            "+nan",
            "-nan",
            "nanx",
            "infx",
            "infin",
            "infinityy",
            "0b101",
            "0o17",
            "1f",
            "١",
            " 1",
            "1 ",
            "--1",
        ] {
            assert_eq!(parse_go_float(bad), None, "{bad:?}");
        }
    }
}
