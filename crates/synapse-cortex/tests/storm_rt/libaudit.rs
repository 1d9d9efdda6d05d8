//! The tier-1/2 `$lib` libraries and Storm type methods of the reference (libaudit_ref.json,
//! written by gen_libaudit.py from the reference's storm docs) resolve in our runtime, except
//! the known gaps of libaudit_gaps.json, which must still be missing (so the list stays exact).

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use super::util::Core;

/// A query that binds `$x` to a value of a Storm type (None: not checked by name here).
fn type_setup(name: &str) -> Option<&'static str> {
    Some(match name {
        "str" => "$x = foo",
        "list" => "$x = (1, 2)",
        "set" => "$x = $lib.set(1)",
        "number" => "$x = $lib.math.number(1.5)",
        "bytes" => "$x = $lib.hex.decode(01)",
        "node" => "inet:ipv4=1.2.3.4 $x = $node",
        "node:props" => "inet:ipv4=1.2.3.4 $x = $node.props",
        "node:data" => "inet:ipv4=1.2.3.4 $x = $node.data",
        "view" => "$x = $lib.view.get()",
        "layer" => "$x = $lib.layer.get()",
        "storm:query" => "$x = ${ inet:ipv4 }",
        "text" => "$x = $lib.text()",
        "stat:tally" => "$x = $lib.stats.tally()",
        "model:form" => "$x = $lib.model.form(inet:ipv4)",
        "model:property" => "$x = $lib.model.prop(inet:ipv4:asn)",
        "model:type" => "$x = $lib.model.type(int)",
        _ => return None,
    })
}

/// Whether values of the type resolve every name (and fail only when called).
fn is_object(tname: &str) -> bool {
    !matches!(tname, "str" | "list" | "set" | "number" | "bytes" | "node")
}

/// Whether the query fails with NoSuchName.
async fn nosuchname(core: &Core, query: &str) -> bool {
    core.storm(query, &json!({}))
        .await
        .iter()
        .filter(|m| m.kind == "err")
        .any(|m| super::util::msgpack_to_json(&m.info)[0].as_str() == Some("NoSuchName"))
}

/// `path name` of every reference name our runtime does not resolve.
async fn missing_names(core: &Core, refr: &Json) -> Vec<String> {
    let mut missing = Vec::new();
    let libs: BTreeMap<String, Json> =
        serde_json::from_value(refr["libraries"].clone()).expect("libraries");
    for (path, names) in &libs {
        for name in names.as_array().expect("names") {
            let name = name.as_str().expect("name");
            if nosuchname(core, &format!("$y = ${path}.{name}")).await {
                missing.push(format!("{path} {name}"));
            }
        }
    }
    let types: BTreeMap<String, Json> =
        serde_json::from_value(refr["types"].clone()).expect("types");
    for (tname, names) in &types {
        let Some(setup) = type_setup(tname) else {
            continue;
        };
        for name in names.as_array().expect("names") {
            let name = name.as_str().expect("name");
            // objects resolve any name and fail on the call: call those without arguments
            let deref = nosuchname(core, &format!("{setup} $y = $x.{name}")).await;
            if deref
                || (is_object(tname)
                    && nosuchname(core, &format!("{setup} $y = $x.{name}()")).await)
            {
                missing.push(format!("{tname} {name}"));
            }
        }
    }
    missing
}

#[tokio::test]
async fn reference_lib_and_type_names_resolve() {
    let refr: Json =
        serde_json::from_str(include_str!("libaudit_ref.json")).expect("libaudit_ref.json");
    let gaps: Vec<String> =
        serde_json::from_str(include_str!("libaudit_gaps.json")).expect("libaudit_gaps.json");
    let core = Core::new().await;
    let mesgs = core.storm("[ inet:ipv4=1.2.3.4 ]", &json!({})).await;
    assert!(mesgs.iter().all(|m| m.kind != "err"), "{mesgs:?}");
    // the check itself must see a missing name
    assert!(nosuchname(&core, "$y = $lib.str.nopenope").await);
    assert!(nosuchname(&core, "$x = foo $y = $x.nopenope").await);
    let missing = missing_names(&core, &refr).await;
    assert_eq!(
        missing,
        gaps,
        "reference names we lack (left) vs libaudit_gaps.json (right):\n{}",
        serde_json::to_string_pretty(&missing).unwrap_or_default()
    );
}

