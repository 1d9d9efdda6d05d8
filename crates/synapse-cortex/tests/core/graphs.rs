//! `$lib.graph` (stored graph projections) against our Cortex, checked against what the
//! reference 2.256 answers to the same queries, plus permissions, the `graph` option by iden,
//! `activate` inside a query, and persistence across a reopen.

use rmpv::Value;
use synapse_cell::CellApi;
use synapse_cortex::cortex::Cortex;

use crate::util::{dict, genr, get, open, root, s, user};

/// What a `storm()` call gave: prints, the first error `(name, mesg)`, and the node count.
struct Ran {
    prints: Vec<String>,
    err: Option<(String, String)>,
    nodes: usize,
}

async fn run(api: &CellApi<Cortex>, text: &str, opts: Value) -> Ran {
    let mesgs = genr(api, "storm", vec![s(text), opts]).await.unwrap();
    let mut ran = Ran {
        prints: Vec::new(),
        err: None,
        nodes: 0,
    };
    for mesg in &mesgs {
        let parts = mesg.as_array().unwrap();
        match parts[0].as_str() {
            Some("print") => ran
                .prints
                .push(get(&parts[1], "mesg").as_str().unwrap().to_owned()),
            Some("node") => ran.nodes += 1,
            Some("err") if ran.err.is_none() => {
                let info = parts[1].as_array().unwrap();
                ran.err = Some((
                    info[0].as_str().unwrap().to_owned(),
                    get(&info[1], "mesg")
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                ));
            }
            _ => {}
        }
    }
    ran
}

async fn storm(api: &CellApi<Cortex>, text: &str) -> Ran {
    run(api, text, dict(vec![])).await
}

