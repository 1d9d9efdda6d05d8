//! The editor: auto-added nodes, subs, tags, props, edges, node data, deletion.

use rmpv::Value;
use synapse_cortex::model::Model;
use synapse_cortex::node::PackOpts;
use synapse_cortex::nodeedit::{EditOp, buid};
use synapse_cortex::view::Editor;

use super::util::{editor, ndefs, nodes, open, s};

#[tokio::test]
async fn dns_a_adds_its_fqdn_and_ipv4() {
    let dir = tempfile::tempdir().unwrap();
    let views = open(dir.path()).await;
    let view = views.default_view();
    let mut ed = editor(&view);
    let valu = Value::Array(vec![s("www.vertex.link"), s("1.2.3.4")]);
    let dnsa = ed.add_node("inet:dns:a", &valu).await.unwrap().unwrap();
    ed.add_tag(&dnsa, "rep.foo", Some(&s("2020")))
        .await
        .unwrap();
    let batches = ed.apply().await.unwrap();
    assert_eq!(batches.len(), 1);
    let forms: Vec<&str> = batches[0].iter().map(|ne| ne.form.as_str()).collect();
    for want in ["inet:dns:a", "inet:fqdn", "inet:ipv4", "syn:tag"] {
        assert!(forms.contains(&want), "{want} in {forms:?}");
    }

    let node = view.get_node(dnsa).await.unwrap().unwrap();
    assert_eq!(node.get("fqdn"), Some(&s("www.vertex.link")));
    assert_eq!(node.get("ipv4"), Some(&Value::from(16909060)));
    assert!(node.get(".created").is_some());
    assert_eq!(node.tag("rep"), Some((None, None)));
    assert_eq!(
        node.tag("rep.foo"),
        Some((Some(1577836800000), Some(1577836800001)))
    );

    let fqdns = nodes(view.lift_prop("inet:fqdn", false).unwrap()).await;
    // Ordered by reversed name: link, vertex.link, www.vertex.link.
    assert_eq!(
        ndefs(&fqdns),
        vec![
            ("inet:fqdn".into(), s("link")),
            ("inet:fqdn".into(), s("vertex.link")),
            ("inet:fqdn".into(), s("www.vertex.link")),
        ]
    );
    let link = &fqdns[0];
    assert_eq!(link.get("issuffix"), Some(&Value::from(1)));
    assert_eq!(link.get("iszone"), Some(&Value::from(0)));
    let vlink = &fqdns[1];
    assert_eq!(vlink.get("iszone"), Some(&Value::from(1)));
    assert_eq!(vlink.get("zone"), Some(&s("vertex.link")));
    let www = &fqdns[2];
    assert_eq!(www.get("host"), Some(&s("www")));
    assert_eq!(www.get("domain"), Some(&s("vertex.link")));
    assert_eq!(www.get("iszone"), Some(&Value::from(0)));
    assert_eq!(www.get("issuffix"), Some(&Value::from(0)));
    assert_eq!(www.get("zone"), Some(&s("vertex.link")));

    let ipv4 = view
        .get_node(buid("inet:ipv4", &Value::from(16909060)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ipv4.get("type"), Some(&s("unicast")));

    let tags = nodes(view.lift_prop("syn:tag", false).unwrap()).await;
    assert_eq!(
        ndefs(&tags),
        vec![
            ("syn:tag".into(), s("rep")),
            ("syn:tag".into(), s("rep.foo"))
        ]
    );
    assert_eq!(tags[1].get("up"), Some(&s("rep")));
    assert_eq!(tags[1].get("depth"), Some(&Value::from(1)));

    // Widening the tag interval, tagging again changes nothing.
    let mut ed = editor(&view);
    ed.add_tag(&dnsa, "rep.foo", Some(&s("2022")))
        .await
        .unwrap();
    ed.add_tag(&dnsa, "rep", None).await.unwrap();
    let batches = ed.apply().await.unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].len(), 1);
    match &batches[0][0].edits[0].op {
        EditOp::TagSet { tag, valu, oldv } => {
            assert_eq!(tag, "rep.foo");
            assert_eq!(*valu, (Some(1577836800000), Some(1640995200001)));
            assert_eq!(*oldv, Some((Some(1577836800000), Some(1577836800001))));
        }
        other => panic!("unexpected {other:?}"),
    }

    let model = Model::load_default().unwrap();
    let pode = view
        .get_node(dnsa)
        .await
        .unwrap()
        .unwrap()
        .pack(&model, PackOpts { repr: true });
    let info = &pode.as_array().unwrap()[1];
    let get = |k: &str| {
        info.as_map()
            .unwrap()
            .iter()
            .find(|(kk, _)| kk.as_str() == Some(k))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("iden"), Some(Value::from(hex::encode(dnsa))));
    assert!(get("reprs").is_some());
    views.fini().await;
}

fn tags_of(node: &synapse_cortex::node::Node) -> Vec<String> {
    let mut tags: Vec<String> = node.tags.iter().map(|(t, _)| t.clone()).collect();
    tags.sort();
    tags
}