/// The comparable part of a message, as gen_recorded_libaudit.py writes it.
fn canon(kind: &str, info: &Json) -> Option<Json> {
    match kind {
        "node" => Some(json!(["node", info[0][0], info[0][1]])),
        "print" | "warn" => Some(json!([kind, info["mesg"]])),
        "err" => Some(json!(["err", info[0], info[1]["mesg"]])),
        _ => None,
    }
}

#[tokio::test]
async fn audited_additions_match_the_reference() {
    let recorded: Json = serde_json::from_str(include_str!("recorded_libaudit.json"))
        .expect("recorded_libaudit.json");
    super::util::replay_recorded(&recorded, 60, canon).await;
}

/// Easy perms for a user who is not an admin: the user's own level wins (deny always
/// denies), then the default (the reference's `_hasEasyPerm` and `_reqEasyPerm`).
#[tokio::test]
async fn easyperm_levels_for_a_non_admin() {
    use std::sync::Arc;

    use synapse_cortex::storm::runtime::StormUser;

    let core = Core::new().await;
    let iden = "aa".repeat(16);
    let bob = StormUser {
        iden: iden.clone(),
        name: "bob".to_owned(),
        admin: false,
        // may read the view (to run queries at all), nothing more
        check: Arc::new(|perm: &[&str], _: Option<&str>| perm == ["view", "read"]),
    };
    let run = |text: String| {
        let core = &core;
        let bob = bob.clone();
        async move { super::util::outcome(&core.storm_as(bob, &text, &json!({})).await) }
    };
    let base = r#"$d=({"permissions": {"users": {}, "roles": {}, "default": 1}})"#;
    let out = run(format!(
        "{base} $lib.print($lib.auth.easyperm.allowed($d, 1)) \
         $lib.print($lib.auth.easyperm.allowed($d, 2))"
    ))
    .await;
    assert_eq!(
        out.mesgs,
        vec![json!(["print", "true"]), json!(["print", "false"])],
        "{:?}",
        out.error
    );
    let out = run(format!(
        "{base} $d.permissions.users.\"{iden}\" = (2) \
         $lib.print($lib.auth.easyperm.allowed($d, 2)) \
         $d.permissions.users.\"{iden}\" = (0) \
         $lib.print($lib.auth.easyperm.allowed($d, 1))"
    ))
    .await;
    assert_eq!(
        out.mesgs,
        vec![json!(["print", "true"]), json!(["print", "false"])]
    );
    let mesgs = core
        .storm_as(
            bob.clone(),
            &format!("{base} $lib.auth.easyperm.confirm($d, 3)"),
            &json!({}),
        )
        .await;
    let err = mesgs
        .iter()
        .find(|m| m.kind == "err")
        .map(|m| super::util::msgpack_to_json(&m.info))
        .expect("an error");
    assert_eq!(err[0], "AuthDeny");
    assert_eq!(
        err[1]["mesg"],
        "User (bob) has insufficient permissions (requires: admin)."
    );
}

/// Layer edits of stored nodes need an admin, even for a user allowed everything else.
#[tokio::test]
async fn layer_storage_edits_need_an_admin() {
    use std::sync::Arc;

    use synapse_cortex::storm::runtime::StormUser;

    let core = Core::new().await;
    let mesgs = core.storm("[ inet:ipv4=1.2.3.4 ]", &json!({})).await;
    assert!(mesgs.iter().all(|m| m.kind != "err"), "{mesgs:?}");
    let bob = StormUser {
        iden: "bb".repeat(16),
        name: "bob".to_owned(),
        admin: false,
        check: Arc::new(|_: &[&str], _: Option<&str>| true),
    };
    for func in [
        "setNodeDataValu($n, x, 1)",
        "delNodeData($n)",
        "delEdge($n, refs, $n)",
    ] {
        let text = format!("inet:ipv4=1.2.3.4 $n=$node.iden() $lib.layer.get().{func}");
        let mesgs = core.storm_as(bob.clone(), &text, &json!({})).await;
        let err = mesgs
            .iter()
            .find(|m| m.kind == "err")
            .map(|m| super::util::msgpack_to_json(&m.info))
            .expect("an error");
        let name = func.split('(').next().unwrap_or_default();
        assert_eq!(err[0], "AuthDeny", "{func}");
        assert_eq!(
            err[1]["mesg"],
            format!("{name}() requires admin privileges."),
            "{func}"
        );
    }
}
