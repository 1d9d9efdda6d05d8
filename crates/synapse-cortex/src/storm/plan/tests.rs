//! Planner tests: variable classification, runtime safety, lift hints, function kinds.

use super::*;
use crate::storm::parse_query;

fn plan_of(text: &str) -> Plan {
    plan_with(text, &[])
}

fn plan_with(text: &str, vars: &[&str]) -> Plan {
    let query = parse_query(text).unwrap_or_else(|err| panic!("{text:?}: {}", err.mesg));
    let opts = PlanOpts {
        vars: vars.iter().map(|v| v.to_string()).collect(),
        ..PlanOpts::default()
    };
    plan(&query, &opts).unwrap_or_else(|err| panic!("{text:?}: {}", err.mesg))
}

fn plan_err(text: &str) -> PlanError {
    let query = parse_query(text).unwrap_or_else(|err| panic!("{text:?}: {}", err.mesg));
    match plan(&query, &PlanOpts::default()) {
        Ok(plan) => panic!("{text:?} planned: {plan:?}"),
        Err(err) => err,
    }
}

fn classification(plan: &Plan, name: &str) -> Option<bool> {
    plan.vars
        .iter()
        .find(|(var, _)| var == name)
        .map(|(_, safe)| *safe)
}

#[test]
fn variables_are_classified_by_their_first_assignment() {
    let plan = plan_of("$x = 5 inet:fqdn $y = :zone $z = $y $x = :zone");
    assert_eq!(classification(&plan, "x"), Some(true));
    assert_eq!(classification(&plan, "y"), Some(false));
    assert_eq!(classification(&plan, "z"), Some(false));
    assert_eq!(classification(&plan, "node"), Some(false));
    assert_eq!(classification(&plan, "lib"), Some(true));

    // a per-node variable becomes runtime-safe when a later assignment is runtime-safe
    let plan = plan_of("inet:fqdn $x = :zone $x = 5");
    assert_eq!(classification(&plan, "x"), Some(true));

    // given variables are runtime-safe
    let plan = plan_with("inet:fqdn=$fqdn", &["fqdn"]);
    let OpKind::Lift(lift) = &plan.root.ops[0].kind else {
        panic!()
    };
    let LiftSource::PropCmp { value, .. } = &lift.source else {
        panic!()
    };
    assert_eq!(
        value.kind,
        ExprKind::Var(VarRef {
            name: "fqdn".into(),
            runtsafe: true
        })
    );
    assert!(plan.root.ops[0].runtsafe);
}

#[test]
fn loops_catches_and_functions_declare_their_variables() {
    let plan = plan_of(
        "for ($k, $v) in $lib.dict() { $lib.print($k) } try { } catch * as err { $lib.print($err) } function f() { }",
    );
    assert_eq!(classification(&plan, "k"), Some(true));
    assert_eq!(classification(&plan, "err"), Some(true));
    assert_eq!(classification(&plan, "f"), Some(true));
    let plan = plan_of("inet:fqdn for $tag in $node.tags() { $lib.print($tag) }");
    assert_eq!(classification(&plan, "tag"), Some(false));
}

#[test]
fn unknown_variables_fail_before_running() {
    let err = plan_err("$lib.print($nope)");
    assert_eq!(
        (err.name, err.mesg.as_str()),
        ("NoSuchVar", "Missing variable: nope")
    );
    assert_eq!(plan_err("$x = $x").mesg, "Missing variable: x");
    assert_eq!(plan_err("#foo.$seg").mesg, "Missing variable: seg");
    // variables assigned later in the query are known (and checked when read)
    plan_of("if $lib.true { $lib.print($later) } $later = 1");
    // bodies run in their own runtime are not checked here
    plan_of("function f() { return($unknown) } $q = ${ $lib.print($other) }");
}

#[test]
fn operators_know_their_runtime_safety() {
    let plan = plan_of(
        "$x = 5 inet:fqdn=$x inet:fqdn=:zone | limit $x | limit :asn | $y = :asn $lib.print($x)",
    );
    let safety: Vec<bool> = plan.root.ops.iter().map(|op| op.runtsafe).collect();
    assert_eq!(safety, [true, true, false, true, false, false, true]);
}

