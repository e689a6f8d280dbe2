//! A parser for the RFC 9651 Structured Field Values this module reads: Lists and Dictionaries of
//! Items and Inner Lists, with every bare item type (Integer, Decimal, String, Token, Byte Sequence,
//! Boolean, Date, Display String).
//!
//! It follows the parsing algorithms of RFC 9651 §4.2 step by step, and fails the whole field on any
//! deviation, because the rate-limit draft says clients MUST ignore malformed fields. A hand-written
//! parser (rather than the `sfv` crate) keeps the runtime's dependency set unchanged; it is only
//! a parser, never a serializer, and it is small enough to review against the RFC.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// A bare item (RFC 9651 §3.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BareItem {
    Integer(i64),
    /// A Decimal in thousandths (RFC 9651 allows at most three fractional digits).
    Decimal(i64),
    String(String),
    Token(String),
    ByteSequence(Vec<u8>),
    Boolean(bool),
    Date(i64),
    DisplayString(String),
}

impl BareItem {
    pub(crate) fn as_integer(&self) -> Option<i64> {
        match self {
            BareItem::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The text of a String or Token.
    pub(crate) fn as_text(&self) -> Option<&str> {
        match self {
            BareItem::String(s) | BareItem::Token(s) => Some(s),
            _ => None,
        }
    }
}

/// Parameters in order of first appearance; a repeated key overwrites the earlier value
/// (RFC 9651 §4.2.3.2).
pub(crate) type Parameters = Vec<(String, BareItem)>;

/// Looks up a parameter by key.
pub(crate) fn param<'a>(params: &'a Parameters, key: &str) -> Option<&'a BareItem> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Item {
    pub(crate) bare: BareItem,
    pub(crate) params: Parameters,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Member {
    Item(Item),
    InnerList(Vec<Item>, Parameters),
}

/// Where and why parsing stopped; only used for debug logs and tests.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed structured field at byte {at}: expected {expected}")]
pub(crate) struct SfError {
    pub(crate) at: usize,
    pub(crate) expected: &'static str,
}

/// Parses a field value as an SF List (RFC 9651 §4.2.1).
pub(crate) fn parse_list(input: &str) -> Result<Vec<Member>, SfError> {
    let mut p = Parser::new(input);
    let mut members = Vec::new();
    p.skip_sp();
    while !p.at_end() {
        members.push(p.member()?);
        p.skip_ows();
        if p.at_end() {
            break;
        }
        p.expect(b',', "`,` between list members")?;
        p.skip_ows();
        if p.at_end() {
            return p.fail("a list member after `,`");
        }
    }
    Ok(members)
}

/// Parses a field value as an SF Dictionary (RFC 9651 §4.2.2). Later duplicates overwrite earlier
/// ones in place.
pub(crate) fn parse_dictionary(input: &str) -> Result<Vec<(String, Member)>, SfError> {
    let mut p = Parser::new(input);
    let mut entries: Vec<(String, Member)> = Vec::new();
    p.skip_sp();
    while !p.at_end() {
        let key = p.key()?;
        let member = if p.eat(b'=') {
            p.member()?
        } else {
            Member::Item(Item {
                bare: BareItem::Boolean(true),
                params: p.parameters()?,
            })
        };
        match entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = member,
            None => entries.push((key, member)),
        }
        p.skip_ows();
        if p.at_end() {
            break;
        }
        p.expect(b',', "`,` between dictionary members")?;
        p.skip_ows();
        if p.at_end() {
            return p.fail("a dictionary member after `,`");
        }
    }
    Ok(entries)
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        // Trailing SP is not part of any production; trimming it here is what RFC 9651 §4.2
        // step 6 ("discard any leading SP characters" after parsing) amounts to.
        let trimmed = input.trim_end_matches([' ', '\t']).trim_start_matches('\t');
        Self {
            bytes: trimmed.as_bytes(),
            pos: 0,
        }
    }

    fn fail<T>(&self, expected: &'static str) -> Result<T, SfError> {
        Err(SfError {
            at: self.pos,
            expected,
        })
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8, expected: &'static str) -> Result<(), SfError> {
        if self.eat(b) { Ok(()) } else { self.fail(expected) }
    }

    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// An Item or an Inner List (RFC 9651 §4.2.1.1).
    fn member(&mut self) -> Result<Member, SfError> {
        if self.peek() == Some(b'(') {
            self.inner_list()
        } else {
            Ok(Member::Item(self.item()?))
        }
    }

    fn inner_list(&mut self) -> Result<Member, SfError> {
        self.expect(b'(', "`(`")?;
        let mut items = Vec::new();
        loop {
            self.skip_sp();
            if self.eat(b')') {
                let params = self.parameters()?;
                return Ok(Member::InnerList(items, params));
            }
            items.push(self.item()?);
            if !matches!(self.peek(), Some(b' ' | b')')) {
                return self.fail("SP or `)` in an inner list");
            }
        }
    }

    fn item(&mut self) -> Result<Item, SfError> {
        let bare = self.bare_item()?;
        let params = self.parameters()?;
        Ok(Item { bare, params })
    }

    fn parameters(&mut self) -> Result<Parameters, SfError> {
        let mut params: Parameters = Vec::new();
        while self.eat(b';') {
            self.skip_sp();
            let key = self.key()?;
            let value = if self.eat(b'=') {
                self.bare_item()?
            } else {
                BareItem::Boolean(true)
            };
            match params.iter_mut().find(|(k, _)| *k == key) {
                Some(entry) => entry.1 = value,
                None => params.push((key, value)),
            }
        }
        Ok(params)
    }

    /// `key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )`.
    fn key(&mut self) -> Result<String, SfError> {
        let start = self.pos;
        match self.peek() {
            Some(b'a'..=b'z' | b'*') => self.pos += 1,
            _ => return self.fail("a key starting with a lowercase letter or `*`"),
        }
        while matches!(
            self.peek(),
            Some(b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*')
        ) {
            self.pos += 1;
        }
        Ok(self.text(start))
    }

    fn text(&self, start: usize) -> String {
        String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned()
    }

    fn bare_item(&mut self) -> Result<BareItem, SfError> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'"') => self.string().map(BareItem::String),
            Some(b'*' | b'a'..=b'z' | b'A'..=b'Z') => Ok(self.token()),
            Some(b':') => self.byte_sequence(),
            Some(b'?') => self.boolean(),
            Some(b'@') => {
                self.pos += 1;
                match self.number()? {
                    BareItem::Integer(i) => Ok(BareItem::Date(i)),
                    _ => self.fail("an integer date"),
                }
            }
            Some(b'%') => self.display_string(),
            _ => self.fail("a bare item"),
        }
    }

    /// Integer or Decimal (RFC 9651 §4.2.4).
    fn number(&mut self) -> Result<BareItem, SfError> {
        let negative = self.eat(b'-');
        let int_start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        let int_digits = self.pos - int_start;
        if int_digits == 0 {
            return self.fail("a digit");
        }
        let int_part = parse_digits(&self.bytes[int_start..self.pos]);
        let sign = if negative { -1 } else { 1 };
        if !self.eat(b'.') {
            if int_digits > 15 {
                return self.fail("an integer of at most 15 digits");
            }
            return Ok(BareItem::Integer(sign * int_part));
        }
        if int_digits > 12 {
            return self.fail("a decimal with at most 12 integer digits");
        }
        let frac_start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        let frac_digits = self.pos - frac_start;
        if !(1..=3).contains(&frac_digits) {
            return self.fail("1 to 3 fractional digits");
        }
        let mut frac = parse_digits(&self.bytes[frac_start..self.pos]);
        for _ in frac_digits..3 {
            frac *= 10;
        }
        Ok(BareItem::Decimal(sign * (int_part * 1000 + frac)))
    }

    /// `sf-string = DQUOTE *( unescaped / "%" / bs-escaped ) DQUOTE`, printable ASCII only.
    fn string(&mut self) -> Result<String, SfError> {
        self.expect(b'"', "`\"`")?;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return self.fail("a closing `\"`"),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(char::from(c));
                            self.pos += 1;
                        }
                        _ => return self.fail("`\\\"` or `\\\\` after a backslash"),
                    }
                }
                Some(c @ 0x20..=0x7e) => {
                    out.push(char::from(c));
                    self.pos += 1;
                }
                Some(_) => return self.fail("a printable ASCII character in a string"),
            }
        }
    }

    /// `sf-token = ( ALPHA / "*" ) *( tchar / ":" / "/" )`.
    fn token(&mut self) -> BareItem {
        let start = self.pos;
        self.pos += 1;
        while self.peek().is_some_and(is_token_char) {
            self.pos += 1;
        }
        BareItem::Token(self.text(start))
    }

    fn byte_sequence(&mut self) -> Result<BareItem, SfError> {
        self.expect(b':', "`:`")?;
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        {
            self.pos += 1;
        }
        let content = &self.bytes[start..self.pos];
        self.expect(b':', "a closing `:` after base64")?;
        // RFC 9651 §4.2.7: parsers SHOULD NOT fail on missing padding or non-zero pad bits.
        const LENIENT: GeneralPurpose = GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            GeneralPurposeConfig::new()
                .with_decode_padding_mode(DecodePaddingMode::Indifferent)
                .with_decode_allow_trailing_bits(true),
        );
        match LENIENT.decode(content) {
            Ok(bytes) => Ok(BareItem::ByteSequence(bytes)),
            Err(_) => self.fail("valid base64 in a byte sequence"),
        }
    }

    fn boolean(&mut self) -> Result<BareItem, SfError> {
        self.expect(b'?', "`?`")?;
        if self.eat(b'1') {
            Ok(BareItem::Boolean(true))
        } else if self.eat(b'0') {
            Ok(BareItem::Boolean(false))
        } else {
            self.fail("`?0` or `?1`")
        }
    }

    /// `%"..."` with `%xx` lowercase-hex escapes of UTF-8 bytes (RFC 9651 §4.2.10).
    fn display_string(&mut self) -> Result<BareItem, SfError> {
        self.expect(b'%', "`%`")?;
        self.expect(b'"', "`\"` after `%`")?;
        let mut bytes = Vec::new();
        loop {
            match self.peek() {
                None => return self.fail("a closing `\"`"),
                Some(b'"') => {
                    self.pos += 1;
                    return match String::from_utf8(bytes) {
                        Ok(s) => Ok(BareItem::DisplayString(s)),
                        Err(_) => self.fail("UTF-8 in a display string"),
                    };
                }
                Some(b'%') => {
                    let hex = |b: Option<&u8>| match b {
                        Some(b @ b'0'..=b'9') => Some(b - b'0'),
                        Some(b @ b'a'..=b'f') => Some(b - b'a' + 10),
                        _ => None,
                    };
                    let hi = hex(self.bytes.get(self.pos + 1));
                    let lo = hex(self.bytes.get(self.pos + 2));
                    match (hi, lo) {
                        (Some(hi), Some(lo)) => bytes.push(hi << 4 | lo),
                        _ => return self.fail("two lowercase hex digits after `%`"),
                    }
                    self.pos += 3;
                }
                Some(c @ 0x20..=0x7e) => {
                    bytes.push(c);
                    self.pos += 1;
                }
                Some(_) => return self.fail("a printable ASCII character in a display string"),
            }
        }
    }
}

