//! Compile-fail tests: each file under `ui/` is a mistake `zk!`, `acl!` or the derive must
//! refuse, and its `.stderr` is the diagnostic users see (regenerate with
//! `TRYBUILD=overwrite cargo test -p zk-dsl-macros --test ui` after an intended change).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