#[test]
fn constants_are_folded() {
    let plan = plan_of("$x = (a, b, (1, 2)) $y = `plain` $z = $(3)");
    let values: Vec<&Expr> = plan
        .root
        .ops
        .iter()
        .map(|op| match &op.kind {
            OpKind::Set { value, .. } => value,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        values[0].kind,
        ExprKind::Const(Const::List(vec![
            Const::Str("a".into()),
            Const::Str("b".into()),
            Const::List(vec![Const::Str("1".into()), Const::Str("2".into())]),
        ]))
    );
    assert_eq!(values[1].kind, ExprKind::Const(Const::Str("plain".into())));
    assert_eq!(values[2].kind, ExprKind::Const(Const::Int(3)));
}

#[test]
fn form_lifts_take_hints_from_the_filters_after_them() {
    let hint = |text: &str| {
        let plan = plan_of(text);
        let OpKind::Lift(lift) = &plan.root.ops[0].kind else {
            panic!()
        };
        lift.hint.clone()
    };
    assert_eq!(
        hint("inet:fqdn +#foo.bar"),
        Some(LiftHint::Tag(TagExpr::Const("foo.bar".into())))
    );
    assert_eq!(hint("inet:fqdn +#foo.*"), None);
    let Some(LiftHint::Prop {
        name,
        univ: false,
        cmp: Some((cmpr, value)),
    }) = hint("inet:ipv4 -#skip inet:fqdn +:asn=10")
    else {
        panic!()
    };
    assert_eq!(name, NameExpr::Const("asn".into()));
    assert_eq!(cmpr, "=");
    assert_eq!(value.kind, ExprKind::Const(Const::Str("10".into())));
    assert!(matches!(
        hint("inet:ipv4 +.seen"),
        Some(LiftHint::Prop {
            univ: true,
            cmp: None,
            ..
        })
    ));
    assert!(
        matches!(hint("inet:ipv4 +:asn::name=x"), Some(LiftHint::Prop { name: NameExpr::Const(n), cmp: None, .. }) if n == "asn")
    );
    assert_eq!(hint("inet:ipv4 | limit 1 +:asn"), None);
    assert_eq!(hint("inet:ipv4 +(:asn or #foo)"), None);
    // lifts with comparisons already use their index
    let plan = plan_of("inet:ipv4=1.2.3.4 +#foo");
    let OpKind::Lift(lift) = &plan.root.ops[0].kind else {
        panic!()
    };
    assert_eq!(lift.hint, None);
}

#[test]
fn lifts_name_their_index_access() {
    let plan = plan_of(
        "inet:fqdn#foo:score>5 ##bar inet:ipv4:asn*range=(1, 10) ps:contact:emails*[=a@b.c] reverse(#x@=2020)",
    );
    let sources: Vec<&LiftPlan> = plan
        .root
        .ops
        .iter()
        .map(|op| match &op.kind {
            OpKind::Lift(lift) => lift,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(
        matches!(&sources[0].source, LiftSource::TagProp { form: Some(_), cmp: Some((cmpr, _)), .. } if cmpr == ">")
    );
    assert!(matches!(&sources[1].source, LiftSource::TagTag { .. }));
    assert!(matches!(&sources[2].source, LiftSource::PropCmp { cmpr, .. } if cmpr == "range="));
    assert!(matches!(&sources[3].source, LiftSource::Array { cmpr, .. } if cmpr == "="));
    assert!(sources[4].reverse);
    assert!(matches!(
        &sources[4].source,
        LiftSource::Tag {
            form: None,
            cmp: Some(_),
            ..
        }
    ));
}

#[test]
fn functions_are_classified_from_their_bodies() {
    let kinds: Vec<FuncKind> = plan_of(
        "function a() { return((1)) } function b() { emit 1 return() } function c() { [ inet:fqdn=x ] } \
         function d() { if $lib.true { return(1) } } function e() { function inner() { return(1) } }",
    )
    .root
    .ops
    .iter()
    .map(|op| match &op.kind {
        OpKind::Function(func) => func.kind,
        other => panic!("{other:?}"),
    })
    .collect();
    assert_eq!(
        kinds,
        [
            FuncKind::Value,
            FuncKind::Emitter,
            FuncKind::Nodes,
            FuncKind::Value,
            FuncKind::Nodes
        ]
    );
}

#[test]
fn nested_queries_are_planned_in_place_or_kept_for_their_runtime() {
    let plan = plan_of(
        "inet:fqdn { -> inet:dns:a } | tee { -> * } | $q = ${ inet:fqdn } [ +(refs)> { inet:ipv4 } ]",
    );
    assert!(
        matches!(&plan.root.ops[1].kind, OpKind::SubQuery { yields: false, body } if body.ops.len() == 1)
    );
    let OpKind::Cmd(cmd) = &plan.root.ops[2].kind else {
        panic!()
    };
    assert_eq!(cmd.args[0].kind, ExprKind::Const(Const::Str("-> *".into())));
    let OpKind::Set { value, .. } = &plan.root.ops[3].kind else {
        panic!()
    };
    assert!(
        matches!(&value.kind, ExprKind::Query(QueryExpr::Embed { text, .. }) if text == " inet:fqdn ")
    );
    let OpKind::Edit(EditPlan::Edge {
        add: true,
        target: EdgeTarget::Query(body),
        ..
    }) = &plan.root.ops[4].kind
    else {
        panic!()
    };
    assert_eq!(body.ops.len(), 1);
}

#[test]
fn every_corpus_query_plans_or_fails_cleanly() {
    // queries of the parser unit tests, planned with every variable they read given
    for text in [
        "inet:fqdn -> inet:dns:a:fqdn <- * -+> # :ipv4 -> * --> * -(refs)> (inet:fqdn, inet:ipv4)",
        "[ inet:ipv4=1.2.3.4 :asn?=10 +#foo=(2020, 2021) +#foo:score=5 -#bar .seen=2020 :tags++=(a, b) ]",
        "switch $x { foo: { } *: { } } while $x { break } for $y in $x { emit $y }",
        "$lib.print(`{$x} {:asn}`) +$($x > 1) -(:asn=10 or #foo.*) +{ -> * } >= 2",
    ] {
        plan_with(text, &["x"]);
    }
}
