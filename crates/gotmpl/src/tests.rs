//! End-to-end tables: template + data → output or error, with the
//! expectations taken from what Go's text/template and docker/cli print.

use serde_json::{Value, json};

use crate::Template;

fn data() -> Value {
    json!({
        "ID": "abc123",
        "Repository": "alpine",
        "Tag": "3.20",
        "State": "running",
        "Names": ["web", "api"],
        "Labels": {"k": "v", "com.example": "x"},
        "Mounts": [
            {"Source": "/a", "Destination": "/x"},
            {"Source": "/b", "Destination": "/y"}
        ],
        "Config": {"Env": ["A=1", "B=2"], "Cmd": null, "Labels": {}},
        "Size": 1024,
        "Ratio": 0.5,
        "Big": 1e6,
        "Empty": "",
        "Zero": 0,
        "True": true,
        "Ports": [80, 443],
        "Nested": {"A": {"B": "deep"}},
        "Mixed": {"n": 1, "s": "x"},
        "Count": 3
    })
}

fn render(src: &str) -> Result<String, String> {
    let t = Template::parse(src).map_err(|e| e.to_string())?;
    t.render(&data()).map_err(|e| e.to_string())
}

fn check(cases: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (src, want) in cases {
        match render(src) {
            Ok(got) if got == *want => {}
            Ok(got) => failures.push(format!("{src:?}: got {got:?}, want {want:?}")),
            Err(e) => failures.push(format!("{src:?}: error {e:?}, want {want:?}")),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn check_err(cases: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (src, want) in cases {
        match render(src) {
            Err(e) if e == *want => {}
            other => failures.push(format!("{src:?}: got {other:?}, want error {want:?}")),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn fields_and_printing() {
    check(&[
        ("plain text", "plain text"),
        ("", ""),
        ("{{.Repository}}:{{.Tag}}", "alpine:3.20"),
        ("{{.Config.Env}}", "[A=1 B=2]"),
        ("{{.Nested.A.B}}", "deep"),
        ("{{.Missing}}", "<no value>"),
        ("{{.Missing.Deeper}}", "<no value>"),
        ("{{.Config.Cmd}}", "<no value>"),
        ("{{.Labels}}", "map[com.example:x k:v]"),
        ("{{.Size}} {{.Ratio}} {{.Big}} {{.True}} {{.Zero}}", "1024 0.5 1e+06 true 0"),
        ("{{.Names}} {{.Ports}}", "[web api] [80 443]"),
        ("{{.Mounts}}", "[map[Destination:/x Source:/a] map[Destination:/y Source:/b]]"),
        ("{{.Config.Labels}}", "map[]"),
        ("{{$.ID}} {{$.Nested.A.B}}", "abc123 deep"),
        ("{{with .Nested}}{{$.ID}}{{.A.B}}{{end}}", "abc123deep"),
        ("{{(.Nested).A.B}}", "deep"),
        ("{{(index .Mounts 1).Source}}", "/b"),
    ]);
}

#[test]
fn literals() {
    check(&[
        ("{{\"quoted\\tstring\"}}", "quoted\tstring"),
        ("{{`raw\\t`}}", "raw\\t"),
        ("{{1}} {{1.5}} {{-2}} {{0x10}} {{1e3}} {{'a'}} {{1.0}}", "1 1.5 -2 16 1000 97 1"),
        ("{{true}} {{false}}", "true false"),
        ("{{printf \"%v\" nil}}", "<nil>"),
    ]);
}

#[test]
fn docker_functions() {
    check(&[
        ("{{index .Labels \"k\"}}", "v"),
        // Typed string maps (labels) give "" for a missing key, like Go's map[string]string.
        ("[{{index .Labels \"nope\"}}]", "[]"),
        ("{{index .Mixed \"nope\"}}", "<no value>"),
        ("{{index .Names 1}}", "api"),
        ("{{index .Mounts 1 \"Source\"}}", "/b"),
        ("{{index \"abc\" 1}}", "98"),
        ("{{join .Names \",\"}}", "web,api"),
        ("{{join .Ports \", \"}}", "80, 443"),
        ("[{{join .Missing \",\"}}]", "[]"),
        ("{{json .Names}}", "[\"web\",\"api\"]"),
        ("{{json .Labels}}", "{\"com.example\":\"x\",\"k\":\"v\"}"),
        ("{{json .Missing}} {{json .Ratio}} {{json .Size}} {{json \"<&>\"}}", "null 0.5 1024 \"<&>\""),
        ("{{split \"a,b,c\" \",\"}}", "[a b c]"),
        ("{{len (split \"a,b,c\" \",\")}}", "3"),
        ("{{split \"abc\" \"\"}}", "[a b c]"),
        ("{{title \"hello world-wide\"}} {{upper \"abc\"}} {{lower \"ABC\"}}", "Hello World-Wide ABC abc"),
        ("[{{pad .Tag 1 2}}]", "[ 3.20  ]"),
        ("[{{pad .Empty 1 2}}]", "[]"),
        ("{{truncate .ID 3}} {{truncate \"héllo\" 2}} {{truncate .ID 100}}", "abc hé abc123"),
    ]);
}

#[test]
fn go_builtins() {
    check(&[
        ("{{.ID | printf \"%-10s|\"}}", "abc123    |"),
        ("{{printf \"%-10s|%5d|%.2f\" .Repository .Size .Ratio}}", "alpine    | 1024|0.50"),
        ("{{printf \"%q %t %x\" .ID .True 255}}", "\"abc123\" true ff"),
        ("{{printf \"%v %s\" .Names .Names}}", "[web api] [web api]"),
        ("{{printf \"%d\" .ID}}", "%!d(string=abc123)"),
        ("{{print \"a\" \"b\" 1 2}}", "ab1 2"),
        ("{{println \"a\" 1}}", "a 1\n"),
        ("{{print .Missing}}", "<nil>"),
        ("{{html \"<b>\\\"x\\\"</b>\"}}", "&lt;b&gt;&#34;x&#34;&lt;/b&gt;"),
        ("{{html .Missing}}", "&lt;no value&gt;"),
        ("{{js \"it's\"}}", "it\\'s"),
        ("{{urlquery \"a b&c\"}} {{\"a b\" | urlquery}}", "a+b%26c a+b"),
        ("{{len .Names}} {{len .Labels}} {{len .ID}} {{len \"héllo\"}}", "2 2 6 6"),
        ("{{slice .Names 1}} {{slice \"abcdef\" 1 3}} {{slice .Ports 0 1}}", "[api] bc [80]"),
        ("{{not .Empty}} {{not .ID}}", "true false"),
        ("{{and .True .Zero .Size}} {{and .True .Size}}", "0 1024"),
        ("{{or .Empty .Zero \"fallback\"}} {{or .ID \"x\"}}", "fallback abc123"),
        // and/or short-circuit: the failing call is never evaluated.
        ("{{or .ID (index .Names 9)}} {{and .Empty (index .Names 9)}}", "abc123 "),
        (
            "{{eq .Size 1024}} {{eq .Size 1024.0}} {{eq .Missing \"x\"}} {{eq .Missing nil}}",
            "true true false true",
        ),
        (
            "{{ne .ID \"x\"}} {{lt \"a\" \"b\"}} {{le 2 2}} {{gt .Ratio 0.1}} {{ge .Size 1025}}",
            "true true true true false",
        ),
    ]);
}

#[test]
fn conditionals() {
    check(&[
        ("{{if eq .State \"running\"}}up{{end}}", "up"),
        ("{{if eq .State \"exited\"}}up{{else}}down{{end}}", "down"),
        ("{{if eq .State \"exited\"}}a{{else if eq .State \"running\"}}b{{else}}c{{end}}", "b"),
        ("{{if eq .State \"x\"}}a{{else if eq .State \"y\"}}b{{else}}c{{end}}", "c"),
        ("{{if eq .State \"x\" \"y\" \"running\"}}multi{{end}}", "multi"),
        ("{{if .Missing}}x{{else}}y{{end}}", "y"),
        ("{{if .Config.Labels}}x{{else}}empty{{end}}", "empty"),
        ("{{if and .True (gt .Size 1000)}}big{{end}}", "big"),
        ("{{if lt .Size 2000}}small{{end}}", "small"),
        ("{{with .Nested.A}}{{.B}}{{end}}", "deep"),
        ("{{with .Missing}}x{{else}}none{{end}}", "none"),
        ("{{with $x := .ID}}{{$x}}={{.}}{{end}}", "abc123=abc123"),
        ("{{with .Missing}}a{{else with .ID}}{{.}}{{end}}", "abc123"),
        ("{{if $x := .Tag}}{{$x}}{{else}}{{$x}}{{end}}", "3.20"),
    ]);
}

#[test]
fn ranges() {
    check(&[
        ("{{range .Mounts}}{{.Source}} {{end}}", "/a /b "),
        ("{{range $i, $m := .Mounts}}{{$i}}={{$m.Destination}};{{end}}", "0=/x;1=/y;"),
        ("{{range $k, $v := .Labels}}{{$k}}:{{$v}},{{end}}", "com.example:x,k:v,"),
        ("{{range .Labels}}{{.}}{{end}}", "xv"),
        ("{{range $v := .Names}}{{$v}}{{end}}", "webapi"),
        ("{{range .Missing}}x{{else}}none{{end}}", "none"),
        ("{{range .Config.Labels}}x{{else}}empty{{end}}", "empty"),
        ("{{range .Config.Env}}{{if eq . \"B=2\"}}{{break}}{{end}}{{.}};{{end}}", "A=1;"),
        ("{{range .Ports}}{{if eq . 80}}{{continue}}{{end}}{{.}}{{end}}", "443"),
        ("{{range .Count}}{{.}}{{end}}", "012"),
        ("{{range $i, $e := .Names}}{{if $i}}, {{end}}{{$e}}{{end}}", "web, api"),
        ("{{range .Names}}{{$.ID}}-{{.}} {{end}}", "abc123-web abc123-api "),
        ("{{range split \"a:b\" \":\"}}<{{.}}>{{end}}", "<a><b>"),
        (
            "{{range $m := .Mounts}}{{range $.Names}}{{$m.Source}}{{.}} {{end}}{{end}}",
            "/aweb /aapi /bweb /bapi ",
        ),
    ]);
}

#[test]
fn variables() {
    check(&[
        ("{{$x := \"a\"}}{{$x}}{{$x = \"b\"}}{{$x}}", "ab"),
        ("{{$n := len .Names}}{{$n}}", "2"),
        ("{{$x := 1}}{{if true}}{{$x = 2}}{{$y := 3}}{{$y}}{{end}}{{$x}}", "32"),
        ("{{$c := 0}}{{range .Names}}{{$c = .}}{{end}}{{$c}}", "api"),
        ("{{$x := 1}}{{range .Names}}{{$x := .}}{{end}}{{$x}}", "1"),
        ("{{$m := index .Mounts 0}}{{$m.Source}}", "/a"),
    ]);
}

#[test]
fn trim_and_comments() {
    check(&[
        ("a  {{- .Tag -}}  b", "a3.20b"),
        ("{{/* comment */}}x", "x"),
        ("a {{- /* c */ -}} b", "ab"),
        ("{{- .Tag}}\n", "3.20\n"),
        ("{{range .Names -}}\n  {{.}}\n{{- end}}", "webapi"),
        ("{{range .Names}}\n{{.}}{{end}}", "\nweb\napi"),
        ("{{.Tag\n}}", "3.20"),
    ]);
}

#[test]
fn pipelines_and_parens() {
    check(&[
        ("{{.Names | len}}", "2"),
        ("{{.ID | printf \"%s\" | len}}", "6"),
        ("{{\"x\" | printf \"%s%s\" \"a\"}}", "ax"),
        ("{{len (index .Mounts 0)}}", "2"),
        ("{{printf \"%s-%s\" (index .Names 0) (upper .Tag)}}", "web-3.20"),
        ("{{.Labels | json}}", "{\"com.example\":\"x\",\"k\":\"v\"}"),
    ]);
}

#[test]
fn parse_errors() {
    check_err(&[
        ("{{.ID}", "template: :1: unexpected \"}\" in operand"),
        ("{{.ID", "template: :1: unclosed action"),
        ("{{if .X}}", "template: :1: unexpected EOF"),
        ("{{end}}", "template: :1: unexpected {{end}}"),
        ("{{else}}", "template: :1: unexpected {{else}}"),
        ("{{foo}}", "template: :1: function \"foo\" not defined"),
        ("{{$x}}", "template: :1: undefined variable \"$x\""),
        ("{{with $x := 1}}{{end}}{{$x}}", "template: :1: undefined variable \"$x\""),
        ("{{$x = 1}}", "template: :1: undefined variable \"$x\""),
        ("{{if}}{{end}}", "template: :1: missing value for if"),
        ("{{}}", "template: :1: missing value for command"),
        ("{{break}}", "template: :1: {{break}} outside {{range}}"),
        ("a\n{{.X | 1}}", "template: :2: non executable command in pipeline stage 2"),
        ("{{range $a, $b, $c := .}}{{end}}", "template: :1: too many declarations in range"),
        ("{{\"x\".Foo}}", "template: :1: unexpected . after term \"\\\"x\\\"\""),
        ("{{template \"x\"}}", "template: :1: {{template}} is not supported"),
        ("{{.X 'ab'}}", "template: :1: malformed character constant: 'ab'"),
        ("{{3x}}", "template: :1: bad number syntax: \"3x\""),
        ("{{\"a\\qb\"}}", "template: :1: invalid syntax"),
        ("{{/* x */ }}", "template: :1: comment ends before closing delimiter"),
        ("{{if .A}}{{else}}{{else}}{{end}}", "template: :1: expected end; found {{else}}"),
        ("{{.A | }}x{{", "template: :1: unclosed action"),
        ("{{(.A}}", "template: :1: unclosed left paren"),
        ("{{.A)}}", "template: :1: unexpected \")\" in command"),
        ("{{.A, .B}}", "template: :1: unexpected \",\" in operand"),
    ]);
}

#[test]
fn exec_errors() {
    check_err(&[
        ("{{.ID.X}}", "template: :1:2: executing \"\" at <.ID.X>: can't evaluate field X in type string"),
        (
            "x\n  {{.ID.X}}",
            "template: :2:4: executing \"\" at <.ID.X>: can't evaluate field X in type string",
        ),
        (
            "{{index .Names 5}}",
            "template: :1:2: executing \"\" at <index .Names 5>: error calling index: index out of range: 5",
        ),
        ("{{len 3}}", "template: :1:2: executing \"\" at <len 3>: error calling len: len of type int"),
        ("{{len}}", "template: :1:2: executing \"\" at <len>: wrong number of args for len: want 1 got 0"),
        (
            "{{lt .ID 3}}",
            "template: :1:2: executing \"\" at <lt .ID 3>: error calling lt: incompatible types for comparison",
        ),
        (
            "{{upper .Size}}",
            "template: :1:8: executing \"\" at <.Size>: wrong type for value; expected string; got int",
        ),
        // The piped value is the last argument: truncate(3, "abc123").
        ("{{.ID | truncate 3}}", "template: :1:17: executing \"\" at <3>: expected string; found 3"),
        ("{{truncate .ID \"x\"}}", "template: :1:15: executing \"\" at <\"x\">: expected int; found \"x\""),
        ("{{nil}}", "template: :1:2: executing \"\" at <nil>: nil is not a command"),
        ("{{.ID 1}}", "template: :1:2: executing \"\" at <.ID>: ID is not a method but has arguments"),
        ("{{range .ID}}{{end}}", "template: :1:8: executing \"\" at <.ID>: range can't iterate over abc123"),
        ("{{1 2}}", "template: :1:2: executing \"\" at <1>: can't give argument to non-function 1"),
        (
            "{{eq .Names .Names}}",
            "template: :1:2: executing \"\" at <eq .Names .Names>: error calling eq: non-comparable type [web api]: []interface {}",
        ),
    ]);
}

#[test]
fn partial_output_on_error() {
    // Go writes what it produced before failing; render_header relies on it.
    let t = Template::parse("{{.ID}}\t{{.ID.X}}\t{{.Tag}}").unwrap();
    assert_eq!(t.render_header(&json!({"ID": "CONTAINER ID", "Tag": "TAG"})), "CONTAINER ID\t");
    let t = Template::parse("{{upper .Names}}\t{{json .Names}}|{{truncate .ID 3}}|{{pad .ID 1 1}}").unwrap();
    assert_eq!(t.render_header(&json!({"ID": "ID", "Names": "NAMES"})), "NAMES\tNAMES|ID| ID ");
}

#[test]
fn json_of_whole_row() {
    let t = Template::parse("{{json .}}").unwrap();
    let row = json!({"Names": "web", "ID": "abc", "Size": 10, "Labels": "a=b,c=d", "Nil": null});
    assert_eq!(
        t.render(&row).unwrap(),
        r#"{"ID":"abc","Labels":"a=b,c=d","Names":"web","Nil":null,"Size":10}"#
    );
}

#[test]
fn reuse_and_borrowed_data() {
    let t = Template::parse("{{range .}}{{.Name}}{{end}}").unwrap();
    assert_eq!(t.render(&json!([{"Name": "a"}, {"Name": "b"}])).unwrap(), "ab");
    assert_eq!(t.render(&json!([])).unwrap(), "");
    assert_eq!(t.source(), "{{range .}}{{.Name}}{{end}}");
}

#[test]
fn no_panics_on_garbage() {
    // Deterministic pseudo-random splices of template fragments: every
    // outcome must be Ok or Err, never a panic.
    let parts = [
        "{{",
        "}}",
        "{{-",
        "-}}",
        " ",
        ".",
        ".ID",
        ".Names",
        "$",
        "$x",
        ":=",
        "=",
        "|",
        "(",
        ")",
        "\"",
        "`",
        "'",
        "if",
        "else",
        "end",
        "range",
        "with",
        "break",
        "index",
        "slice",
        "printf",
        "\"%5.2q\"",
        "1",
        "-1.5e3",
        "0x",
        ",",
        "/*",
        "*/",
        "\\",
        "é",
        "日",
        "\n",
        "nil",
        "true",
        "len",
        "and",
        "or",
        "eq",
        "json",
        "pad",
        "9",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        let mut src = String::new();
        for _ in 0..(seed % 12) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            src.push_str(parts[(seed % parts.len() as u64) as usize]);
        }
        seed = seed.wrapping_add(1);
        if let Ok(t) = Template::parse(&src) {
            let _ = t.render(&data());
            let _ = t.render_header(&json!({"ID": "ID"}));
        }
    }
}
