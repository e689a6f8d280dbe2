//! Cursor decoding: any text a model sends back as `next_cursor`. Opening never panics, a cursor
//! opens only under the scope it was issued for, and only the exact issued text opens (no two
//! spellings of one cursor).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use runtime::cursor::{CursorCodec, CursorError, CursorKey, CursorPosition};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    scope: &'a str,
    token: &'a str,
    start_index: u64,
    flip: Option<(u16, u8)>,
}

fuzz_target!(|input: Input<'_>| {
    let key = CursorKey::from_secret(&[0x5a; 32]).expect("a 32-byte secret is long enough");
    let codec = CursorCodec::new(key);

    // Arbitrary text.
    if let Ok(position) = codec.open(input.scope, input.token) {
        assert_eq!(
            codec.issue(input.scope, position),
            input.token,
            "a second spelling opened"
        );
    }

    // A genuine cursor opens to its position, under its scope only.
    let position = CursorPosition {
        start_index: input.start_index,
    };
    let token = codec.issue(input.scope, position);
    assert_eq!(codec.open(input.scope, &token), Ok(position));
    let other = format!("{}\u{0}other", input.scope);
    assert_eq!(codec.open(&other, &token), Err(CursorError::ScopeMismatch));

    // Any altered byte is refused.
    if let Some((at, xor)) = input.flip
        && xor != 0
    {
        let mut bytes = token.clone().into_bytes();
        let at = usize::from(at) % bytes.len();
        bytes[at] ^= xor;
        if let Ok(altered) = String::from_utf8(bytes) {
            assert!(codec.open(input.scope, &altered).is_err(), "{altered:?} opened");
        }
    }
});
