//! `$lib.feed` in Storm: nodes fed through the query's editor (after its earlier edits, seen
//! by triggers, announced as `node:edits`), bad definitions skipped with warnings, `genr`
//! lazy, the `feed:data` permission on the write layer, read-only runtimes refused.

use rmpv::Value;
use synapse_cell::CellApi;
use synapse_cortex::cortex::Cortex;

use crate::util::{allow, dict, genr, get, list, nodedef, root, s, user};

/// The message kinds of a query, with `print` texts and error names.
async fn run(api: &CellApi<Cortex>, text: &str, vars: Value) -> Vec<String> {
    let opts = dict(vec![("vars", vars)]);
    let mesgs = genr(api, "storm", vec![s(text), opts]).await.unwrap();
    let mut out = Vec::new();
    for mesg in &mesgs {
        let parts = mesg.as_array().unwrap();
        match parts[0].as_str().unwrap() {
            "print" => out.push(format!(
                "print:{}",
                get(&parts[1], "mesg").as_str().unwrap()
            )),
            "err" => out.push(format!(
                "err:{}",
                parts[1].as_array().unwrap()[0].as_str().unwrap()
            )),
            "node" => {
                let ndef = parts[1].as_array().unwrap()[0].as_array().unwrap();
                out.push(format!("node:{}", ndef[1]));
            }
            kind @ ("warn" | "node:edits") => out.push(kind.to_owned()),
            _ => {}
        }
    }
    out
}

fn tagged(tag: &str) -> Value {
    dict(vec![(
        "tags",
        dict(vec![(tag, list(vec![Value::Nil, Value::Nil]))]),
    )])
}

fn items() -> Value {
    list(vec![
        nodedef("inet:fqdn", s("a.feed.com"), tagged("fed")),
        nodedef("inet:ipv4", s("not an ip"), tagged("fed")),
        nodedef("inet:fqdn", s("b.feed.com"), tagged("fed")),
    ])
}

fn vars() -> Value {
    dict(vec![("items", items())])
}

#[tokio::test]
async fn ingest_and_genr_feed_nodes_through_the_query() {
    let (_dir, core) = crate::util::fresh().await;
    let api = root(&core);

    // a trigger sees the fed nodes
    let out = run(
        &api,
        "$lib.trigger.add(({'cond': 'node:add', 'form': 'inet:fqdn', 'storm': '[+#trig]'}))",
        dict(vec![]),
    )
    .await;
    assert!(!out.iter().any(|m| m.starts_with("err")), "{out:?}");

    let out = run(&api, "$lib.feed.ingest(syn.nodes, $items)", vars()).await;
    assert!(out.contains(&"warn".to_owned()), "{out:?}");
    assert!(out.contains(&"node:edits".to_owned()), "{out:?}");
    assert!(!out.iter().any(|m| m.starts_with("err")), "{out:?}");
    let out = run(&api, "#fed +#trig | uniq", dict(vec![])).await;
    assert_eq!(
        out,
        vec!["node:\"a.feed.com\"", "node:\"b.feed.com\""],
        "{out:?}"
    );

    // genr yields the nodes, in order, the bad definition skipped with a warning
    let more = dict(vec![(
        "items",
        list(vec![
            nodedef("inet:fqdn", s("c.feed.com"), tagged("gen")),
            nodedef("inet:ipv4", s("nope"), dict(vec![])),
            nodedef("inet:fqdn", s("d.feed.com"), tagged("gen")),
        ]),
    )]);
    let out = run(
        &api,
        "for $n in $lib.feed.genr(syn.nodes, $items) { $lib.print($n.repr()) }",
        more.clone(),
    )
    .await;
    let prints: Vec<&String> = out.iter().filter(|m| m.starts_with("print")).collect();
    assert_eq!(prints, vec!["print:c.feed.com", "print:d.feed.com"]);
    assert!(out.contains(&"warn".to_owned()), "{out:?}");

    // lazy: leaving the generator early adds no more nodes
    let lazy = dict(vec![(
        "items",
        list(vec![
            nodedef("inet:fqdn", s("e.feed.com"), dict(vec![])),
            nodedef("inet:fqdn", s("f.feed.com"), dict(vec![])),
        ]),
    )]);
    let out = run(
        &api,
        "for $n in $lib.feed.genr(syn.nodes, $items) { $lib.print($n.repr()) break }",
        lazy,
    )
    .await;
    assert_eq!(out, vec!["node:edits", "print:e.feed.com"], "{out:?}");
    let out = run(
        &api,
        "inet:fqdn=e.feed.com inet:fqdn=f.feed.com",
        dict(vec![]),
    )
    .await;
    assert_eq!(out, vec!["node:\"e.feed.com\""], "{out:?}");

    // edits made earlier in the query are applied first, then merged with the feed's
    let before = dict(vec![(
        "items",
        list(vec![nodedef("inet:fqdn", s("g.feed.com"), tagged("after"))]),
    )]);
    let out = run(
        &api,
        "[inet:fqdn=g.feed.com +#before] $lib.feed.ingest(syn.nodes, $items) | spin | \
         inet:fqdn=g.feed.com +#before +#after",
        before,
    )
    .await;
    assert_eq!(out.last().map(String::as_str), Some("node:\"g.feed.com\""));

    // other feeds, null data, read-only runtimes
    let out = run(&api, "$lib.feed.ingest(nope.feed, ())", dict(vec![])).await;
    assert_eq!(out, vec!["err:NoSuchName"]);
    let out = run(&api, "$lib.feed.ingest(syn.nodes, $lib.null)", dict(vec![])).await;
    assert_eq!(out, vec!["err:StormRuntimeError"]);
    let opts = dict(vec![("readonly", Value::Boolean(true)), ("vars", vars())]);
    let mesgs = genr(
        &api,
        "storm",
        vec![s("$lib.feed.ingest(syn.nodes, $items)"), opts],
    )
    .await
    .unwrap();
    let errs: Vec<&Value> = mesgs
        .iter()
        .filter(|m| m.as_array().unwrap()[0].as_str() == Some("err"))
        .collect();
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].as_array().unwrap()[1].as_array().unwrap()[0],
        s("IsReadOnly")
    );
}

#[tokio::test]
async fn feeds_need_feed_data_on_the_write_layer() {
    let (_dir, core) = crate::util::fresh().await;
    let (visi, iden) = user(&core, "visi").await;
    let out = run(&visi, "$lib.feed.ingest(syn.nodes, $items)", vars()).await;
    assert_eq!(out, vec!["err:AuthDeny"]);
    let out = run(&visi, "yield $lib.feed.genr(syn.nodes, $items)", vars()).await;
    assert_eq!(out, vec!["err:AuthDeny"]);

    // on the write layer, and no node permissions needed
    let layer = core.service().default_view().write_layer().iden();
    allow(&core, &iden, &["feed:data", "syn", "nodes"], Some(&layer)).await;
    let out = run(&visi, "yield $lib.feed.genr(syn.nodes, $items)", vars()).await;
    assert_eq!(
        out.iter()
            .filter(|m| m.starts_with("node:\""))
            .collect::<Vec<_>>(),
        vec!["node:\"a.feed.com\"", "node:\"b.feed.com\""],
        "{out:?}"
    );
    assert!(!out.iter().any(|m| m.starts_with("err")), "{out:?}");
}
