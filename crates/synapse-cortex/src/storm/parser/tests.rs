//! Parser unit tests: tree shapes, spans and errors of representative queries.

use super::*;
use crate::storm::ast::*;

fn parse(text: &str) -> Query {
    match parse_query(text) {
        Ok(query) => query,
        Err(err) => panic!("{text:?} failed: {}", err.mesg),
    }
}

fn fail(text: &str) -> SyntaxError {
    match parse_query(text) {
        Ok(query) => panic!("{text:?} parsed: {query:?}"),
        Err(err) => err,
    }
}

fn one(text: &str) -> OperKind {
    let mut query = parse(text);
    assert_eq!(query.opers.len(), 1, "{text:?}: {:?}", query.opers);
    query.opers.remove(0).kind
}

fn str_value(value: &Value) -> &str {
    match &value.kind {
        ValueKind::Str(text) => text,
        other => panic!("not a string: {other:?}"),
    }
}

#[test]
fn unquoted_values_are_strings_and_expressions_are_typed() {
    let OperKind::SetVar { name, value } = one("$x = 5") else {
        panic!()
    };
    assert_eq!(name, "x");
    assert_eq!(value.kind, ValueKind::Str("5".into()));

    let OperKind::SetVar { value, .. } = one("$x = (5)") else {
        panic!()
    };
    let ValueKind::DollarExpr(inner) = value.kind else {
        panic!()
    };
    assert_eq!(inner.kind, ValueKind::Int(5));

    let OperKind::SetVar { value, .. } = one("$x = $(5.50)") else {
        panic!()
    };
    let ValueKind::DollarExpr(inner) = value.kind else {
        panic!()
    };
    assert_eq!(inner.kind, ValueKind::Number("5.50".into()));

    let OperKind::SetVar { value, .. } = one("$x = (1, 2)") else {
        panic!()
    };
    let ValueKind::List(items) = value.kind else {
        panic!()
    };
    assert_eq!(items.iter().map(str_value).collect::<Vec<_>>(), ["1", "2"]);
}

#[test]
fn expression_precedence() {
    let OperKind::SetVar { value, .. } = one("$x = $(1 + 2 * 3 ** 2 > 4 and not $y or $z)") else {
        panic!()
    };
    let ValueKind::DollarExpr(inner) = value.kind else {
        panic!()
    };
    // ((1 + (2 * (3 ** 2))) > 4 and (not $y)) or $z
    let ValueKind::Or(lhs, rhs) = inner.kind else {
        panic!("{inner:?}")
    };
    assert_eq!(rhs.kind, ValueKind::Var("z".into()));
    let ValueKind::And(cmp, not) = lhs.kind else {
        panic!()
    };
    assert!(matches!(
        not.kind,
        ValueKind::Unary {
            op: UnaryOp::Not,
            ..
        }
    ));
    let ValueKind::Binary {
        op: BinOp::Gt,
        lhs: sum,
        ..
    } = cmp.kind
    else {
        panic!()
    };
    let ValueKind::Binary {
        op: BinOp::Add,
        rhs: product,
        ..
    } = sum.kind
    else {
        panic!()
    };
    let ValueKind::Binary {
        op: BinOp::Mul,
        rhs: power,
        ..
    } = product.kind
    else {
        panic!()
    };
    assert!(matches!(
        power.kind,
        ValueKind::Binary { op: BinOp::Pow, .. }
    ));
}

