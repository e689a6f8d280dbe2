//! The SCIM filter builder: any attribute path, operator and value. A filter it builds must be
//! read back by an independent parser (the simulated bridge's) as exactly the clauses pushed, so
//! no value can add an operator, a clause or a grouping.
#![no_main]

use arbitrary::Arbitrary;
use bridge_sim::filter::{CompValue, Filter};
use libfuzzer_sys::fuzz_target;
use runtime::scim_filter::{CompareOp, FilterBuilder, FilterValue};

const PATHS: &[&str] = &[
    "userName",
    "emails.value",
    "active",
    "displayName",
    "externalId",
    "name.givenName",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "meta.lastModified",
];
const OPS: [CompareOp; 9] = [
    CompareOp::Eq,
    CompareOp::Ne,
    CompareOp::Co,
    CompareOp::Sw,
    CompareOp::Ew,
    CompareOp::Gt,
    CompareOp::Ge,
    CompareOp::Lt,
    CompareOp::Le,
];

#[derive(Arbitrary, Debug)]
enum Path {
    Known(u8),
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Val {
    String(String),
    Bool(bool),
    Integer(i64),
}

#[derive(Arbitrary, Debug)]
struct Clause {
    path: Path,
    op: u8,
    value: Val,
}

fn flatten<'a>(filter: &'a Filter, out: &mut Vec<&'a Filter>) {
    match filter {
        Filter::And(left, right) => {
            flatten(left, out);
            flatten(right, out);
        }
        other => out.push(other),
    }
}

fuzz_target!(|clauses: Vec<Clause>| {
    let mut builder = FilterBuilder::new();
    let mut pushed = Vec::new();
    for clause in clauses.into_iter().take(16) {
        let path = match clause.path {
            Path::Known(i) => PATHS[usize::from(i) % PATHS.len()].to_owned(),
            Path::Other(path) => path,
        };
        let op = OPS[usize::from(clause.op) % OPS.len()];
        let value = match clause.value {
            Val::String(s) => FilterValue::String(s),
            Val::Bool(b) => FilterValue::Bool(b),
            Val::Integer(i) => FilterValue::Integer(i),
        };
        if builder.push(&path, op, value.clone()).is_ok() {
            pushed.push((path, op, value));
        }
    }
    let Some(text) = builder.build() else {
        assert!(pushed.is_empty());
        return;
    };
    let parsed = bridge_sim::filter::parse(&text)
        .unwrap_or_else(|error| panic!("built filter {text:?} does not parse: {error}"));
    let mut leaves = Vec::new();
    flatten(&parsed, &mut leaves);
    assert_eq!(leaves.len(), pushed.len(), "{text:?} parsed as {parsed:?}");
    for (leaf, (path, op, value)) in leaves.into_iter().zip(&pushed) {
        let Filter::Compare {
            path: got_path,
            op: got_op,
            value: got_value,
        } = leaf
        else {
            panic!("{text:?}: clause for {path:?} parsed as {leaf:?}");
        };
        assert_eq!(got_path.to_string(), *path, "{text:?}");
        assert_eq!(got_op.keyword(), op.as_str(), "{text:?}");
        let same = match (value, got_value) {
            (FilterValue::String(a), CompValue::String(b)) => a == b,
            (FilterValue::Bool(a), CompValue::Bool(b)) => a == b,
            (FilterValue::Integer(a), CompValue::Number(b)) => b.as_i64() == Some(*a),
            _ => false,
        };
        assert!(same, "{text:?}: {value:?} read back as {got_value:?}");
    }
});