#[tokio::test]
async fn lib_graph_projections_match_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let dirn = dir.path().join("core");
    let core = open(&dirn).await;
    let api = root(&core);

    let add = "$g = $lib.graph.add(({\"name\": \"test\", \"degrees\": 2, \"forms\": \
               {\"inet:fqdn\": {\"pivots\": [\"-> *\"]}}})) $lib.print($lib.json.save($g))";
    let ran = storm(&api, add).await;
    assert_eq!(ran.err, None);
    let gdef: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&ran.prints[0]).unwrap();
    let keys: Vec<&str> = gdef.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "name",
            "degrees",
            "forms",
            "permissions",
            "iden",
            "scope",
            "creator",
            "created",
            "updated",
            "desc",
            "refs",
            "edges",
            "edgelimit",
            "filterinput",
            "yieldfiltered"
        ]
    );
    assert_eq!(gdef["scope"], "user");
    assert_eq!(gdef["edgelimit"], 3000);
    assert_eq!(gdef["permissions"]["default"], 1);
    let iden = gdef["iden"].as_str().unwrap().to_owned();
    let creator = gdef["creator"].as_str().unwrap();
    assert_eq!(gdef["permissions"]["users"][creator], 3);

    for (query, name, mesg) in [
        (
            "$lib.graph.add(({\"name\": 5}))",
            "SchemaViolation",
            "data.name must be string",
        ),
        (
            "$lib.graph.add(({\"name\": \"x\", \"bogus\": 5}))",
            "SchemaViolation",
            "data must not contain {'bogus'} properties",
        ),
        (
            "$lib.graph.add(({\"name\": \"x\", \"degrees\": -1}))",
            "SchemaViolation",
            "data.degrees must be bigger than or equal to 0",
        ),
        (
            "$lib.graph.add(({\"name\": \"x\", \"forms\": {\"newp:newp\": {}}}))",
            "NoSuchForm",
            "No form named newp:newp.",
        ),
        (
            "$lib.graph.get(newp)",
            "NoSuchIden",
            "No graph projection with iden newp exists!",
        ),
        (
            "$g = $lib.graph.list().0 $lib.graph.mod($g.iden, ({\"bogus\": 1}))",
            "BadArg",
            "User may not edit the field: bogus.",
        ),
        (
            "$g = $lib.graph.list().0 $lib.graph.grant($g.iden, users, newp, 1)",
            "NoSuchUser",
            "No user with iden newp.",
        ),
        (
            "$g = $lib.graph.list().0 $lib.graph.grant($g.iden, bogus, newp, 1)",
            "BadArg",
            "Invalid permissions scope: bogus (must be \"users\" or \"roles\")",
        ),
    ] {
        let ran = storm(&api, query).await;
        assert_eq!(ran.err, Some((name.to_owned(), mesg.to_owned())), "{query}");
    }
    let ran = storm(
        &api,
        "$lib.graph.add(({\"name\": \"x\", \"filters\": [\"-+-+\"]}))",
    )
    .await;
    assert_eq!(ran.err.map(|e| e.0).as_deref(), Some("BadSyntax"));
    assert_eq!(
        storm(&api, "$lib.print($lib.graph.get())").await.prints,
        ["$lib.null"]
    );

    // chosen inside the query: the walk goes from the seed to its pivot (inet:fqdn=com)
    let activate = format!(
        "$lib.graph.activate({iden}) $lib.print($lib.graph.get().name) [inet:fqdn=woot.com]"
    );
    let ran = storm(&api, &activate).await;
    assert_eq!(ran.err, None);
    assert_eq!(ran.prints, ["test"]);
    assert_eq!(ran.nodes, 2);
    // without a projection the same lift yields one node
    assert_eq!(storm(&api, "inet:fqdn=woot.com").await.nodes, 1);
    // by iden, as the graph option
    let by_iden = dict(vec![("graph", s(&iden))]);
    let ran = run(&api, "inet:fqdn=woot.com", by_iden.clone()).await;
    assert_eq!((ran.err, ran.nodes), (None, 2));
    let newp = dict(vec![("graph", s("ffffffffffffffffffffffffffffffff"))]);
    let ran = run(&api, "inet:fqdn=woot.com", newp).await;
    assert_eq!(ran.err.map(|e| e.0).as_deref(), Some("NoSuchIden"));

    // another user reads it (default level: read) but may not edit or delete it
    let (visi, _) = user(&core, "visi").await;
    let ran = storm(&visi, &format!("$lib.print($lib.graph.get({iden}).name)")).await;
    assert_eq!((ran.err, ran.prints), (None, vec!["test".to_owned()]));
    assert_eq!(
        storm(&visi, "$lib.print($lib.len($lib.graph.list()))")
            .await
            .prints,
        ["1"]
    );
    let ran = storm(&visi, &format!("$lib.graph.del({iden})")).await;
    assert_eq!(
        ran.err,
        Some((
            "AuthDeny".to_owned(),
            format!("User requires admin permission on graph: {iden}.")
        ))
    );
    let modify = format!("$lib.graph.mod({iden}, ({{\"name\": \"renamed\"}}))");
    let ran = storm(&visi, &modify).await;
    assert_eq!(ran.err.map(|e| e.0).as_deref(), Some("AuthDeny"));
    assert_eq!(storm(&api, &modify).await.err, None);

    // kept across a reopen
    drop((api, visi));
    core.fini().await;
    let core = open(&dirn).await;
    let api = root(&core);
    let ran = storm(&api, &format!("$lib.print($lib.graph.get({iden}).name)")).await;
    assert_eq!((ran.err, ran.prints), (None, vec!["renamed".to_owned()]));
    let ran = run(&api, "inet:fqdn=woot.com", by_iden).await;
    assert_eq!((ran.err, ran.nodes), (None, 2));
    let ran = storm(
        &api,
        &format!("$lib.graph.del({iden}) $lib.print($lib.graph.list())"),
    )
    .await;
    assert_eq!((ran.err, ran.prints), (None, vec!["[]".to_owned()]));
    core.fini().await;
}