#[test]
fn lifts() {
    let OperKind::Lift(lift) = one("inet:fqdn=vertex.link") else {
        panic!()
    };
    let LiftKind::PropBy {
        prop: PropRef::Name(name, _),
        cmp,
    } = lift.kind
    else {
        panic!()
    };
    assert_eq!(
        (name.as_str(), cmp.cmpr.text.as_str(), str_value(&cmp.value)),
        ("inet:fqdn", "=", "vertex.link")
    );

    let OperKind::Lift(lift) = one("reverse(inet:ipv4:asn*range=(1, 10))") else {
        panic!()
    };
    assert!(lift.reverse);
    let LiftKind::PropBy { cmp, .. } = lift.kind else {
        panic!()
    };
    assert_eq!(cmp.cmpr.text, "range=");

    let OperKind::Lift(lift) = one("#foo.bar@=(2020, 2021)") else {
        panic!()
    };
    let LiftKind::Tag {
        tag,
        cmp: Some(cmp),
    } = lift.kind
    else {
        panic!()
    };
    let TagNameKind::Segments(segs) = tag.kind else {
        panic!()
    };
    assert_eq!(segs.len(), 2);
    assert_eq!(cmp.cmpr.text, "@=");

    assert!(matches!(
        one("##foo"),
        OperKind::Lift(Lift {
            kind: LiftKind::TagTag { .. },
            ..
        })
    ));
    assert!(matches!(
        one("inet:fqdn#foo:score>5"),
        OperKind::Lift(Lift {
            kind: LiftKind::FormTagProp { .. },
            ..
        })
    ));
    assert!(matches!(
        one("ps:contact:emails*[=a@b.com]"),
        OperKind::Lift(Lift {
            kind: LiftKind::Array { .. },
            ..
        })
    ));
    let OperKind::Lift(lift) = one("*$form=valu") else {
        panic!()
    };
    assert!(matches!(
        lift.kind,
        LiftKind::PropBy {
            prop: PropRef::Deref(_),
            ..
        }
    ));
}

#[test]
fn filters() {
    let OperKind::Filter { must, cond } = one("-(:asn=10 or #foo.*)") else {
        panic!()
    };
    assert!(!must);
    let CondKind::Or(lhs, rhs) = cond.kind else {
        panic!()
    };
    assert!(matches!(lhs.kind, CondKind::RelPropCmp { .. }));
    let CondKind::Tag(tag) = rhs.kind else {
        panic!()
    };
    let TagNameKind::Segments(segs) = tag.kind else {
        panic!()
    };
    assert_eq!(segs[1], TagSegment::Text("*".into(), Span::new(18, 19)));

    let OperKind::Filter { must, cond } = one("+{ -> inet:dns:a } >= 2") else {
        panic!()
    };
    assert!(must);
    assert!(matches!(cond.kind, CondKind::SubQuery { cmp: Some(_), .. }));
    assert!(matches!(
        one("+$($x > 10)"),
        OperKind::Filter {
            cond: Cond {
                kind: CondKind::Value(_),
                ..
            },
            ..
        }
    ));
}

#[test]
fn pivots_and_walks() {
    let query = parse(
        "inet:fqdn -> inet:dns:a:fqdn <- * -+> # :ipv4 -> * --> * -(refs)> (inet:fqdn, inet:ipv4)",
    );
    let kinds: Vec<&OperKind> = query.opers.iter().map(|oper| &oper.kind).collect();
    assert!(matches!(
        kinds[1],
        OperKind::Pivot(Pivot {
            kind: PivotKind::ToForm(_),
            join: false
        })
    ));
    assert!(matches!(
        kinds[2],
        OperKind::Pivot(Pivot {
            kind: PivotKind::In,
            join: false
        })
    ));
    assert!(matches!(
        kinds[3],
        OperKind::Pivot(Pivot {
            kind: PivotKind::ToTags(None),
            join: true
        })
    ));
    assert!(matches!(
        kinds[4],
        OperKind::Pivot(Pivot {
            kind: PivotKind::PropOut(_),
            ..
        })
    ));
    assert!(matches!(
        kinds[5],
        OperKind::Pivot(Pivot {
            kind: PivotKind::WalkAllOut,
            ..
        })
    ));
    let OperKind::EdgeWalk(walk) = kinds[6] else {
        panic!()
    };
    assert!(!walk.reverse && !walk.join);
    assert_eq!(str_value(&walk.verb), "refs");
    assert!(matches!(&walk.dest.kind, ValueKind::List(items) if items.len() == 2));

    let OperKind::EdgeWalk(walk) = one("<+(($a, $b))- *") else {
        panic!()
    };
    assert!(walk.reverse && walk.join);
    let OperKind::EdgeWalk(walk) = one("-(($a, $b))> *") else {
        panic!()
    };
    assert_eq!(
        walk.verb.kind,
        ValueKind::VarList(vec!["a".into(), "b".into()])
    );
}