/// An editor keeps the node states it read across its applies; what other editors applied
/// meanwhile must still show: tags added and removed, a node deleted then re-added.
#[tokio::test]
async fn node_cache_sees_other_editors_writes() {
    let dir = tempfile::tempdir().unwrap();
    let views = open(dir.path()).await;
    let view = views.default_view();
    let mut ed1 = editor(&view);
    let mut ed2 = editor(&view);
    let ip = ed1
        .add_node("inet:ipv4", &s("1.2.3.4"))
        .await
        .unwrap()
        .unwrap();
    ed1.add_tag(&ip, "foo", None).await.unwrap();
    ed1.apply().await.unwrap();
    let node = ed1.node(&ip).await.unwrap().unwrap();
    assert_eq!(tags_of(&node), ["foo"]);
    // Read the tag node through ed1 too (cached from here on).
    let foo = buid("syn:tag", &s("foo"));
    assert!(ed1.node(&foo).await.unwrap().is_some());

    ed2.del_tag(&ip, "foo").await.unwrap();
    ed2.add_tag(&ip, "bar", None).await.unwrap();
    ed2.apply().await.unwrap();
    let node = ed1.node(&ip).await.unwrap().unwrap();
    assert_eq!(tags_of(&node), ["bar"]);

    // Deleted by the other editor: gone for ed1, and ed1 adds it anew.
    ed2.del_node(&foo, true).await.unwrap();
    ed2.del_node(&ip, true).await.unwrap();
    ed2.apply().await.unwrap();
    assert!(ed1.node(&ip).await.unwrap().is_none());
    let again = ed1
        .add_node("inet:ipv4", &s("1.2.3.4"))
        .await
        .unwrap()
        .unwrap();
    ed1.add_tag(&again, "foo", None).await.unwrap();
    let batches = ed1.apply().await.unwrap();
    let adds: Vec<&str> = batches[0]
        .iter()
        .filter(|ne| {
            ne.edits
                .iter()
                .any(|e| matches!(e.op, EditOp::NodeAdd { .. }))
        })
        .map(|ne| ne.form.as_str())
        .collect();
    assert_eq!(adds, ["inet:ipv4", "syn:tag"]);
    let node = view.get_node(ip).await.unwrap().unwrap();
    assert_eq!(tags_of(&node), ["foo"]);
    assert!(view.get_node(foo).await.unwrap().is_some());

    // State read before an apply of another editor (nothing staged yet) is not served
    // after it either.
    ed1.prefetch(&[buid("inet:ipv4", &Value::from(0x0505_0505))])
        .await
        .unwrap();
    let five = ed2
        .add_node("inet:ipv4", &s("5.5.5.5"))
        .await
        .unwrap()
        .unwrap();
    ed2.apply().await.unwrap();
    assert!(ed1.node(&five).await.unwrap().is_some());
}

/// An editor's own applied edits replace what it had cached: deleting and re-adding a node,
/// removing tags, editing the tag nodes themselves.
#[tokio::test]
async fn node_cache_follows_own_edits() {
    let dir = tempfile::tempdir().unwrap();
    let views = open(dir.path()).await;
    let view = views.default_view();
    let mut ed = editor(&view);
    for round in 0..3 {
        let ip = ed
            .add_node("inet:ipv4", &s("1.2.3.4"))
            .await
            .unwrap()
            .unwrap();
        ed.add_tag(&ip, "foo.bar", None).await.unwrap();
        ed.set_prop(&ip, "asn", &Value::from(round)).await.unwrap();
        let batches = ed.apply().await.unwrap();
        assert!(
            batches[0].iter().any(|ne| ne.buid == ip
                && ne
                    .edits
                    .iter()
                    .any(|e| matches!(e.op, EditOp::NodeAdd { .. }))),
            "round {round}: the node is added again"
        );
        let node = ed.node(&ip).await.unwrap().unwrap();
        assert_eq!(tags_of(&node), ["foo", "foo.bar"]);
        assert_eq!(node.get("asn"), Some(&Value::from(round)));
        ed.del_tag(&ip, "foo").await.unwrap();
        ed.apply().await.unwrap();
        assert!(tags_of(&ed.node(&ip).await.unwrap().unwrap()).is_empty());
        // The tag node is deleted too: the next round creates it again.
        let bar = buid("syn:tag", &s("foo.bar"));
        assert!(ed.node(&bar).await.unwrap().is_some());
        ed.del_node(&bar, true).await.unwrap();
        ed.del_node(&ip, true).await.unwrap();
        ed.apply().await.unwrap();
        assert!(ed.node(&ip).await.unwrap().is_none());
        assert!(ed.node(&bar).await.unwrap().is_none());
        assert!(view.get_node(ip).await.unwrap().is_none());
    }
}

