//! The seed's helper namespaces (`zookeeper` ACL fns, `zookeeper.data`, `zookeeper.util`)
//! against the values recorded in the reference: pure, no server needed.

use base64::Engine as _;
use sha1::Digest as _;
use zk_dsl::acl::{self, AclError, Perms, DEFAULT_PERMS};
use zk_dsl::data;
use zk_dsl::util;
use zk_dsl::{Error, ZNodeData};

// ---- zookeeper.data: every encoding byte for byte (reference §7) ----

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace().map(|b| u8::from_str_radix(b, 16).expect("test hex")).collect()
}

/// Encodes with the free function and the trait, checks both against the seed's bytes, and
/// decodes them back.
fn check<T: ZNodeData + PartialEq + std::fmt::Debug>(value: T, encoded: &[u8], seed_hex: &str) {
    let expected = hex(seed_hex);
    assert_eq!(encoded, expected, "free encoder for {value:?}");
    assert_eq!(value.to_znode_bytes().unwrap(), expected, "ZNodeData for {value:?}");
    assert_eq!(T::from_znode_bytes(&expected).unwrap(), value, "decode of {seed_hex}");
}

#[test]
fn string_is_utf8_without_prefix_or_terminator() {
    check(String::from("héllo"), &data::encode_string("héllo"), "68 C3 A9 6C 6C 6F");
    check(String::new(), &data::encode_string(""), "");
    assert_eq!(data::to_string(&hex("68 C3 A9 6C 6C 6F")).unwrap(), "héllo");
}

#[test]
fn int_is_4_bytes_big_endian() {
    check(1234i32, &data::encode_int(1234), "00 00 04 D2");
    check(-1i32, &data::encode_int(-1), "FF FF FF FF");
    assert_eq!(data::to_int(&hex("00 00 04 D2")).unwrap(), 1234);
}

#[test]
fn long_is_8_bytes_big_endian() {
    check(1234i64, &data::encode_long(1234), "00 00 00 00 00 00 04 D2");
    check(-2i64, &data::encode_long(-2), "FF FF FF FF FF FF FF FE");
    // Avout's "trigger watchers" value, `(to-bytes 0)`.
    check(0i64, &data::encode_long(0), "00 00 00 00 00 00 00 00");
    assert_eq!(data::to_long(&hex("FF FF FF FF FF FF FF FE")).unwrap(), -2);
}

#[test]
fn double_is_ieee754_binary64_big_endian() {
    check(123.456f64, &data::encode_double(123.456), "40 5E DD 2F 1A 9F BE 77");
    assert_eq!(data::encode_double(f64::NAN).to_vec(), hex("7F F8 00 00 00 00 00 00"));
    assert!(data::to_double(&hex("7F F8 00 00 00 00 00 00")).unwrap().is_nan());
    assert_eq!(data::to_double(&hex("40 5E DD 2F 1A 9F BE 77")).unwrap(), 123.456);
}

#[test]
fn float_is_ieee754_binary32_big_endian() {
    check(123.456f32, &data::encode_float(123.456), "42 F6 E9 79");
    assert_eq!(data::to_float(&hex("42 F6 E9 79")).unwrap(), 123.456f32);
}

#[test]
fn short_is_2_bytes_big_endian() {
    check(12i16, &data::encode_short(12), "00 0C");
    assert_eq!(data::to_short(&hex("00 0C")).unwrap(), 12);
}

#[test]
fn char_is_one_utf16_unit() {
    check('a', &data::encode_char('a').unwrap(), "00 61");
    check('é', &data::encode_char('é').unwrap(), "00 E9");
    assert_eq!(data::to_char(&hex("00 E9")).unwrap(), 'é');
    // Outside the BMP a Java char cannot hold it: an error, not half a surrogate pair.
    let e = data::encode_char('😀').unwrap_err();
    assert_eq!(e.type_name, "char");
    assert!('😀'.to_znode_bytes().is_err());
}

#[test]
fn too_few_bytes_is_an_error_for_every_fixed_width_type() {
    assert!(data::to_int(&[0, 0, 4]).is_err());
    assert!(data::to_long(&hex("00 00 04 D2")).is_err()); // an Integer's bytes read as a Long
    assert!(data::to_short(&[1]).is_err());
    assert!(data::to_double(&[0; 7]).is_err());
    assert!(data::to_float(&[0; 3]).is_err());
    assert!(data::to_char(&[0x61]).is_err());
    for empty in [data::to_int(&[]).is_err(), data::to_long(&[]).is_err(), data::to_char(&[]).is_err()] {
        assert!(empty);
    }
}

#[test]
fn too_many_bytes_is_an_error_where_the_seed_reads_a_prefix() {
    // The seed's `(to-int (to-bytes 1234))` is 0: it reads a Long's four high bytes.
    let e = data::to_int(&data::encode_long(1234)).unwrap_err();
    assert_eq!(e.reason, "expected exactly 4 bytes (big-endian i32), got 8");
    assert!(i16::from_znode_bytes(&[0, 1, 2]).is_err());
    // With the path attached it is the crate's Codec error.
    let err = e.with_path("/parent");
    assert!(
        matches!(err, Error::Codec { ref source, path: Some(ref path) } if source.type_name == "i32" && path == "/parent")
    );
}

