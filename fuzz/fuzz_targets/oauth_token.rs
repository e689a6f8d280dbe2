//! An OAuth access token, as any caller may send it: the validator never panics, never accepts
//! what the issuer's key did not sign, and accepts a token the key did sign only when every
//! rule holds (allowed algorithm, exact issuer, this resource in `aud`, within `exp`/`nbf`,
//! someone named). The headers and claims are built from fuzzed parts and signed with the
//! issuer's real key, so the rules themselves are what is exercised, not only the signature.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use arbitrary::Arbitrary;
use base64::Engine as _;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use oauth::keys::IssuerKeys;
use oauth::token::Validator;
use serde_json::{Value, json};

const ISSUER: &str = "https://login.example.test/realms/it";
const RESOURCE: &str = "https://mcp.example.test/mcp";
const LEEWAY: u64 = 30;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    validator: Validator,
    key: EncodingKey,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // A fixed Ed25519 key: PKCS#8 prefix, then a 32-byte seed.
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
        ];
        der.extend_from_slice(&[7u8; 32]);
        let key = EncodingKey::from_ed_der(&der);
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::EdDSA).expect("jwk");
        jwk.common.key_id = Some("k1".into());
        let jwks = json!({ "keys": [jwk] }).to_string();
        let issuer = IssuerKeys::preloaded(ISSUER.to_owned(), &jwks).expect("keys");
        let validator = Validator::new(
            vec![Arc::new(issuer)],
            vec![RESOURCE.to_owned()],
            oauth::ASYMMETRIC.to_vec(),
            Duration::from_secs(LEEWAY),
            false,
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Fixture {
            runtime,
            validator,
            key,
        }
    })
}

#[derive(Arbitrary, Debug)]
enum Text<'a> {
    Expected,
    Other(&'a str),
    Missing,
}

#[derive(Arbitrary, Debug)]
enum Audience<'a> {
    Resource,
    Among(&'a str),
    Other(&'a str),
    Missing,
}

#[derive(Arbitrary, Debug)]
struct Parts<'a> {
    alg: Text<'a>,
    kid: Text<'a>,
    iss: Text<'a>,
    aud: Audience<'a>,
    /// Seconds from now.
    exp: Option<i32>,
    nbf: Option<i32>,
    sub: Option<&'a str>,
    client_id: Option<&'a str>,
    scope: Option<&'a str>,
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    raw: &'a str,
    parts: Parts<'a>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64)
}

fn text(value: &Text<'_>, expected: &str) -> Option<String> {
    match value {
        Text::Expected => Some(expected.to_owned()),
        Text::Other(other) => Some((*other).to_owned()),
        Text::Missing => None,
    }
}

fuzz_target!(|input: Input<'_>| {
    let fixture = fixture();
    let validate = |token: &str| fixture.runtime.block_on(fixture.validator.validate(token));

    // Anything a caller may send: never a panic, and never accepted, since nothing here holds
    // the key.
    assert!(validate(input.raw).is_err(), "{:?} was accepted", input.raw);

    // A token the issuer's key did sign, with fuzzed header and claims.
    let parts = &input.parts;
    let now = now();
    let alg = text(&parts.alg, "EdDSA");
    let kid = text(&parts.kid, "k1");
    let iss = text(&parts.iss, ISSUER);
    let mut header = serde_json::Map::new();
    if let Some(alg) = &alg {
        header.insert("alg".into(), json!(alg));
    }
    if let Some(kid) = &kid {
        header.insert("kid".into(), json!(kid));
    }
    let mut claims = serde_json::Map::new();
    if let Some(iss) = &iss {
        claims.insert("iss".into(), json!(iss));
    }
    match &parts.aud {
        Audience::Resource => drop(claims.insert("aud".into(), json!(RESOURCE))),
        Audience::Among(other) => drop(claims.insert("aud".into(), json!([other, RESOURCE]))),
        Audience::Other(other) => drop(claims.insert("aud".into(), json!(other))),
        Audience::Missing => {}
    }
    if let Some(exp) = parts.exp {
        claims.insert("exp".into(), json!(now + i64::from(exp)));
    }
    if let Some(nbf) = parts.nbf {
        claims.insert("nbf".into(), json!(now + i64::from(nbf)));
    }
    for (name, value) in [("sub", parts.sub), ("client_id", parts.client_id), ("scope", parts.scope)] {
        if let Some(value) = value {
            claims.insert(name.into(), json!(value));
        }
    }
    let encode = |value: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    let message = format!("{}.{}", encode(Value::Object(header)), encode(Value::Object(claims)));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &fixture.key, Algorithm::EdDSA).expect("sign");
    let token = format!("{message}.{signature}");
    let Ok(accepted) = validate(&token) else {
        return;
    };
    assert_eq!(alg.as_deref(), Some("EdDSA"), "accepted under alg {alg:?}");
    assert!(kid.as_deref().is_none_or(|kid| kid == "k1"), "accepted under kid {kid:?}");
    assert_eq!(iss.as_deref(), Some(ISSUER));
    assert_eq!(accepted.issuer, ISSUER);
    let meant_for_us = match parts.aud {
        Audience::Resource | Audience::Among(_) => true,
        Audience::Other(other) => other == RESOURCE,
        Audience::Missing => false,
    };
    assert!(meant_for_us, "accepted for audience {:?}", parts.aud);
    let exp = parts.exp.expect("accepted without exp");
    // jsonwebtoken's rule: expired when exp < now - leeway (a second may pass meanwhile).
    assert!(i64::from(exp) + LEEWAY as i64 >= -1, "accepted {exp} s after expiry");
    if let Some(nbf) = parts.nbf {
        assert!(i64::from(nbf) - LEEWAY as i64 <= 1, "accepted {nbf} s before nbf");
    }
    assert!(parts.sub.is_some() || parts.client_id.is_some(), "accepted without a subject or client");
    assert_eq!(accepted.subject.as_deref(), parts.sub);
});
