//! Data-driven Storm cases of our own (expectations recorded from the reference).

use super::util::{Core, msgpack_to_json};

/// Print the messages of `STORM_DEBUG` queries (separated by `;;`), for development.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_messages() {
    let text = std::env::var("STORM_DEBUG").unwrap_or_else(|_| "[inet:asn=1]".into());
    let core = Core::new().await;
    let mut all = Vec::new();
    for q in text.split(";;") {
        let mesgs = core.storm(q, &serde_json::json!({})).await;
        for m in &mesgs {
            eprintln!("{} {}", m.kind, msgpack_to_json(&m.info));
        }
        all.extend(mesgs);
    }
    assert!(all.iter().any(|m| m.kind == "fini"));
}

/// The nodes `(form, valu, props, tags)` of a query's output; panics on an error message.
async fn nodes_of(core: &Core, text: &str) -> Vec<serde_json::Value> {
    let out = super::util::outcome(&core.storm(text, &serde_json::json!({})).await);
    assert_eq!(out.error, None, "{text}");
    out.nodes
}

/// A query sees its own edits from block to block and from subqueries, including deletes
/// and re-adds of nodes its editor has already read (expectations from the reference).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_seen_within_query() {
    use serde_json::json;
    let cases: [(&str, &str, Vec<serde_json::Value>); 6] = [
        (
            "[inet:ipv4=1.2.3.4 +#foo] [ -#foo ] [ +#bar ]",
            "inet:ipv4",
            vec![json!(["inet:ipv4", 16909060, {"type": "unicast"}, ["bar"]])],
        ),
        (
            "[inet:ipv4=1.2.3.4] { [ +#sub :asn=5 ] } [ +#outer ]",
            "inet:ipv4",
            vec![json!(["inet:ipv4", 16909060, {"type": "unicast", "asn": 5}, ["outer", "sub"]])],
        ),
        (
            "[inet:ipv4=1.2.3.4 +#foo.bar] [ -#foo ] [ +#foo.baz ]",
            "inet:ipv4",
            vec![json!(["inet:ipv4", 16909060, {"type": "unicast"}, ["foo", "foo.baz"]])],
        ),
        (
            "for $i in (1, 2, 3) { [inet:ipv4=1.2.3.4 +#a] | delnode } [inet:ipv4=1.2.3.4 +#b]",
            "inet:ipv4",
            vec![json!(["inet:ipv4", 16909060, {"type": "unicast"}, ["b"]])],
        ),
        (
            "for $i in (1, 2) { [inet:ipv4=1.2.3.4 +#a :asn=$i] { | delnode } | spin | [inet:ipv4=1.2.3.4 +#b] }",
            "inet:ipv4",
            vec![json!(["inet:ipv4", 16909060, {"type": "unicast"}, ["b"]])],
        ),
        (
            "[inet:ipv4=1.2.3.4 +#foo] | spin | syn:tag=foo | delnode --force | spin | [inet:ipv4=5.5.5.5 +#foo]",
            "syn:tag",
            vec![json!(["syn:tag", "foo", {"depth": 0, "base": "foo"}, []])],
        ),
    ];
    for (query, check, want) in cases {
        let core = Core::new().await;
        nodes_of(&core, query).await;
        let have = nodes_of(&core, check).await;
        assert_eq!(have, want, "{query}");
    }
}

/// Printing values that are Python objects in the reference (generators, `$node.props`,
/// `$node.data`, `$path`) ends in a print, never in unbounded recursion (it once overflowed
/// the stack and took the server down).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printing_object_values_terminates() {
    let core = Core::new().await;
    nodes_of(&core, "[inet:ipv4=1.2.3.4]").await;
    let cases = [
        (
            "$lib.print($lib.sorted((3, 1, 2)))",
            "<async_generator object>",
        ),
        ("$lib.print($lib.range(3))", "<async_generator object>"),
        ("inet:ipv4 $lib.print($node.props) | spin", "NodeProps"),
        ("inet:ipv4 $lib.print($node.data) | spin", "NodeData"),
        ("inet:ipv4 $lib.print($path) | spin", "Path"),
        (
            "inet:ipv4 $lib.print(($path, $node.props)) | spin",
            "NodeProps",
        ),
        (
            "$lib.print($lib.str.join(',', ($lib.range(2),)))",
            "<async_generator object>",
        ),
    ];
    for (query, want) in cases {
        let mesgs = core.storm(query, &serde_json::json!({})).await;
        let prints: Vec<String> = mesgs
            .iter()
            .filter(|m| m.kind == "print")
            .map(|m| {
                msgpack_to_json(&m.info)["mesg"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        assert!(
            prints.iter().any(|p| p.contains(want)),
            "{query}: {prints:?} {:?}",
            mesgs
                .iter()
                .map(|m| (&m.kind, msgpack_to_json(&m.info)))
                .collect::<Vec<_>>()
        );
    }
}

/// A node deleted by a subquery is still edited by a later edit block: the edits land in the
/// layer without the node (which stays deleted) and the node carries on with them
/// (expectations from the reference).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_of_a_node_deleted_meanwhile() {
    use serde_json::json;
    let cases: [(&str, serde_json::Value); 2] = [
        (
            "[inet:ipv4=1.2.3.4] { | delnode } [ +#foo ]",
            json!(["inet:ipv4", 16909060, {}, ["foo"]]),
        ),
        (
            "[inet:ipv4=1.2.3.5 :asn=10] { | delnode } [ :loc=us ]",
            json!(["inet:ipv4", 16909061, {"loc": "us"}, []]),
        ),
    ];
    for (query, want) in cases {
        let core = Core::new().await;
        assert_eq!(nodes_of(&core, query).await, vec![want], "{query}");
        for check in ["inet:ipv4", "#foo", "inet:ipv4:loc"] {
            assert_eq!(
                nodes_of(&core, check).await,
                Vec::<serde_json::Value>::new(),
                "{query} / {check}"
            );
        }
    }
}

/// A query's edits are committed before it ends (they are applied without a commit per
/// node while it runs), and reads later in the query see them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_edits_are_committed_before_fini() {
    let core = Core::new().await;
    let nodes = nodes_of(
        &core,
        "for $i in $lib.range(20) { [ inet:ipv4=$i :asn=$i +#a.b ] } | spin | inet:ipv4:asn>=10",
    )
    .await;
    assert_eq!(nodes.len(), 10);
    let views = core.core.views();
    for layer in views.layers() {
        assert!(!layer.has_uncommitted(), "{layer:?}");
    }
    assert_eq!(nodes_of(&core, "inet:asn").await.len(), 20);
    assert_eq!(nodes_of(&core, "inet:ipv4#a.b").await.len(), 20);
}