#[test]
fn invalid_utf8_is_an_error_and_lossy_matches_java() {
    assert!(data::to_string(&[0xFF]).is_err());
    assert_eq!(data::to_string_lossy(&[0x61, 0xFF]), "a\u{FFFD}");
}

#[test]
fn edn_text_round_trips_as_the_readme_shows() {
    let form = "{:a 1, :b 2, :c 3}";
    let bytes = data::to_bytes(&form.to_owned()).unwrap();
    assert_eq!(data::from_bytes::<String>(&bytes).unwrap(), form);
}

// ---- ACL helpers (reference §2, §4, §9) ----

const DAVID_SECRET_ID: &str = "david:skR34IUghqUm2jMeXKyHqHxr3Gk=";

#[test]
fn digest_acl_stores_the_hashed_id_zookeeper_compares_against() {
    // Computed independently: sha1 of "david:secret", standard base64 with padding.
    let independent =
        format!("david:{}", base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(b"david:secret")));
    // And by another route (`printf 'david:secret' | openssl sha1 -binary | base64`), recorded
    // in the reference as what the server stores for `add-auth-info "digest" "david:secret"`.
    assert_eq!(independent, DAVID_SECRET_ID);

    let entry = acl::digest_acl("david", "secret", DEFAULT_PERMS).unwrap();
    assert_eq!(entry.id.scheme, "digest");
    assert_eq!(entry.id.id, DAVID_SECRET_ID);
    assert_eq!(entry.perms.bits(), 15);
    assert_eq!(acl::digest_id("david", "secret"), DAVID_SECRET_ID);
}

#[test]
fn hash_password_matches_the_seeds_output_format() {
    // The seed's `(hash-password "david:secret")`: bare base64, no user prefix.
    assert_eq!(acl::hash_password("david", "secret"), "skR34IUghqUm2jMeXKyHqHxr3Gk=");
}

#[test]
fn single_permission_works() {
    let entry = acl::world_acl(Perms::READ).unwrap();
    assert_eq!((entry.perms.bits(), entry.id.to_string()), (1, "world:anyone".to_owned()));
    assert_eq!(acl::acl("world", "anyone", Perms::from_names(["read"]).unwrap()).unwrap(), entry);
    assert_eq!(acl::auth_acl(Perms::ADMIN).unwrap().perms, Perms::ADMIN);
}

#[test]
fn perms_from_names() {
    assert_eq!(Perms::from_names(["read", "write"]), Ok(Perms::READ | Perms::WRITE));
    assert_eq!(Perms::from_names(["read", "admin"]).unwrap().bits(), 17);
    assert_eq!(Perms::from_names(["read", "read"]), Ok(Perms::READ));
    assert_eq!(Perms::from_names(["read", "execute"]), Err(AclError::UnknownPerm { name: "execute".into() }));
}

#[test]
fn unknown_scheme_is_an_error() {
    assert_eq!(acl::acl("kerberos", "x", Perms::READ), Err(AclError::UnknownScheme { scheme: "kerberos".into() }));
    assert!(matches!(acl::acl("super", "", Perms::ALL), Err(AclError::UnknownScheme { .. })));
    let err: Error = acl::acl("kerberos", "x", Perms::READ).unwrap_err().into();
    // The AclError is the source, typed (and not repeated in the message).
    let source = std::error::Error::source(&err).and_then(|s| s.downcast_ref::<AclError>());
    assert!(matches!(source, Some(AclError::UnknownScheme { scheme }) if scheme == "kerberos"), "{err:?}");
    assert!(!err.to_string().contains("kerberos"), "{err}");
}

#[test]
fn helpers_match_the_seeds_entries() {
    assert_eq!(acl::world_acl(DEFAULT_PERMS).unwrap().to_string(), "world:anyone read|write|create|delete");
    let ip = acl::ip_acl("127.0.0.1", Perms::ALL).unwrap();
    assert_eq!((ip.id.scheme.as_str(), ip.id.id.as_str(), ip.perms.bits()), ("ip", "127.0.0.1", 31));
    let auth = acl::auth_acl(DEFAULT_PERMS).unwrap();
    assert_eq!((auth.id.scheme.as_str(), auth.id.id.as_str()), ("auth", ""));
    let host = acl::host_acl("example.com", Perms::READ | Perms::WRITE).unwrap();
    assert_eq!(host.id, acl::acl_id("host", "example.com"));
}

