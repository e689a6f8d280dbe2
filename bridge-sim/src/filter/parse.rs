//! Tokenizer and recursive-descent parser for filters and PATCH paths.
//!
//! Precedence, loosest first: `or`, `and`, `not`, then attribute expressions and groupings. The
//! grammar is RFC 7644 §3.4.2.2 with two widely used relaxations: `not` may precede any operand
//! (not only a parenthesised one, errata 7319), and a value path may be followed by a
//! sub-attribute comparison (`emails[type eq "work"].value eq "x"`, sent by Entra ID), which we
//! read as `emails[type eq "work" and value eq "x"]`.

use super::{AttrPath, CompValue, CompareOp, Filter, FilterError};

/// A PATCH operation target (RFC 7644 §3.5.2 `PATH`): `attrPath`, or `valuePath` with an optional
/// trailing sub-attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

/// Parses a PATCH `path` such as `members[value eq "abc"]` or `name.givenName`.
pub fn parse_patch_path(input: &str) -> Result<PatchPath, FilterError> {
    let mut p = Parser::new(input)?;
    let (offset, word) = p.word("an attribute path")?;
    let attr = attr_path(&word, offset)?;
    let mut path = PatchPath {
        attr,
        filter: None,
        sub: None,
    };
    if p.eat(&Tok::LBracket) {
        if path.attr.sub.is_some() {
            return Err(FilterError::BadPath(input.to_owned()));
        }
        path.filter = Some(p.or_expr(true)?);
        p.expect(&Tok::RBracket, "`]`")?;
        if let Some(Tok::Word(w)) = p.peek()
            && let Some(sub) = w.strip_prefix('.')
        {
            path.sub = Some(attr_name(sub, input)?.to_owned());
            p.pos += 1;
        }
    }
    p.finish()?;
    Ok(path)
}

pub(super) fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    let mut p = Parser::new(input)?;
    let filter = p.or_expr(false)?;
    p.finish()?;
    Ok(filter)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Word(String),
    Str(String),
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
}