#[test]
fn edits() {
    let query = parse(
        "[ inet:ipv4=1.2.3.4 :asn?=10 +#foo=(2020, 2021) +#foo:score=5 -#bar .seen=2020 :tags++=(a, b) +(refs)> { inet:fqdn } <(refs)- $node -:loc ]",
    );
    let kinds: Vec<&EditKind> = query
        .opers
        .iter()
        .map(|oper| match &oper.kind {
            OperKind::Edit(edit) => &edit.kind,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(matches!(
        kinds[0],
        EditKind::NodeAdd {
            oper: SetOper::Set,
            ..
        }
    ));
    assert!(matches!(
        kinds[1],
        EditKind::PropSet {
            oper: SetOper::TrySet,
            ..
        }
    ));
    assert!(matches!(
        kinds[2],
        EditKind::TagAdd {
            try_add: false,
            value: Some(_),
            ..
        }
    ));
    assert!(matches!(kinds[3], EditKind::TagPropSet { .. }));
    assert!(matches!(kinds[4], EditKind::TagDel(_)));
    assert!(matches!(
        kinds[5],
        EditKind::PropSet {
            prop: PropPath::Univ(_),
            ..
        }
    ));
    assert!(matches!(
        kinds[6],
        EditKind::PropSet {
            oper: SetOper::AddMany,
            ..
        }
    ));
    assert!(matches!(kinds[7], EditKind::EdgeAdd { reverse: false, .. }));
    assert!(matches!(kinds[8], EditKind::EdgeDel { reverse: true, .. }));
    assert!(matches!(kinds[9], EditKind::PropDel(_)));

    let OperKind::Edit(edit) = one("[ (inet:fqdn=a.com :issuffix=1 +#x) ]") else {
        panic!()
    };
    let EditKind::Parens { edits, .. } = edit.kind else {
        panic!()
    };
    assert_eq!(edits.len(), 2);

    let OperKind::Edit(edit) = one("[ :asn*unset=5 ]") else {
        panic!()
    };
    assert!(matches!(
        edit.kind,
        EditKind::CondPropSet {
            cond: SetCondition::Unset,
            try_set: false,
            ..
        }
    ));
    let OperKind::Edit(edit) = one("[ :asn*$how?=5 ]") else {
        panic!()
    };
    assert!(matches!(
        edit.kind,
        EditKind::CondPropSet {
            cond: SetCondition::Value(_),
            try_set: true,
            ..
        }
    ));
}

#[test]
fn commands_and_arguments() {
    let query = parse(
        "inet:fqdn | limit 10 | graph --degrees 2 --filter { -#nope } --form-pivot inet:fqdn=x | uniq",
    );
    let cmds: Vec<&CmdCall> = query
        .opers
        .iter()
        .filter_map(|oper| match &oper.kind {
            OperKind::Cmd(cmd) => Some(cmd),
            _ => None,
        })
        .collect();
    assert_eq!(
        cmds.iter().map(|cmd| cmd.name.as_str()).collect::<Vec<_>>(),
        ["limit", "graph", "uniq"]
    );
    assert_eq!(str_value(&cmds[0].args[0]), "10");
    let graph = &cmds[1].args;
    assert_eq!(str_value(&graph[0]), "--degrees");
    assert_eq!(str_value(&graph[1]), "2");
    assert!(matches!(&graph[3].kind, ValueKind::ArgvQuery { text, .. } if text == "-#nope"));
    assert_eq!(str_value(&graph[5]), "inet:fqdn=x");
    assert!(cmds[2].args.is_empty());

    // `--opt=valu` gives two arguments; glued words stay one argument
    let OperKind::Cmd(cmd) = one("cron.add --monthly=-1:12:30 {#bar}") else {
        panic!()
    };
    assert_eq!(str_value(&cmd.args[0]), "--monthly");
    assert_eq!(str_value(&cmd.args[1]), "-1:12:30");
}

#[test]
fn control_flow() {
    let OperKind::For {
        vars: ForVars::Many(names),
        ..
    } = one("for ($k, $v) in $lib.dict(a=1) { $lib.print($k) }")
    else {
        panic!()
    };
    assert_eq!(names, ["k", "v"]);
    let OperKind::If { clauses, otherwise } = one("if $x { } elif $($y > 1) { } else { }") else {
        panic!()
    };
    assert_eq!(clauses.len(), 2);
    assert!(otherwise.is_some());
    let OperKind::Switch { cases, .. } =
        one("switch $x { foo: { } \"bar baz\": { } (a, b): { } *: { } }")
    else {
        panic!()
    };
    assert_eq!(
        cases
            .iter()
            .map(|case| case.values.len())
            .collect::<Vec<_>>(),
        [1, 1, 2, 0]
    );
    assert!(cases[3].default);
    let OperKind::Try { catches, .. } =
        one("try { } catch (BadArg, NoSuchName) as err { } catch * as e { }")
    else {
        panic!()
    };
    assert_eq!(catches.len(), 2);
    assert_eq!(catches[0].var, "err");
    let OperKind::Function(func) = one("function f(a, b=(10)) { return($a) }") else {
        panic!()
    };
    assert_eq!(func.params.len(), 2);
    assert!(func.params[1].default.is_some());
    assert!(matches!(one("init { $x = 1 }"), OperKind::Init(_)));
    assert!(matches!(
        one("yield { inet:fqdn }"),
        OperKind::SubQuery(SubQuery { yields: true, .. })
    ));
    assert!(matches!(one("return()"), OperKind::Return(None)));
    let query = parse("while $x { break continue stop }");
    let OperKind::While { body, .. } = &query.opers[0].kind else {
        panic!()
    };
    assert_eq!(body.query.opers.len(), 3);
}

#[test]
fn strings_and_format_strings() {
    let OperKind::SetVar { value, .. } = one(r#"$x = "a\tb\x41\u00e9""#) else {
        panic!()
    };
    assert_eq!(str_value(&value), "a\tbAé");
    let OperKind::SetVar { value, .. } = one(r"$x = 'a\tb'") else {
        panic!()
    };
    assert_eq!(str_value(&value), "a\\tb");
    let OperKind::SetVar { value, .. } = one("$x = '''multi\nline'''") else {
        panic!()
    };
    assert_eq!(str_value(&value), "multi\nline");
    let OperKind::SetVar { value, .. } = one("$x = `ip={$ip} \\{esc\\} {:asn}`") else {
        panic!()
    };
    let ValueKind::FormatString(parts) = value.kind else {
        panic!()
    };
    assert_eq!(parts.len(), 4);
    assert_eq!(str_value(&parts[0]), "ip=");
    assert_eq!(parts[1].kind, ValueKind::Var("ip".into()));
    assert_eq!(str_value(&parts[2]), " {esc\\} ");
}

#[test]
fn embedded_queries_keep_their_text() {
    let text = "$q = ${ /* secret comment */ $lib.print(hello) } $lib.macro.set(hehe, $q)";
    let OperKind::SetVar { value, .. } = &parse(text).opers[0].kind else {
        panic!()
    };
    let ValueKind::EmbedQuery { text: inner, query } = &value.kind else {
        panic!()
    };
    assert_eq!(inner, " /* secret comment */ $lib.print(hello) ");
    assert_eq!(query.opers.len(), 1);
}

#[test]
fn spans_cover_the_operator_text() {
    let text = "  inet:fqdn=vertex.link   [ :zone=x ]  | limit 3 ";
    let query = parse(text);
    let texts: Vec<&str> = query
        .opers
        .iter()
        .map(|oper| oper.span.text(text))
        .collect();
    assert_eq!(texts, ["inet:fqdn=vertex.link", ":zone=x", "limit 3"]);
    assert_eq!(
        query.span.text(text),
        "inet:fqdn=vertex.link   [ :zone=x ]  | limit 3"
    );
}

#[test]
fn syntax_errors_report_the_offending_token() {
    let err = fail("test:str )");
    assert_eq!(err.offset(), Some(9));
    assert!(
        err.mesg
            .starts_with("Unexpected token ')' at line 1, column 10"),
        "{}",
        err.mesg
    );

    let err = fail("test:str {");
    assert_eq!(err.offset(), Some(9));
    assert!(
        err.mesg
            .starts_with("Unexpected token 'end of input' at line 1, column 10"),
        "{}",
        err.mesg
    );

    let err = fail(
        "\n\n        { inet:cidr4#rep.some.body\n        $lib.print('weee')\n        tee { -> :network } }\n        ",
    );
    assert_eq!(err.offset(), Some(81));
    assert_eq!(err.token.as_deref(), Some(":network"));
    let pos = err.pos.expect("pos");
    assert_eq!((pos.line, pos.column), (5, 18));
    assert!(
        err.mesg
            .starts_with("Unexpected token 'relative property name' at line 5, column 18"),
        "{}",
        err.mesg
    );

    let err = fail("#test.*.bar");
    assert!(
        err.mesg
            .starts_with("Unexpected token 'default case' at line 1, column 7"),
        "{}",
        err.mesg
    );

    let err = fail("$x=$lib.guid(foo$bar)");
    assert!(
        err.mesg
            .starts_with("Unexpected token '$' at line 1, column 17"),
        "{}",
        err.mesg
    );
}

#[test]
fn semantic_errors_match_the_reference() {
    let err = fail("function foo(bar, baz, bar) { return ( $lib.true ) }");
    assert_eq!(
        err.mesg,
        "Duplicate parameter \"bar\" in function definition"
    );
    assert_eq!(err.offset(), Some(23));

    let err = fail(
        "function itworks() {\n                $lib.print('it works')\n                return ( $lib.true )\n            }\n\n            $itworks()\n\n            function foo(baz=$lib.true, faz) {\n                return ( $lib.true )\n            }\n\n            $foo()",
    );
    assert_eq!(
        err.mesg,
        "Positional parameter \"faz\" follows keyword parameter in definition"
    );
    let pos = err.pos.expect("pos");
    assert_eq!((pos.at, pos.line, pos.column), (160, 8, 25));

    let err = fail("$lib.foo(bar=(1), baz=(2), bar=(3))");
    assert_eq!(
        err.mesg,
        "Duplicate keyword argument \"bar\" in function call"
    );
    assert_eq!(err.offset(), Some(27));

    let err = fail("$lib.foo(bar=(1), (2), (3))");
    assert_eq!(
        err.mesg,
        "Positional argument follows keyword argument in function call"
    );
    assert_eq!(err.offset(), Some(18));

    let err = fail(r#"return(({"foo": "bar", "baz": foo}))"#);
    assert_eq!(err.mesg, "Unexpected unquoted string in JSON expression");
    assert_eq!(err.offset(), Some(30));

    let err = fail("ou:name=\"foo\0bar\"");
    assert_eq!(err.valu.as_deref(), Some("'\"foo\\x00bar\"'"));
    assert!(
        err.mesg
            .starts_with("Invalid character in string '\"foo\\x00bar\"'"),
        "{}",
        err.mesg
    );

    let err = fail("$val = foo switch $val { \"foo\": { } (\"bar\", \"foo\"): { } }");
    assert_eq!(
        err.mesg,
        "Switch statements cannot have duplicate switch cases: foo"
    );
    let err = fail("switch $val { *: { } *: { } }");
    assert_eq!(
        err.mesg,
        "Switch statements cannot have more than one default case. Found 2."
    );
}

#[test]
fn a_syntax_error_wins_over_a_semantic_one() {
    let err = fail("$lib.foo(a=1, a=2) )");
    assert!(err.mesg.starts_with("Unexpected token ')'"), "{}", err.mesg);
}

#[test]
fn deep_nesting_is_refused_not_crashed() {
    let braces = |n: usize| format!("{}inet:fqdn{}", "{ ".repeat(n), " }".repeat(n));
    let err = fail(&braces(MAX_DEPTH + 10));
    assert!(err.mesg.contains("nested too deeply"), "{}", err.mesg);
    let exprs = format!("$x = {}1{}", "$(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(fail(&exprs).mesg.contains("nested too deeply"));
    let negs = format!("$x = $({}$y)", "-".repeat(MAX_DEPTH + 1));
    assert!(fail(&negs).mesg.contains("nested too deeply"));
    // deeper than the test thread's stack could take without growing it
    let query = parse(&braces(MAX_DEPTH - 1));
    assert_eq!(query.opers.len(), 1);
    parse(&format!(
        "{}[ inet:fqdn=x ]{}",
        "[ +(refs)> { ".repeat(300),
        " } ]".repeat(300)
    ));
}

#[test]
fn lookup_mode() {
    let lookup =
        parse_lookup("1.2.3.4 vertex.link \"quoted value\" | uniq | count").expect("lookup");
    let items: Vec<&str> = lookup.items.iter().map(str_value).collect();
    assert_eq!(items, ["1.2.3.4", "vertex.link", "quoted value"]);
    assert_eq!(lookup.query.expect("query").opers.len(), 2);
    assert!(parse_lookup("1.2.3.4 | uniq +#*").is_err());
    assert!(parse_lookup("").expect("empty").items.is_empty());
}

#[test]
fn cmdr_arguments() {
    let argv = parse_cmdrargs(
        "add {inet:fqdn | graph 2 --filter { -#nope } } inet:f-M +1 { [ meta:note='*' :type=m1]}",
    )
    .expect("argv");
    assert_eq!(
        argv,
        [
            "add",
            "inet:fqdn | graph 2 --filter { -#nope }",
            "inet:f-M",
            "+1",
            "[ meta:note='*' :type=m1]"
        ]
    );
    let argv = parse_cmdrargs("add --filter={inet:fqdn | limit 1}").expect("argv");
    assert_eq!(argv, ["add", "--filter=inet:fqdn | limit 1"]);
    let argv = parse_cmdrargs("foo \"bar baz\" 'x y' --a=\"q\" --b=c d=e").expect("argv");
    assert_eq!(
        argv,
        ["foo", "\"bar baz\"", "'x y'", "--a=\"q\"", "--b=c", "d=e"]
    );
    assert_eq!(fail_cmdr("x = y"), Some(2));
    assert_eq!(fail_cmdr("add {uniq +#*}"), Some(12));
    assert_eq!(fail_cmdr(""), Some(0));
    assert_eq!(fail_cmdr("foo }"), Some(4));
}

fn fail_cmdr(text: &str) -> Option<usize> {
    match parse_cmdrargs(text) {
        Ok(argv) => panic!("{text:?} parsed: {argv:?}"),
        Err(err) => err.offset(),
    }
}

#[test]
fn eval_mode() {
    let value = parse_eval("(1, 2)").expect("eval");
    assert!(matches!(value.kind, ValueKind::List(_)));
    assert_eq!(
        parse_eval("foo").expect("eval").kind,
        ValueKind::Str("foo".into())
    );
    assert!(parse_eval("foo bar").is_err());
}

#[test]
fn empty_and_trivial_queries() {
    for text in ["", "   ", "// only a comment", "/* block */", "|"] {
        assert!(parse(text).opers.is_empty(), "{text:?}");
    }
    assert!(
        fail("| |")
            .mesg
            .starts_with("Unexpected token '|' at line 1, column 3")
    );
}