#[test]
fn acl_constants_are_zookeepers() {
    assert_eq!(acl::open_acl_unsafe(), vec![acl::acl("world", "anyone", Perms::ALL).unwrap()]);
    assert_eq!(acl::read_acl_unsafe(), vec![acl::acl("world", "anyone", Perms::READ).unwrap()]);
    assert_eq!(acl::creator_all_acl(), vec![acl::acl("auth", "", Perms::ALL).unwrap()]);
    assert_eq!(acl::anyone_id_unsafe().to_string(), "world:anyone");
    assert_eq!(acl::auth_ids().to_string(), "auth:");
}

// ---- zookeeper.util (reference §8) ----

#[test]
fn extract_id_as_the_seed() {
    assert_eq!(util::extract_id("child-0000000002"), Ok(2));
    assert_eq!(util::extract_id("/a/b/n-0000000042"), Ok(42));
    assert_eq!(util::extract_id("n--000000001"), Ok(-1));
    assert!(util::extract_id("child-").is_err());
    assert!(util::extract_id("not-a-sequence").is_err());
}

#[test]
fn sort_is_by_suffix_only_and_stable() {
    let sorted = util::sort_sequential_nodes(["z-0000000001", "a-0000000001", "m-0000000000"]).unwrap();
    assert_eq!(sorted, ["m-0000000000", "z-0000000001", "a-0000000001"]);
    let desc = util::sort_sequential_nodes_desc(["z-0000000001", "m-0000000000", "a-0000000001"]).unwrap();
    assert_eq!(desc, ["z-0000000001", "a-0000000001", "m-0000000000"]);
    assert!(util::sort_sequential_nodes(Vec::<String>::new()).unwrap().is_empty());
    assert!(util::sort_sequential_nodes(["n-0000000001", "ready"]).is_err());
}

#[test]
fn sort_keeps_creation_order_across_the_counter_wrap() {
    // Created in this order under one parent: early node 5 is still alive when the counter
    // passes i32::MAX, wraps to i32::MIN and counts up towards -1. (`%010d` of -999999999 and
    // of i32::MIN are the suffixes the name alone can read; see the prefix test for the rest.)
    let created = ["n-0000000005", "n-2147483646", "n-2147483647", "n--2147483648", "n--999999999", "n--000000001"];
    let mut shuffled = created.to_vec();
    shuffled.reverse();
    shuffled.swap(1, 4);
    assert_eq!(util::sort_sequential_nodes(shuffled.clone()).unwrap(), created);
    let mut newest_first = created.to_vec();
    newest_first.reverse();
    assert_eq!(util::sort_sequential_nodes_desc(shuffled).unwrap(), newest_first);
    assert_eq!(util::index_sequential_nodes(["n--2147483648"]).unwrap(), [(i32::MIN, "n--2147483648")]);
}

#[test]
fn sort_with_prefix_is_exact_for_eleven_character_negatives() {
    // From i32::MIN up to -1000000000 the suffix is eleven characters, so "n--1500000000" could
    // be prefix "n-" with -1500000000 or prefix "n--" with 1500000000; knowing the prefix decides.
    let created = ["n-0000000005", "n-2147483647", "n--2147483648", "n--2147483647", "n--1500000000", "n--000000001"];
    let mut shuffled = created.to_vec();
    shuffled.rotate_left(2);
    shuffled.swap(0, 3);
    assert_eq!(util::sort_sequential_nodes_with_prefix("n-", shuffled).unwrap(), created);
    assert_eq!(util::extract_id_with_prefix("n-", "n--1500000000"), Ok(-1_500_000_000));
    assert!(util::sort_sequential_nodes_with_prefix("n-", ["n-0000000001", "m-0000000002"]).is_err());
}

#[test]
fn index_keeps_input_order() {
    let names = vec!["b-0000000003".to_owned(), "a-0000000001".to_owned()];
    let indexed = util::index_sequential_nodes(names).unwrap();
    assert_eq!(indexed, [(3, "b-0000000003".to_owned()), (1, "a-0000000001".to_owned())]);
}

#[test]
fn prefix_and_suffix_are_literal() {
    let names = ["a.1", "ab", "a.", "xa.1"];
    assert_eq!(util::filter_nodes_by_prefix("a.", names), ["a.1", "a."]);
    assert_eq!(util::filter_nodes_by_suffix(".1", names), ["a.1", "xa.1"]);
    assert_eq!(util::filter_nodes_by_suffix("b$", ["ab", "b$"]), ["b$"]);
    assert!(util::filter_nodes_by_prefix("a.", ["ab"]).is_empty());
}

#[cfg(feature = "regex")]
#[test]
fn pattern_matches_anywhere_as_re_find() {
    let re = regex::Regex::new(r"\d{3}").unwrap();
    assert_eq!(util::filter_nodes_by_pattern(&re, ["x-123-y", "x-12", "999"]), ["x-123-y", "999"]);
}

#[test]
fn closure_filter_needs_no_regex() {
    let kept = util::filter_nodes_by(vec!["lock-1".to_owned(), "ready".to_owned()], |n| n.starts_with("lock-"));
    assert_eq!(kept, ["lock-1"]);
}