/// Decimal value of an ASCII digit run already bounded to at most 15 digits, so it cannot overflow.
fn parse_digits(digits: &[u8]) -> i64 {
    digits.iter().fold(0i64, |acc, d| {
        acc.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    })
}

/// `tchar` (RFC 9110 §5.6.2) plus `:` and `/`.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
                | b':'
                | b'/'
        )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn item(bare: BareItem, params: &[(&str, BareItem)]) -> Member {
        Member::Item(Item {
            bare,
            params: params.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
        })
    }

    #[test]
    fn parses_current_draft_policy_list() {
        let list = parse_list(r#""burst";q=100;w=60,"daily";q=1000;w=86400;pk=:cHsdsRA=:"#).unwrap();
        assert_eq!(
            list,
            vec![
                item(
                    BareItem::String("burst".into()),
                    &[("q", BareItem::Integer(100)), ("w", BareItem::Integer(60))]
                ),
                item(
                    BareItem::String("daily".into()),
                    &[
                        ("q", BareItem::Integer(1000)),
                        ("w", BareItem::Integer(86400)),
                        ("pk", BareItem::ByteSequence(vec![0x70, 0x7b, 0x1d, 0xb1, 0x10])),
                    ]
                ),
            ]
        );
    }

    #[test]
    fn parses_every_bare_item_type() {
        let list = parse_list(r#"-7, 1.5, "a\"b\\", tok/en:x, :aGk=:, ?0, @1659578233, %"f%c3%bc", (1 2);x"#)
            .unwrap();
        let bare: Vec<_> = list
            .iter()
            .map(|m| match m {
                Member::Item(i) => format!("{:?}", i.bare),
                Member::InnerList(items, params) => format!("{} {:?}", items.len(), params),
            })
            .collect();
        assert_eq!(
            bare,
            [
                "Integer(-7)",
                "Decimal(1500)",
                r#"String("a\"b\\")"#,
                r#"Token("tok/en:x")"#,
                "ByteSequence([104, 105])",
                "Boolean(false)",
                "Date(1659578233)",
                r#"DisplayString("fü")"#,
                r#"2 [("x", Boolean(true))]"#,
            ]
        );
    }

    #[test]
    fn parses_draft_07_dictionary() {
        let dict = parse_dictionary("limit=100, remaining=50,\treset=5, flag;a=1").unwrap();
        let keys: Vec<_> = dict.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["limit", "remaining", "reset", "flag"]);
        assert_eq!(dict[1].1, item(BareItem::Integer(50), &[]));
        assert_eq!(
            dict[3].1,
            item(BareItem::Boolean(true), &[("a", BareItem::Integer(1))])
        );
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        let dict = parse_dictionary("a=1, b=2, a=3").unwrap();
        assert_eq!(dict.len(), 2);
        assert_eq!(dict[0].1, item(BareItem::Integer(3), &[]));
        let list = parse_list("x;q=1;q=2").unwrap();
        assert_eq!(
            list[0],
            item(BareItem::Token("x".into()), &[("q", BareItem::Integer(2))])
        );
    }

    #[test]
    fn empty_input_is_an_empty_list() {
        assert_eq!(parse_list("").unwrap(), vec![]);
        assert_eq!(parse_list("   ").unwrap(), vec![]);
    }

    #[test]
    fn rejects_malformed_fields() {
        for bad in [
            "a,",
            ",a",
            "a,,b",
            "\"unterminated",
            "\"bad \\n escape\"",
            "1234567890123456",
            "1234567890123.5",
            "1.2345",
            "1.",
            "-",
            "a;Q=1",
            "a;q=",
            "?2",
            ":not base64!:",
            ":aGk=",
            "%\"%C3%BC\"",
            "%\"%ff\"",
            "(1 2",
            "(1,2)",
            "a b",
            "\"a\" \"b\"",
            "limit=100, remaining=50",
            "é",
        ] {
            assert!(parse_list(bad).is_err(), "list {bad:?}");
        }
        for bad in ["Limit=1", "a=1,", "1=a", "a=\"x", "a=1 b=2"] {
            assert!(parse_dictionary(bad).is_err(), "dict {bad:?}");
        }
    }

    #[test]
    fn current_form_is_not_a_dictionary() {
        assert!(parse_dictionary(r#""default";r=50;t=30"#).is_err());
    }

    #[test]
    fn error_reports_position() {
        let err = parse_list("a, b c").unwrap_err();
        assert_eq!(err.at, 5);
        assert!(err.to_string().contains("byte 5"));
    }
}