/// In a fork, writes by another view to the layer below also invalidate what was read.
#[tokio::test]
async fn node_cache_sees_writes_to_lower_layers() {
    let dir = tempfile::tempdir().unwrap();
    let views = open(dir.path()).await;
    let base = views.default_view();
    let fork = views
        .fork(&base.iden(), Some("fork".into()), "root")
        .await
        .unwrap();
    let mut fed = editor(&fork);
    let ip = buid("inet:ipv4", &Value::from(0x0102_0304));
    assert!(fed.node(&ip).await.unwrap().is_none());
    let mut bed = editor(&base);
    bed.add_node("inet:ipv4", &s("1.2.3.4")).await.unwrap();
    bed.apply().await.unwrap();
    assert!(fed.node(&ip).await.unwrap().is_some());
    // And the fork does not add it again (it exists below).
    fed.add_node("inet:ipv4", &s("1.2.3.4")).await.unwrap();
    let batches = fed.apply().await.unwrap();
    assert!(batches.iter().flatten().all(|ne| {
        ne.edits
            .iter()
            .all(|e| !matches!(e.op, EditOp::NodeAdd { .. }))
    }));
}

#[tokio::test]
async fn a_prepared_batch_applies_as_one_staged_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let views = open(dir.path()).await;
    let view = views.default_view();
    let mut ed = editor(&view);
    let a = ed
        .add_node("inet:fqdn", &s("www.vertex.link"))
        .await
        .unwrap()
        .unwrap();
    ed.add_tag(&a, "t.x", None).await.unwrap();
    // The hooks ran (the zone props are staged) and nothing is written yet.
    ed.prepare().await.unwrap();
    assert!(ed.has_pending());
    assert_eq!(view.count_form("inet:fqdn").await.unwrap(), 0);
    // A second prepare keeps the first batch.
    ed.prepare().await.unwrap();
    let batches = ed.apply().await.unwrap();
    assert_eq!(batches.len(), 1);
    assert!(!ed.has_pending());
    assert_eq!(view.count_form("inet:fqdn").await.unwrap(), 3);
    let node = view.get_node(a).await.unwrap().unwrap();
    assert_eq!(node.get("zone"), Some(&s("vertex.link")));
    assert!(node.tags.iter().any(|(tag, _)| tag == "t.x"));

    // Preparing an empty editor applies nothing.
    let mut ed = editor(&view);
    ed.prepare().await.unwrap();
    assert!(!ed.has_pending());
    assert!(ed.apply().await.unwrap().is_empty());
}

fn fqdn_def(fqdn: &str, props: Vec<(&str, Value)>) -> Value {
    let props = props.into_iter().map(|(k, v)| (s(k), v)).collect();
    Value::Array(vec![
        Value::Array(vec![s("inet:fqdn"), s(fqdn)]),
        Value::Map(vec![(s("props"), Value::Map(props))]),
    ])
}

/// Read `def`'s nodes ahead, then add and apply it: what `addNodes` does for each slice after
/// the first.
async fn add_after_reading_ahead(ed: &mut Editor, def: &Value) {
    ed.prefetch_defs_ahead(std::slice::from_ref(def))
        .await
        .unwrap();
    ed.add_node_def(def).await.unwrap();
    ed.apply().await.unwrap();
}

/// Reading ahead (`prefetch_defs_ahead`) while the editor's own deferred batch waits for its
/// commit leaves out the nodes that batch touched (here `kid.com`, made by the zone hook of
/// `x.kid.com`), so the next batch edits them as they are after it: the suffix change reaches
/// the child. Another writer's uncommitted batch is read through, not around.
#[tokio::test]
async fn reading_ahead_skips_the_nodes_of_uncommitted_batches() {
    let dir = tempfile::tempdir().unwrap();
    let views = open(dir.path()).await;
    let view = views.default_view();
    let mut ed = editor(&view);
    ed.set_deferred_commit(true);
    ed.add_node_def(&fqdn_def("x.kid.com", vec![]))
        .await
        .unwrap();
    ed.apply().await.unwrap();
    let kid = fqdn_def("kid.com", vec![("issuffix", Value::from(true))]);
    add_after_reading_ahead(&mut ed, &kid).await;

    // Another writer's batch, not committed yet (`a.woot.com` and, by its hook, `woot.com`),
    // then this editor reads ahead again.
    let mut other = editor(&view);
    other.set_deferred_commit(true);
    let child2 = other
        .add_node("inet:fqdn", &s("a.woot.com"))
        .await
        .unwrap()
        .unwrap();
    other.apply().await.unwrap();
    let sfx = fqdn_def("woot.com", vec![("issuffix", Value::from(true))]);
    add_after_reading_ahead(&mut ed, &sfx).await;
    view.write_layer().sync().await.unwrap();

    for child in [buid("inet:fqdn", &s("x.kid.com")), child2] {
        let node = view.get_node(child).await.unwrap().unwrap();
        assert_eq!(
            node.get("iszone"),
            Some(&Value::from(1)),
            "{:?}",
            node.ndef()
        );
        assert_eq!(node.get("zone"), node.ndef().as_array().map(|n| &n[1]));
    }
}
