//! Tests of the tests' JSON reader (tests/common/json.rs).
mod common;

use common::json::{parse, Value};

#[test]
fn scalars() {
    assert_eq!(parse("null"), Ok(Value::Null));
    assert_eq!(parse(" true "), Ok(Value::Bool(true)));
    assert_eq!(parse("false"), Ok(Value::Bool(false)));
    assert_eq!(parse("0"), Ok(Value::Number(0.0)));
    assert_eq!(parse("-12.5e-1"), Ok(Value::Number(-1.25)));
    assert_eq!(parse("1E+2"), Ok(Value::Number(100.0)));
    assert_eq!(parse("5.244271278381348").unwrap().as_f64(), 5.244271278381348);
    assert_eq!(parse("0.1").unwrap().as_f64(), 0.1);
    assert_eq!(parse("1e-320").unwrap().as_f64(), 1e-320);
    assert_eq!(parse("65536").unwrap().as_i64(), 65536);
}

#[test]
fn strings_and_escapes() {
    assert_eq!(
        parse(r#""a\"b\\c\/d\n\t\r\b\f""#).unwrap().as_str(),
        "a\"b\\c/d\n\t\r\u{8}\u{c}"
    );
    assert_eq!(parse(r#""\u00e9\u4e2d""#).unwrap().as_str(), "é中");
    assert_eq!(parse(r#""\ud83d\ude00""#).unwrap().as_str(), "😀");
    assert_eq!(parse("\"plain UTF-8: κ β\"").unwrap().as_str(), "plain UTF-8: κ β");
    assert_eq!(parse(r#""""#).unwrap().as_str(), "");
}

#[test]
fn containers() {
    let v = parse(r#" { "a" : [1, [2, 3], {}], "b": {"c": null}, "d": [] } "#).unwrap();
    assert_eq!(v.get("a").as_array().len(), 3);
    assert_eq!(v.get("a").as_array()[1].f64s(), vec![2.0, 3.0]);
    assert_eq!(v.get("b").get("c"), &Value::Null);
    assert!(v.get("d").as_array().is_empty());
    assert!(v.try_get("zz").is_none());
    let m = parse("[[1, 2, 3], [4, 5, 6]]").unwrap().matrix();
    assert_eq!(m, (vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3));
}

#[test]
fn rejects_malformed_input() {
    for bad in [
        "",
        "[",
        "]",
        "[1,]",
        "{\"a\":1,}",
        "{a:1}",
        "01",
        "1.",
        ".5",
        "-",
        "1e",
        "+1",
        "tru",
        "nul",
        "\"abc",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"a\nb\"",
        "[1 2]",
        "{\"a\" 1}",
        "1 2",
        "NaN",
        "Infinity",
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
    let e = parse("[1, x]").unwrap_err();
    assert_eq!(e.offset, 4);
    assert!(parse(&"[".repeat(1000)).is_err()); // depth limit, no stack overflow
}

#[test]
fn reads_the_fixture() {
    let f = common::fixture();
    assert_eq!(f.get("abi_version").as_i64() >> 16, 1); // ABI 1.x
    let (_, rows, cols) = f.get("expert").matrix();
    assert_eq!((rows, cols), (6, 12));
}
