//! A small Rust scanner for tidy: tells code from comments and literals, so a check for the
//! `unsafe` keyword is not fooled by the word in a doc comment or a test fixture string.
//!
//! It is not a full lexer. It knows `//` and nested `/* */` comments, `"..."` strings with
//! escapes, raw strings (`r#"..."#`, also `br` and `cr`), char literals and lifetimes, which is
//! all the tidy checks need.

/// `text` with every comment and the contents of every string and char literal replaced by
/// spaces. Newlines are kept, so line `n` of the result is line `n` of the input.
pub(super) fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let at = |i: usize| chars.get(i).copied();
    let mut i = 0;
    while let Some(c) = at(i) {
        if c == '/' && at(i + 1) == Some('/') {
            while let Some(c) = at(i).filter(|&c| c != '\n') {
                blank(&mut out, c);
                i += 1;
            }
        } else if c == '/' && at(i + 1) == Some('*') {
            let mut depth = 0usize;
            while let Some(c) = at(i) {
                if c == '/' && at(i + 1) == Some('*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c == '*' && at(i + 1) == Some('/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c);
                    i += 1;
                }
            }
        } else if c == '"' {
            out.push('"');
            i += 1;
            while let Some(c) = at(i) {
                i += 1;
                match c {
                    '"' => {
                        out.push('"');
                        break;
                    }
                    '\\' => {
                        blank(&mut out, c);
                        if let Some(escaped) = at(i) {
                            blank(&mut out, escaped);
                            i += 1;
                        }
                    }
                    _ => blank(&mut out, c),
                }
            }
        } else if let Some(hashes) = raw_string_hashes(&chars, i) {
            // `r`, the hashes and the opening quote stay; the contents go.
            out.extend(&chars[i..i + hashes + 2]);
            i += hashes + 2;
            while let Some(c) = at(i) {
                if c == '"' && (1..=hashes).all(|k| at(i + k) == Some('#')) {
                    out.extend(&chars[i..i + hashes + 1]);
                    i += hashes + 1;
                    break;
                }
                blank(&mut out, c);
                i += 1;
            }
        } else if c == '\'' && at(i + 1) == Some('\\') {
            // An escaped char literal: '\n', '\'', '\u{1F600}'.
            out.push('\'');
            blank(&mut out, '\\');
            i += 2;
            if let Some(escaped) = at(i) {
                blank(&mut out, escaped);
                i += 1;
            }
            while let Some(c) = at(i).filter(|&c| c != '\'' && c != '\n') {
                blank(&mut out, c);
                i += 1;
            }
            if at(i) == Some('\'') {
                out.push('\'');
                i += 1;
            }
        } else if c == '\'' && at(i + 2) == Some('\'') {
            // A plain char literal such as '"' or '/'. Anything else after a quote is a lifetime
            // or a label, which is code.
            out.push('\'');
            blank(&mut out, chars[i + 1]);
            out.push('\'');
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// If a raw string starts at `chars[i]` (an `r` that starts a token, or follows a `b` or `c`
/// that does), the number of `#`s before its opening quote.
fn raw_string_hashes(chars: &[char], i: usize) -> Option<usize> {
    if chars[i] != 'r' {
        return None;
    }
    let starts_token = |j: usize| j == 0 || !is_ident_char(chars[j - 1]);
    let prefixed = i > 0 && matches!(chars[i - 1], 'b' | 'c') && starts_token(i - 1);
    if !starts_token(i) && !prefixed {
        return None;
    }
    let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
    (chars.get(i + 1 + hashes) == Some(&'"')).then_some(hashes)
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Blanks one character: a newline stays, anything else becomes a space.
fn blank(out: &mut String, c: char) {
    out.push(if c == '\n' { '\n' } else { ' ' });
}

/// A use of the `unsafe` keyword in code.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct UnsafeToken {
    /// 1-based line number.
    pub(super) line: usize,
    /// What follows the keyword.
    pub(super) kind: UnsafeKind,
}

/// What an `unsafe` keyword introduces.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(super) enum UnsafeKind {
    /// `unsafe { ... }`
    Block,
    /// `unsafe impl`
    Impl,
    /// `unsafe fn`, `unsafe trait`, `unsafe extern`, `#[unsafe(...)]`, ...
    Other,
}

/// Every `unsafe` keyword in `code` (the output of [`code_only`]).
pub(super) fn unsafe_tokens(code: &str) -> Vec<UnsafeToken> {
    const WORD: &[u8] = b"unsafe";
    // Non-ASCII bytes count as identifier bytes: `unsafeé` is one identifier.
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || !b.is_ascii();
    let bytes = code.as_bytes();
    let mut tokens = Vec::new();
    let mut line = 1;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            line += 1;
            continue;
        }
        let is_word = bytes[i..].starts_with(WORD)
            && (i == 0 || !ident(bytes[i - 1]))
            && bytes.get(i + WORD.len()).is_none_or(|&b| !ident(b));
        if !is_word {
            continue;
        }
        let after = code[i + WORD.len()..].trim_start();
        let kind = if after.starts_with('{') {
            UnsafeKind::Block
        } else if after
            .strip_prefix("impl")
            .is_some_and(|rest| rest.as_bytes().first().is_none_or(|&b| !ident(b)))
        {
            UnsafeKind::Impl
        } else {
            UnsafeKind::Other
        };
        tokens.push(UnsafeToken { line, kind });
    }
    tokens
}