impl Parser {
    fn new(input: &str) -> Result<Self, FilterError> {
        Ok(Parser {
            toks: tokenize(input)?,
            pos: 0,
        })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn next(&mut self, expected: &'static str) -> Result<(usize, Tok), FilterError> {
        let tok = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or(FilterError::UnexpectedEnd { expected })?;
        self.pos += 1;
        Ok(tok)
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == Some(tok) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        match self.peek() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case(keyword) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn expect(&mut self, tok: &Tok, expected: &'static str) -> Result<(), FilterError> {
        let (offset, found) = self.next(expected)?;
        if &found == tok {
            Ok(())
        } else {
            Err(unexpected(&found, offset, expected))
        }
    }

    fn word(&mut self, expected: &'static str) -> Result<(usize, String), FilterError> {
        match self.next(expected)? {
            (offset, Tok::Word(w)) => Ok((offset, w)),
            (offset, other) => Err(unexpected(&other, offset, expected)),
        }
    }

    fn finish(&self) -> Result<(), FilterError> {
        match self.toks.get(self.pos) {
            None => Ok(()),
            Some((offset, tok)) => Err(unexpected(tok, *offset, "end of input")),
        }
    }

    /// `inner` is true inside `[...]`, where value paths may not nest.
    fn or_expr(&mut self, inner: bool) -> Result<Filter, FilterError> {
        let mut left = self.and_expr(inner)?;
        while self.eat_keyword("or") {
            let right = self.and_expr(inner)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self, inner: bool) -> Result<Filter, FilterError> {
        let mut left = self.unary(inner)?;
        while self.eat_keyword("and") {
            let right = self.unary(inner)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, inner: bool) -> Result<Filter, FilterError> {
        // `not` is only a keyword when an operand follows; `not eq "x"` compares an attribute
        // literally named "not".
        if let Some(Tok::Word(w)) = self.peek() {
            let next_is_operator = matches!(
                self.toks.get(self.pos + 1),
                Some((_, Tok::Word(op))) if CompareOp::from_keyword(op).is_some() || op.eq_ignore_ascii_case("pr")
            );
            if w.eq_ignore_ascii_case("not") && !next_is_operator {
                self.pos += 1;
                return Ok(Filter::Not(Box::new(self.unary(inner)?)));
            }
        }
        self.primary(inner)
    }

    fn primary(&mut self, inner: bool) -> Result<Filter, FilterError> {
        const EXPECTED: &str = "an attribute path or `(`";
        let (offset, tok) = self.next(EXPECTED)?;
        let word = match tok {
            Tok::LParen => {
                let f = self.or_expr(inner)?;
                self.expect(&Tok::RParen, "`)`")?;
                return Ok(f);
            }
            Tok::Word(w) => w,
            other => return Err(unexpected(&other, offset, EXPECTED)),
        };
        let path = attr_path(&word, offset)?;
        if !inner && self.eat(&Tok::LBracket) {
            if path.sub.is_some() {
                return Err(FilterError::BadPath(word));
            }
            let filter = self.or_expr(true)?;
            self.expect(&Tok::RBracket, "`]`")?;
            let filter = match self.peek() {
                Some(Tok::Word(w)) if w.starts_with('.') => {
                    let sub = attr_name(&w[1..], w)?.to_owned();
                    self.pos += 1;
                    let tail = self.attr_expr(AttrPath::simple(sub))?;
                    Filter::And(Box::new(filter), Box::new(tail))
                }
                _ => filter,
            };
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(filter),
            });
        }
        self.attr_expr(path)
    }

    /// The operator and operand after an attribute path.
    fn attr_expr(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        const EXPECTED: &str = "an operator (eq ne co sw ew gt ge lt le pr)";
        let (offset, op) = self.word(EXPECTED)?;
        if op.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::from_keyword(&op).ok_or_else(|| FilterError::Unexpected {
            found: op.clone(),
            offset,
            expected: EXPECTED,
        })?;
        const VALUE: &str = "a value (string, number, true, false or null)";
        let value = match self.next(VALUE)? {
            (_, Tok::Str(s)) => CompValue::String(s),
            (offset, Tok::Word(w)) => literal(&w).ok_or(FilterError::Unexpected {
                found: w,
                offset,
                expected: VALUE,
            })?,
            (offset, other) => return Err(unexpected(&other, offset, VALUE)),
        };
        Ok(Filter::Compare { path, op, value })
    }
}

fn literal(word: &str) -> Option<CompValue> {
    // JSON literals are case-sensitive in JSON, but the RFC makes the whole filter
    // case-insensitive apart from values; clients do send `True`.
    match word.to_ascii_lowercase().as_str() {
        "true" => return Some(CompValue::Bool(true)),
        "false" => return Some(CompValue::Bool(false)),
        "null" => return Some(CompValue::Null),
        _ => {}
    }
    let first = word.chars().next()?;
    if !(first == '-' || first.is_ascii_digit()) {
        return None;
    }
    // serde_json checks the JSON number grammar, but its default float parsing is best-effort (it
    // can be an ULP off), so a printed filter could parse back to a different number. Floats are
    // parsed again with the standard library, which rounds correctly.
    let number = serde_json::from_str::<serde_json::Number>(word).ok()?;
    if number.is_f64() {
        let exact = word.parse::<f64>().ok()?;
        return serde_json::Number::from_f64(exact).map(CompValue::Number);
    }
    Some(CompValue::Number(number))
}

fn unexpected(tok: &Tok, offset: usize, expected: &'static str) -> FilterError {
    let found = match tok {
        Tok::LParen => "(".to_owned(),
        Tok::RParen => ")".to_owned(),
        Tok::LBracket => "[".to_owned(),
        Tok::RBracket => "]".to_owned(),
        Tok::Word(w) => w.clone(),
        Tok::Str(s) => format!("{s:?}"),
    };
    FilterError::Unexpected {
        found,
        offset,
        expected,
    }
}

/// Splits `[urn:...:]name[.sub]`. The URN is everything before the last colon, which is safe
/// because attribute names cannot contain colons while URNs (`...:2.0:User`) contain dots.
fn attr_path(word: &str, offset: usize) -> Result<AttrPath, FilterError> {
    let (urn, rest) = match word.rfind(':') {
        Some(i) => {
            let urn = &word[..i];
            if !urn.to_ascii_lowercase().starts_with("urn:") {
                return Err(FilterError::BadPath(word.to_owned()));
            }
            (Some(urn.to_owned()), &word[i + 1..])
        }
        None => (None, word),
    };
    let mut parts = rest.split('.');
    let name = attr_name(parts.next().unwrap_or_default(), word)?;
    let sub = parts.next().map(|s| attr_name(s, word)).transpose()?;
    if parts.next().is_some() {
        return Err(FilterError::BadPath(word.to_owned()));
    }
    if name.is_empty() {
        return Err(FilterError::Unexpected {
            found: word.to_owned(),
            offset,
            expected: "an attribute path",
        });
    }
    Ok(AttrPath {
        urn,
        name: name.to_owned(),
        sub: sub.map(str::to_owned),
    })
}

/// `ATTRNAME = ALPHA *(nameChar)`, plus a leading `$` for `$ref` (RFC 7643 allows it).
fn attr_name<'a>(name: &'a str, whole: &str) -> Result<&'a str, FilterError> {
    let mut chars = name.chars();
    let ok = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '$' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }
        _ => false,
    };
    if ok {
        Ok(name)
    } else {
        Err(FilterError::BadPath(whole.to_owned()))
    }
}

fn tokenize(input: &str) -> Result<Vec<(usize, Tok)>, FilterError> {
    let mut toks = Vec::new();
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let tok = match bytes[i] {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b'"' => {
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err(FilterError::BadString { offset: start }),
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
                let raw = input
                    .get(start..=i)
                    .ok_or(FilterError::BadString { offset: start })?;
                let text = serde_json::from_str::<String>(raw)
                    .map_err(|_| FilterError::BadString { offset: start })?;
                i += 1;
                toks.push((start, Tok::Str(text)));
                continue;
            }
            _ => {
                while i < bytes.len()
                    && !matches!(
                        bytes[i],
                        b' ' | b'\t' | b'\r' | b'\n' | b'(' | b')' | b'[' | b']' | b'"'
                    )
                {
                    i += 1;
                }
                // Word boundaries are ASCII bytes, so the slice is on char boundaries.
                toks.push((start, Tok::Word(input[start..i].to_owned())));
                continue;
            }
        };
        i += 1;
        toks.push((start, tok));
    }
    Ok(toks)
}
