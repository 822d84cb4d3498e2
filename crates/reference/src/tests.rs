//! Table tests. Most cases come from distribution/reference's own tests
//! (regexp_test.go, reference_test.go, normalize_test.go), so behaviour stays
//! pinned to Docker's.

use super::*;
use crate::grammar::{is_domain, match_name, match_reference};

const H64: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
const DBCC: &str = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";

fn norm(s: &str) -> Reference {
    Reference::parse_normalized(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn norm_err(s: &str) -> String {
    match Reference::parse_normalized(s) {
        Ok(r) => panic!("{s:?}: expected an error, got {r}"),
        Err(e) => e.to_string(),
    }
}

// ---- grammar (regexp_test.go) ----

#[test]
fn domain_grammar() {
    let cases: &[(&str, bool)] = &[
        ("test.com", true),
        ("test.com:10304", true),
        ("test.com:http", false),
        ("localhost", true),
        ("localhost:8080", true),
        ("a", true),
        ("a.b", true),
        ("ab.cd.com", true),
        ("a-b.com", true),
        ("-ab.com", false),
        ("ab-.com", false),
        ("ab.c-om", true),
        ("ab.-com", false),
        ("ab.com-", false),
        ("0101.com", true),
        ("001a.com", true),
        ("b.gbc.io:443", true),
        ("b.gbc.io", true),
        ("xn--n3h.com", true),
        ("Asdf.com", true),
        ("192.168.1.1:75050", true),
        ("192.168.1.1:750050", true),
        ("[fd00:1:2::3]:75050", true),
        ("[fd00:1:2::3]75050", false),
        ("[fd00:1:2::3]::75050", false),
        ("[fd00:1:2::3%eth0]:75050", false),
        ("[fd00123123123]:75050", true),
        ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:75050", true),
        ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:750505", true),
        ("fd00:1:2::3:75050", false),
        // Our own edge cases.
        ("", false),
        ("a..b", false),
        ("a.", false),
        ("a:", false),
        ("[]", false),
        ("[::1", false),
        ("[::1]:", false),
        ("foo_bar.com", false),
    ];
    for &(input, want) in cases {
        assert_eq!(is_domain(input), want, "{input:?}");
    }
}

#[test]
fn name_grammar() {
    let a128 = format!("{}a", "a/".repeat(128));
    let a127 = format!("{}a", "a/".repeat(127));
    let cases: &[(&str, Option<(&str, &str)>)] = &[
        ("", None),
        ("short", Some(("", "short"))),
        ("simple/name", Some(("simple", "name"))),
        ("library/ubuntu", Some(("library", "ubuntu"))),
        ("docker/stevvooe/app", Some(("docker", "stevvooe/app"))),
        (
            "aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb",
            Some(("aa", "aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb")),
        ),
        ("aa/aa/bb/bb/bb", Some(("aa", "aa/bb/bb/bb"))),
        ("a/a/a/a", Some(("a", "a/a/a"))),
        ("a/a/a/a/", None),
        ("a//a/a", None),
        ("a", Some(("", "a"))),
        ("a/aa", Some(("a", "aa"))),
        ("a/aa/a", Some(("a", "aa/a"))),
        ("foo.com", Some(("", "foo.com"))),
        ("foo.com/", None),
        ("foo.com:8080/bar", Some(("foo.com:8080", "bar"))),
        ("foo.com:http/bar", None),
        ("foo.com/bar", Some(("foo.com", "bar"))),
        ("foo.com/bar/baz", Some(("foo.com", "bar/baz"))),
        ("localhost:8080/bar", Some(("localhost:8080", "bar"))),
        ("sub-dom1.foo.com/bar/baz/quux", Some(("sub-dom1.foo.com", "bar/baz/quux"))),
        ("blog.foo.com/bar/baz", Some(("blog.foo.com", "bar/baz"))),
        ("a^a", None),
        ("aa/asdf$$^/aa", None),
        ("asdf$$^/aa", None),
        ("aa-a/a", Some(("aa-a", "a"))),
        (&a128, Some(("a", &a127))),
        ("a-/a/a/a", None),
        ("foo.com/a-/a/a", None),
        ("-foo/bar", None),
        ("foo/bar-", None),
        ("foo-/bar", None),
        ("foo/-bar", None),
        ("_foo/bar", None),
        ("foo_bar", Some(("", "foo_bar"))),
        ("foo_bar.com", Some(("", "foo_bar.com"))),
        ("foo_bar.com:8080", None),
        ("foo_bar.com:8080/app", None),
        ("foo.com/foo_bar", Some(("foo.com", "foo_bar"))),
        ("____/____", None),
        ("_docker/_docker", None),
        ("docker_/docker_", None),
        ("b.gcr.io/test.example.com/my-app", Some(("b.gcr.io", "test.example.com/my-app"))),
        ("xn--n3h.com/myimage", Some(("xn--n3h.com", "myimage"))),
        ("xn--7o8h.com/myimage", Some(("xn--7o8h.com", "myimage"))),
        ("example.com/xn--7o8h.com/myimage", Some(("example.com", "xn--7o8h.com/myimage"))),
        (
            "example.com/some_separator__underscore/myimage",
            Some(("example.com", "some_separator__underscore/myimage")),
        ),
        ("example.com/__underscore/myimage", None),
        ("example.com/..dots/myimage", None),
        ("example.com/.dots/myimage", None),
        ("example.com/nodouble..dots/myimage", None),
        ("docker./docker", None),
        (".docker/docker", None),
        ("docker-/docker", None),
        ("-docker/docker", None),
        ("do..cker/docker", None),
        ("do__cker:8080/docker", None),
        ("do__cker/docker", Some(("", "do__cker/docker"))),
        (
            "registry.io/foo/project--id.module--name.ver---sion--name",
            Some(("registry.io", "foo/project--id.module--name.ver---sion--name")),
        ),
        ("Asdf.com/foo/bar", Some(("Asdf.com", "foo/bar"))),
        ("Foo/FarB", None),
        // Separators: one '.', one or two '_', any run of '-'.
        ("a___b", None),
        ("a__b", Some(("", "a__b"))),
        ("a----b", Some(("", "a----b"))),
        ("a.-b", None),
    ];
    for &(input, want) in cases {
        assert_eq!(match_name(input), want, "{input:?}");
    }
}

#[test]
fn reference_grammar() {
    let d = "sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912";
    let with = |s: &str| s.replace("DIG", d);
    // (input, expected (name, tag if checked, has the digest) or no match)
    type Case<'a> = (String, Option<(&'a str, Option<&'a str>, bool)>);
    let cases: Vec<Case> = vec![
        (with("registry.com:8080/myapp:tag"), Some(("registry.com:8080/myapp", Some("tag"), false))),
        (with("registry.com:8080/myapp@DIG"), Some(("registry.com:8080/myapp", None, true))),
        (with("registry.com:8080/myapp:tag2@DIG"), Some(("registry.com:8080/myapp", Some("tag2"), true))),
        (with("registry.com:8080/myapp@sha256:badbadbadbad"), None),
        (with("registry.com:8080/myapp:invalid~tag"), None),
        (with("bad_hostname.com:8080/myapp:tag"), None),
        // "localhost" is a name here and 8080 its tag.
        (with("localhost:8080@DIG"), Some(("localhost", Some("8080"), true))),
        (with("localhost:8080/name@DIG"), Some(("localhost:8080/name", None, true))),
        (with("localhost:http/name@DIG"), None),
        (with("localhost@DIG"), Some(("localhost", None, true))),
        (with("registry.com:8080/myapp@bad"), None),
        (with("registry.com:8080/myapp@2bad"), None),
        // Our own edge cases.
        (with("a@DIG@DIG"), None),
        (with("a:@DIG"), None),
        (with("a@"), None),
        (with(":tag"), None),
        (format!("a:{}", "t".repeat(128)), Some(("a", None, false))),
        (format!("a:{}", "t".repeat(129)), None),
    ];
    for (input, want) in &cases {
        let got = match_reference(input);
        match (got, want) {
            (None, None) => {}
            (Some(p), Some((name, tag, has_digest))) => {
                let full =
                    if p.domain.is_empty() { p.path.to_owned() } else { format!("{}/{}", p.domain, p.path) };
                assert_eq!(full, *name, "{input:?}");
                if tag.is_some() {
                    assert_eq!(p.tag, *tag, "{input:?}");
                }
                assert_eq!(p.digest == Some(d), *has_digest, "{input:?}");
            }
            (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn identifiers() {
    assert!(is_identifier("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821"));
    assert!(!is_identifier("7EC43B381E5AEFE6E04EFB0B3F0693FF2A4A50652D64AEC573905F2DB5889A1C"));
    assert!(!is_identifier("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf"));
    assert!(!is_identifier("sha256:da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821"));
    assert!(!is_identifier("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf98218482"));
}

#[test]
fn tags() {
    for ok in ["latest", "Uppercase", "_x", "1.0", "v1.2-rc_3", &"a".repeat(128)] {
        assert!(is_valid_tag(ok), "{ok:?}");
    }
    for bad in ["", ".x", "-x", "a/b", "a:b", "a@b", "invalid~tag", "é", &"a".repeat(129)] {
        assert!(!is_valid_tag(bad), "{bad:?}");
    }
}

// ---- digests (go-digest) ----

#[test]
fn digests() {
    let d = Digest::parse(&format!("sha256:{DBCC}")).unwrap();
    assert_eq!(d.algorithm(), "sha256");
    assert_eq!(d.hex(), DBCC);
    assert!(d.is_sha256());
    assert_eq!(d.to_string(), format!("sha256:{DBCC}"));
    assert_eq!(format!("sha256:{DBCC}").parse::<Digest>().unwrap(), d);
    assert_eq!(Digest::sha256(DBCC).unwrap(), d);

    let d384 = Digest::parse(&format!("sha384:{}", "a".repeat(96))).unwrap();
    assert!(!d384.is_sha256());
    Digest::parse(&format!("sha512:{}", "0".repeat(128))).unwrap();

    let cases: &[(String, &str)] = &[
        (String::new(), "invalid checksum digest format"),
        ("sha256".into(), "invalid checksum digest format"),
        ("sha256:".into(), "invalid checksum digest format"),
        (format!(":{DBCC}"), "invalid checksum digest format"),
        (format!("sha256:{}", DBCC.to_uppercase()), "invalid checksum digest format"),
        (format!("sha256:{}g", &DBCC[1..]), "invalid checksum digest format"),
        ("sha256:abc".into(), "invalid checksum digest length"),
        (format!("sha256:{DBCC}00"), "invalid checksum digest length"),
        (format!("sha512:{DBCC}"), "invalid checksum digest length"),
        (format!("md5:{DBCC}"), "unsupported digest algorithm"),
        (format!("invaliddigest:{H64}"), "unsupported digest algorithm"),
        (format!("sha256+b64:{H64}"), "unsupported digest algorithm"),
        (format!("SHA256:{DBCC}"), "invalid checksum digest format"),
        (format!("sha256:{DBCC}:x"), "invalid checksum digest length"),
        ("foo:bar baz".into(), "invalid checksum digest format"),
    ];
    for (input, want) in cases {
        let err = Digest::parse(input).expect_err(input);
        assert_eq!(err.to_string(), *want, "{input:?}");
    }
}

// ---- distribution's raw Parse (reference_test.go TestReferenceParse) ----

#[test]
fn raw_parse_table() {
    struct Case {
        input: String,
        err: Option<ReferenceError>,
        name: &'static str,
        domain: &'static str,
        tag: Option<&'static str>,
        digest: Option<String>,
    }
    let ok = |input: &str, name: &'static str, domain: &'static str, tag: Option<&'static str>| Case {
        input: input.into(),
        err: None,
        name,
        domain,
        tag,
        digest: None,
    };
    let okd =
        |input: String, name: &'static str, domain: &'static str, tag: Option<&'static str>, d: String| {
            Case { input, err: None, name, domain, tag, digest: Some(d) }
        };
    let err = |input: String, e: ReferenceError| Case {
        input,
        err: Some(e),
        name: "",
        domain: "",
        tag: None,
        digest: None,
    };
    let sha = format!("sha256:{H64}");
    let sha512 = format!("sha512:{H64}{H64}");
    use ReferenceError as E;
    let long127 = format!("{}a", "a/".repeat(127));
    let long_name: &'static str = Box::leak(long127.clone().into_boxed_str());
    let ex255: &'static str = Box::leak(format!("example.com/{}", "a".repeat(255)).into_boxed_str());
    let cases = vec![
        ok("test_com", "test_com", "", None),
        ok("test.com:tag", "test.com", "", Some("tag")),
        ok("test.com:5000", "test.com", "", Some("5000")),
        ok("test.com/repo:tag", "test.com/repo", "test.com", Some("tag")),
        ok("test:5000/repo", "test:5000/repo", "test:5000", None),
        ok("test:5000/repo:tag", "test:5000/repo", "test:5000", Some("tag")),
        okd(format!("test:5000/repo@{sha}"), "test:5000/repo", "test:5000", None, sha.clone()),
        okd(format!("test:5000/repo:tag@{sha}"), "test:5000/repo", "test:5000", Some("tag"), sha.clone()),
        err(String::new(), E::NameEmpty),
        err(":justtag".into(), E::InvalidFormat),
        err(format!("@{sha}"), E::InvalidFormat),
        err("repo@sha256:ffffffffffffffffffffffffffffffffff".into(), E::DigestInvalidLength),
        err(format!("validname@invaliddigest:{H64}"), E::DigestUnsupported),
        err("Uppercase:tag".into(), E::NameContainsUppercase),
        err("test:5000/Uppercase/lowercase:tag".into(), E::NameContainsUppercase),
        ok("lowercase:Uppercase", "lowercase", "", Some("Uppercase")),
        err(format!("domain/{}:tag", "a".repeat(256)), E::NameTooLong),
        ok(&format!("{long127}:tag-puts-this-over-max"), long_name, "a", Some("tag-puts-this-over-max")),
        err("aa/asdf$$^/aa".into(), E::InvalidFormat),
        ok("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", None),
        ok(
            "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
            "sub-dom1.foo.com/bar/baz/quux",
            "sub-dom1.foo.com",
            Some("some-long-tag"),
        ),
        ok(
            "b.gcr.io/test.example.com/my-app:test.example.com",
            "b.gcr.io/test.example.com/my-app",
            "b.gcr.io",
            Some("test.example.com"),
        ),
        ok("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com/myimage", "xn--n3h.com", Some("xn--n3h.com")),
        okd(
            format!("xn--7o8h.com/myimage:xn--7o8h.com@{sha512}"),
            "xn--7o8h.com/myimage",
            "xn--7o8h.com",
            Some("xn--7o8h.com"),
            sha512.clone(),
        ),
        ok("foo_bar.com:8080", "foo_bar.com", "", Some("8080")),
        ok("foo/foo_bar.com:8080", "foo/foo_bar.com", "foo", Some("8080")),
        ok("192.168.1.1", "192.168.1.1", "", None),
        ok("192.168.1.1:tag", "192.168.1.1", "", Some("tag")),
        ok("192.168.1.1:5000", "192.168.1.1", "", Some("5000")),
        ok("192.168.1.1/repo", "192.168.1.1/repo", "192.168.1.1", None),
        ok("192.168.1.1:5000/repo", "192.168.1.1:5000/repo", "192.168.1.1:5000", None),
        ok("192.168.1.1:5000/repo:5050", "192.168.1.1:5000/repo", "192.168.1.1:5000", Some("5050")),
        err("[2001:db8::1]".into(), E::InvalidFormat),
        err("[2001:db8::1]:5000".into(), E::InvalidFormat),
        err("[2001:db8::1]:tag".into(), E::InvalidFormat),
        ok("[2001:db8::1]/repo", "[2001:db8::1]/repo", "[2001:db8::1]", None),
        ok(
            "[2001:db8:1:2:3:4:5:6]/repo:tag",
            "[2001:db8:1:2:3:4:5:6]/repo",
            "[2001:db8:1:2:3:4:5:6]",
            Some("tag"),
        ),
        ok("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", None),
        ok("[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", Some("tag")),
        okd(
            format!("[2001:db8::1]:5000/repo@{sha}"),
            "[2001:db8::1]:5000/repo",
            "[2001:db8::1]:5000",
            None,
            sha.clone(),
        ),
        okd(
            format!("[2001:db8::1]:5000/repo:tag@{sha}"),
            "[2001:db8::1]:5000/repo",
            "[2001:db8::1]:5000",
            Some("tag"),
            sha.clone(),
        ),
        ok("[2001:db8::]:5000/repo", "[2001:db8::]:5000/repo", "[2001:db8::]:5000", None),
        ok("[::1]:5000/repo", "[::1]:5000/repo", "[::1]:5000", None),
        err("[fe80::1%eth0]:5000/repo".into(), E::InvalidFormat),
        err("[fe80::1%@invalidzone]:5000/repo".into(), E::InvalidFormat),
        ok(&format!("{ex255}:tag"), ex255, "example.com", Some("tag")),
    ];
    for c in cases {
        let got = parse_raw(&c.input);
        if let Some(e) = c.err {
            assert_eq!(got, Err(e), "{:?}", c.input);
            continue;
        }
        let r = got.unwrap_or_else(|e| panic!("{:?}: {e}", c.input));
        assert_eq!(r.to_string(), c.input);
        assert_eq!(r.name(), c.name, "{:?}", c.input);
        assert_eq!(r.domain(), c.domain, "{:?}", c.input);
        assert_eq!(r.tag(), c.tag, "{:?}", c.input);
        assert_eq!(r.digest().map(Digest::to_string), c.digest, "{:?}", c.input);
    }
}

// ---- ParseNormalizedNamed (normalize_test.go) ----

#[test]
fn valid_reference_names() {
    for name in [
        "docker/docker",
        "library/debian",
        "debian",
        "docker.io/docker/docker",
        "docker.io/library/debian",
        "docker.io/debian",
        "index.docker.io/docker/docker",
        "index.docker.io/library/debian",
        "index.docker.io/debian",
        "127.0.0.1:5000/docker/docker",
        "127.0.0.1:5000/library/debian",
        "127.0.0.1:5000/debian",
        "192.168.0.1",
        "192.168.0.1:80",
        "192.168.0.1:8/debian",
        "192.168.0.2:25000/debian",
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "[fc00::1]:5000/docker",
        "[fc00::1]:5000/docker/docker",
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
        "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "Docker/docker",
        "DOCKER/docker",
        // TestValidateRemoteName
        "docker-rules/docker",
        "docker---rules/docker",
        "doc/docker",
        "d/docker",
        "jess/t",
        "dock__er/docker",
    ] {
        norm(name);
    }
}

#[test]
fn invalid_reference_names() {
    const FMT: &str = "invalid reference format";
    let hex = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";
    let ns = ["this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255"; 4].join("_");
    let too_long = format!("{ns}/docker");
    let hex_msg = format!("invalid repository name ({hex}), cannot specify 64-byte hexadecimal strings");
    let cases: &[(&str, &str)] = &[
        ("https://github.com/docker/docker", FMT),
        ("docker/Docker", "invalid reference format: repository name (docker/Docker) must be lowercase"),
        ("-docker", FMT),
        ("-docker/docker", FMT),
        ("-docker.io/docker/docker", FMT),
        ("docker///docker", FMT),
        (
            "docker.io/docker/Docker",
            "invalid reference format: repository name (docker/Docker) must be lowercase",
        ),
        ("docker.io/docker///docker", FMT),
        ("[fc00::1]", FMT),
        ("[fc00::1]:5000", FMT),
        ("fc00::1:5000/debian", FMT),
        ("[fe80::1%eth0]:5000/debian", FMT),
        ("[2001:db8:3:4::192.0.2.33]:5000/debian", FMT),
        (hex, &hex_msg),
        // TestValidateRemoteName
        ("docker-/docker", FMT),
        ("-docker-/docker", FMT),
        ("____/____", FMT),
        ("_docker/_docker", FMT),
        ("dock..er/docker", FMT),
        ("dock_.er/docker", FMT),
        ("dock-.er/docker", FMT),
        ("docker/", FMT),
        (&too_long, "repository name must not be more than 255 characters"),
        // Messages Docker users meet in practice.
        ("", FMT),
        ("Alpine", "invalid reference format: repository name (library/Alpine) must be lowercase"),
        ("Alpine:Latest", "invalid reference format: repository name (library/Alpine) must be lowercase"),
        ("localhost:5000/MyApp:1", "invalid reference format: repository name (MyApp) must be lowercase"),
        // The check stops at the first ':', even when that is in a digest.
        (
            &format!("Foo@sha256:{DBCC}"),
            "invalid reference format: repository name (library/Foo@sha256) must be lowercase",
        ),
        ("alpine:", FMT),
        ("alpine:-x", FMT),
        ("alpine:a/b", FMT),
        ("alpine@sha256:abc", FMT),
        (&format!("alpine@sha256:{}", DBCC.to_uppercase()), "invalid checksum digest format"),
        (&format!("alpine@md5:{DBCC}"), "unsupported digest algorithm"),
        (&format!("alpine@sha512:{DBCC}"), "invalid checksum digest length"),
        ("a b", FMT),
        ("alpine ", FMT),
        ("ubuntu:latest AS base", FMT),
        ("/alpine", FMT),
        (&"a".repeat(248), "repository name must not be more than 255 characters"),
    ];
    for &(input, want) in cases {
        assert_eq!(norm_err(input), want, "{input:?}");
    }
    // 247 + "library/" is exactly 255.
    norm(&"a".repeat(247));
}

#[test]
fn repository_info() {
    // (path, familiar, full, ambiguous, domain)
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        ("fooo/bar", "fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar", "docker.io"),
        ("library/ubuntu", "ubuntu", "docker.io/library/ubuntu", "library/ubuntu", "docker.io"),
        ("nonlibrary/ubuntu", "nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", "", "docker.io"),
        ("other/library", "other/library", "docker.io/other/library", "", "docker.io"),
        (
            "private/moonbase",
            "127.0.0.1:8000/private/moonbase",
            "127.0.0.1:8000/private/moonbase",
            "",
            "127.0.0.1:8000",
        ),
        ("privatebase", "127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase", "", "127.0.0.1:8000"),
        (
            "private/moonbase",
            "example.com/private/moonbase",
            "example.com/private/moonbase",
            "",
            "example.com",
        ),
        ("privatebase", "example.com/privatebase", "example.com/privatebase", "", "example.com"),
        (
            "private/moonbase",
            "example.com:8000/private/moonbase",
            "example.com:8000/private/moonbase",
            "",
            "example.com:8000",
        ),
        (
            "privatebasee",
            "example.com:8000/privatebasee",
            "example.com:8000/privatebasee",
            "",
            "example.com:8000",
        ),
        (
            "library/ubuntu-12.04-base",
            "ubuntu-12.04-base",
            "docker.io/library/ubuntu-12.04-base",
            "index.docker.io/library/ubuntu-12.04-base",
            "docker.io",
        ),
        ("library/foo", "foo", "docker.io/library/foo", "docker.io/foo", "docker.io"),
        ("library/foo/bar", "library/foo/bar", "docker.io/library/foo/bar", "", "docker.io"),
        ("store/foo/bar", "store/foo/bar", "docker.io/store/foo/bar", "", "docker.io"),
        ("bar", "Foo/bar", "Foo/bar", "", "Foo"),
        ("bar", "FOO/bar", "FOO/bar", "", "FOO"),
    ];
    for &(path, familiar, full, ambiguous, domain) in cases {
        for input in [familiar, full, ambiguous] {
            if input.is_empty() {
                continue;
            }
            let r = norm(input);
            assert_eq!(r.familiar_name(), familiar, "{input:?}");
            assert_eq!(r.to_string(), full, "{input:?}");
            assert_eq!(r.name(), full, "{input:?}");
            assert_eq!(r.domain(), domain, "{input:?}");
            assert_eq!(r.path(), path, "{input:?}");
        }
    }
}

#[test]
fn tag_and_digest() {
    let short = "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
    let r = norm(short);
    assert_eq!(r.to_string(), format!("docker.io/library/{short}"));
    assert_eq!(r.tag(), Some("latest"));
    assert_eq!(
        r.digest().map(Digest::hex),
        Some("86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa")
    );
    assert_eq!(r.familiar_string(), short);
}

#[test]
fn normalized_split_hostname() {
    let cases: &[(&str, &str, &str)] = &[
        ("test.com/foo", "test.com", "foo"),
        ("test_com/foo", "docker.io", "test_com/foo"),
        ("docker/migrator", "docker.io", "docker/migrator"),
        ("test.com:8080/foo", "test.com:8080", "foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("foo", "docker.io", "library/foo"),
        ("xn--n3h.com/foo", "xn--n3h.com", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
        ("docker.io/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
        // Our own additions.
        ("localhost/foo", "localhost", "foo"),
        ("localhost:5000/foo", "localhost:5000", "foo"),
        ("localhost", "docker.io", "library/localhost"),
        ("localhost:5000", "docker.io", "library/localhost"),
        ("example.com", "docker.io", "library/example.com"),
        ("index.docker.io/foo", "docker.io", "library/foo"),
        ("[::1]/foo", "[::1]", "foo"),
        ("[::1]:5000/foo/bar", "[::1]:5000", "foo/bar"),
        // Looks like a domain but is not a valid one: distribution keeps the
        // whole name as the path and the domain empty.
        ("foo_bar.com/x", "", "foo_bar.com/x"),
    ];
    for &(input, domain, path) in cases {
        let r = norm(input);
        assert_eq!((r.domain(), r.path()), (domain, path), "{input:?}");
    }
    assert_eq!(norm("localhost:5000").tag(), Some("5000"));
    assert_eq!(norm("foo_bar.com/x").familiar_name(), "foo_bar.com/x");
}

#[test]
fn any_reference() {
    let id = |hex: &str| AnyReference::Id(Digest::sha256(hex).unwrap());
    let cases: &[(String, &str)] = &[
        ("redis".into(), "docker.io/library/redis"),
        ("redis:latest".into(), "docker.io/library/redis:latest"),
        ("docker.io/library/redis:latest".into(), "docker.io/library/redis:latest"),
        (format!("redis@sha256:{DBCC}"), "docker.io/library/redis@sha256:DBCC"),
        (format!("docker.io/library/redis@sha256:{DBCC}"), "docker.io/library/redis@sha256:DBCC"),
        ("dmcgowan/myapp".into(), "docker.io/dmcgowan/myapp"),
        ("dmcgowan/myapp:latest".into(), "docker.io/dmcgowan/myapp:latest"),
        ("docker.io/mcgowan/myapp:latest".into(), "docker.io/mcgowan/myapp:latest"),
        (format!("dmcgowan/myapp@sha256:{DBCC}"), "docker.io/dmcgowan/myapp@sha256:DBCC"),
        (format!("docker.io/dmcgowan/myapp@sha256:{DBCC}"), "docker.io/dmcgowan/myapp@sha256:DBCC"),
        (DBCC.into(), "sha256:DBCC"),
        (format!("sha256:{DBCC}"), "sha256:DBCC"),
        (
            DBCC[..63].into(),
            "docker.io/library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9",
        ),
        ("dbcc1".into(), "docker.io/library/dbcc1"),
        // A short digest is not an ID: it reads as name "sha256", tag "abc".
        ("sha256:abc".into(), "docker.io/library/sha256:abc"),
    ];
    for (input, want) in cases {
        let got = parse_any(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(got.to_string(), want.replace("DBCC", DBCC), "{input:?}");
    }
    assert_eq!(parse_any(DBCC).unwrap(), id(DBCC));
    assert_eq!(parse_any(&format!("sha256:{DBCC}")).unwrap(), id(DBCC));
    assert!(matches!(parse_any("redis").unwrap(), AnyReference::Named(_)));
    let sha512 = format!("sha512:{DBCC}{DBCC}");
    assert_eq!(parse_any(&sha512).unwrap(), AnyReference::Id(Digest::parse(&sha512).unwrap()));
    assert_eq!(parse_any("Redis").unwrap_err().to_string(), norm_err("Redis"));
}

#[test]
fn docker_ref() {
    let d = "sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582";
    let cases: &[(String, String)] = &[
        ("busybox".into(), "docker.io/library/busybox:latest".into()),
        ("busybox:latest".into(), "docker.io/library/busybox:latest".into()),
        (format!("busybox@{d}"), format!("docker.io/library/busybox@{d}")),
        ("library/busybox".into(), "docker.io/library/busybox:latest".into()),
        ("docker.io/busybox".into(), "docker.io/library/busybox:latest".into()),
        ("docker.io/library/busybox".into(), "docker.io/library/busybox:latest".into()),
        ("docker.io/busybox:latest".into(), "docker.io/library/busybox:latest".into()),
        ("library/busybox:latest".into(), "docker.io/library/busybox:latest".into()),
        ("docker.io/library/busybox:latest".into(), "docker.io/library/busybox:latest".into()),
        ("gcr.io/library/busybox".into(), "gcr.io/library/busybox:latest".into()),
        (format!("gcr.io/library/busybox:latest@{d}"), format!("gcr.io/library/busybox@{d}")),
    ];
    for (input, want) in cases {
        let r = Reference::parse_docker_ref(input).unwrap();
        assert_eq!(&r.to_string(), want, "{input:?}");
        assert_eq!(norm(want), r, "{want:?} should parse back");
    }
}

#[test]
fn parse_named_requires_canonical() {
    assert_eq!(Reference::parse_named("docker.io/library/alpine:3").unwrap().familiar_string(), "alpine:3");
    for s in ["alpine", "docker.io/alpine", "index.docker.io/library/alpine"] {
        assert_eq!(Reference::parse_named(s), Err(ReferenceError::NameNotCanonical), "{s:?}");
    }
    assert_eq!(
        Reference::parse_named("repository name must be canonical").unwrap_err().to_string(),
        "invalid reference format"
    );
}

// ---- builders ----

#[test]
fn builders() {
    let r = norm("alpine");
    assert!(r.is_name_only());
    assert_eq!(r.clone().with_default_tag().to_string(), "docker.io/library/alpine:latest");
    assert_eq!(norm("alpine:3").with_default_tag().tag(), Some("3"));
    let digested = norm(&format!("alpine@sha256:{DBCC}"));
    assert_eq!(digested.clone().with_default_tag(), digested);

    // WithTag keeps the digest.
    let both = digested.clone().with_tag("TAG5").unwrap();
    assert_eq!(both.to_string(), format!("docker.io/library/alpine:TAG5@sha256:{DBCC}"));
    assert_eq!(both.familiar_string(), format!("alpine:TAG5@sha256:{DBCC}"));
    assert_eq!(r.clone().with_tag("-foo"), Err(ReferenceError::InvalidTag));
    assert_eq!(r.clone().with_tag("").unwrap_err().to_string(), "invalid tag format");

    let tagged = norm("test.com:8000/foo").with_tag("tag4").unwrap();
    assert_eq!(tagged.to_string(), "test.com:8000/foo:tag4");

    let d = Digest::sha256(DBCC).unwrap();
    let with_d = tagged.clone().with_digest(d.clone());
    assert_eq!(with_d.to_string(), format!("test.com:8000/foo:tag4@sha256:{DBCC}"));
    assert_eq!(with_d.digest(), Some(&d));

    let bare = with_d.without_tag_or_digest();
    assert_eq!(bare.to_string(), "test.com:8000/foo");
    assert!(bare.is_name_only());
}

#[test]
fn familiar_strings() {
    let cases: &[(String, &str)] = &[
        ("alpine".into(), "alpine"),
        ("docker.io/library/alpine:latest".into(), "alpine:latest"),
        ("user/app:1".into(), "user/app:1"),
        ("index.docker.io/user/app".into(), "user/app"),
        ("library/foo/bar".into(), "library/foo/bar"),
        ("localhost:5000/a/b".into(), "localhost:5000/a/b"),
        (format!("localhost:5000/a/b:t@sha256:{DBCC}"), "localhost:5000/a/b:t@sha256:DBCC"),
        ("[::1]:5000/a:t".into(), "[::1]:5000/a:t"),
        ("Foo/bar".into(), "Foo/bar"),
    ];
    for (input, want) in cases {
        assert_eq!(norm(input).familiar_string(), want.replace("DBCC", DBCC), "{input:?}");
    }
    let r = norm(&format!("localhost:5000/a/b:t@sha256:{DBCC}"));
    assert_eq!(r.to_string(), format!("localhost:5000/a/b:t@sha256:{DBCC}"));
    assert_eq!(r.familiar_name(), "localhost:5000/a/b");
    assert_eq!(r.name(), "localhost:5000/a/b");
}

/// Canonical and familiar strings both parse back to the same reference.
#[test]
fn round_trips() {
    let inputs = [
        "alpine".to_owned(),
        "alpine:3.19".to_owned(),
        "library/alpine".to_owned(),
        "docker.io/alpine".to_owned(),
        "index.docker.io/library/alpine:edge".to_owned(),
        "user/app".to_owned(),
        "library/foo/bar".to_owned(),
        "a/b/c/d:e".to_owned(),
        "localhost/x".to_owned(),
        "localhost:5000/a/b:t".to_owned(),
        "127.0.0.1:5000/debian".to_owned(),
        "[fc00::1]:5000/docker/docker".to_owned(),
        "[2001:db8::1]/repo:tag".to_owned(),
        "Docker/docker".to_owned(),
        "foo_bar.com/x:y".to_owned(),
        "ghcr.io/o/r:v1".to_owned(),
        format!("busybox:latest@sha256:{DBCC}"),
        format!("gcr.io/a/b@sha256:{DBCC}"),
        format!("quay.io/x@sha512:{DBCC}{DBCC}"),
        format!("{}:{}", "a".repeat(247), "t".repeat(128)),
    ];
    for input in &inputs {
        let r = norm(input);
        assert_eq!(norm(&r.to_string()), r, "canonical of {input:?}");
        assert_eq!(norm(&r.familiar_string()), r, "familiar of {input:?}");
        assert_eq!(input.parse::<Reference>().as_ref(), Ok(&r));
        assert_eq!(Reference::parse_named(&r.to_string()).as_ref(), Ok(&r));
        let tagged = r.clone().with_default_tag();
        assert_eq!(
            Reference::parse_docker_ref(&tagged.to_string()).map(|d| d.tag().is_some()),
            Ok(r.digest().is_none())
        );
    }
}

#[test]
fn error_texts() {
    use ReferenceError as E;
    let cases = [
        (E::InvalidFormat, "invalid reference format"),
        (E::InvalidTag, "invalid tag format"),
        (E::NameContainsUppercase, "repository name must be lowercase"),
        (
            E::RepositoryNameUppercase("library/X".into()),
            "invalid reference format: repository name (library/X) must be lowercase",
        ),
        (E::NameEmpty, "repository name must have at least one component"),
        (E::NameTooLong, "repository name must not be more than 255 characters"),
        (E::NameNotCanonical, "repository name must be canonical"),
        (
            E::HexRepositoryName("abc".into()),
            "invalid repository name (abc), cannot specify 64-byte hexadecimal strings",
        ),
        (E::DigestInvalidFormat, "invalid checksum digest format"),
        (E::DigestInvalidLength, "invalid checksum digest length"),
        (E::DigestUnsupported, "unsupported digest algorithm"),
    ];
    for (e, want) in cases {
        assert_eq!(e.to_string(), want);
    }
    assert!(E::NameTooLong.to_string().contains(&NAME_TOTAL_LENGTH_MAX.to_string()));
}
