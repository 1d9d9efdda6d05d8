//! Node level edits: props, tags, tag props, edges, node data, deletion checks.

use futures::TryStreamExt;
use rmpv::Value;
use synapse_cortex::nodeedit::{EditOp, buid, code};
use synapse_cortex::view::{EditPerm, EditPerms};

use super::util::{editor, nodes, open, s};

#[tokio::test]
async fn props_tags_edges_and_data() {
    let dir = tempfile::tempdir().unwrap();
    let views = open(dir.path()).await;
    let view = views.default_view();
    let mut ed = editor(&view);
    let a = ed
        .add_node("inet:fqdn", &s("a.vertex.link"))
        .await
        .unwrap()
        .unwrap();
    let b = ed
        .add_node("inet:ipv4", &s("1.2.3.4"))
        .await
        .unwrap()
        .unwrap();
    ed.add_tag(&a, "t.x.y", None).await.unwrap();
    ed.add_tag(&a, "t.z", None).await.unwrap();
    ed.add_edge(&a, "refs", &b).await.unwrap();
    ed.set_data(&a, "foo", &Value::Array(vec![s("1"), s("2")]))
        .await
        .unwrap();
    ed.set_prop(&b, ".seen", &s("2020")).await.unwrap();
    ed.apply().await.unwrap();

    // .seen widens, read-only props refuse changes.
    let mut ed = editor(&view);
    ed.set_prop(&b, ".seen", &s("2023")).await.unwrap();
    let err = ed.set_prop(&a, "host", &s("zzz")).await.unwrap_err();
    assert_eq!(err.class(), "ReadOnlyProp");
    ed.apply().await.unwrap();
    let node = view.get_node(b).await.unwrap().unwrap();
    assert_eq!(
        node.get(".seen"),
        Some(&Value::Array(vec![
            Value::from(1577836800000i64),
            Value::from(1672531200001i64)
        ]))
    );

    let n1: Vec<_> = view.edges_n1(a, None).try_collect().await.unwrap();
    assert_eq!(n1, vec![("refs".to_owned(), b)]);
    let n2: Vec<_> = view.edges_n2(b, Some("refs")).try_collect().await.unwrap();
    assert_eq!(n2, vec![("refs".to_owned(), a)]);
    assert!(view.has_edge(a, "refs", b).await.unwrap());
    assert_eq!(
        view.edge_verbs(a, b).await.unwrap(),
        vec!["refs".to_owned()]
    );
    assert_eq!(
        view.get_data(a, "foo").await.unwrap(),
        Some(Value::Array(vec![s("1"), s("2")]))
    );
    let withdata = nodes(view.lift_data_name("foo").unwrap()).await;
    assert_eq!(withdata.len(), 1);
    assert_eq!(
        withdata[0].nodedata,
        vec![("foo".to_owned(), Value::Array(vec![s("1"), s("2")]))]
    );

    // The ipv4 is the target of an edge: no delete without force.
    let mut ed = editor(&view);
    let err = ed.del_node(&b, false).await.unwrap_err();
    assert_eq!(err.class(), "CantDelNode");
    assert_eq!(
        err.to_string(),
        "Other nodes still have light edges to this node."
    );
    // The fqdn's parent is referred to by its :domain.
    let parent = buid("inet:fqdn", &s("vertex.link"));
    let err = ed.del_node(&parent, false).await.unwrap_err();
    assert_eq!(err.to_string(), "Other nodes still refer to this node.");
    // A tag node in use.
    let tagnode = buid("syn:tag", &s("t.z"));
    let err = ed.del_node(&tagnode, false).await.unwrap_err();
    assert_eq!(err.to_string(), "Nodes still have this tag.");

    // Removing a tag removes its children; tag deletes come longest first.
    let mut ed = editor(&view);
    ed.del_tag(&a, "t.x").await.unwrap();
    let batches = ed.apply().await.unwrap();
    let dels: Vec<String> = batches[0][0]
        .edits
        .iter()
        .map(|e| match &e.op {
            EditOp::TagDel { tag, .. } => tag.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(dels, vec!["t.x.y".to_owned(), "t.x".to_owned()]);
    let node = view.get_node(a).await.unwrap().unwrap();
    let tags: Vec<&str> = node.tags.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(tags, vec!["t", "t.z"]);

    // Deleting the fqdn removes its tags, props, node data and outgoing edges.
    let mut ed = editor(&view);
    ed.del_node(&a, false).await.unwrap();
    let batches = ed.apply().await.unwrap();
    let codes: Vec<i64> = batches[0][0].edits.iter().map(|e| e.op.code()).collect();
    assert_eq!(codes.last(), Some(&code::NODE_DEL));
    assert_eq!(codes.iter().filter(|c| **c == code::TAG_DEL).count(), 2);
    assert!(view.get_node(a).await.unwrap().is_none());
    assert!(!view.has_edge(a, "refs", b).await.unwrap());
    assert_eq!(view.get_data(a, "foo").await.unwrap(), None);
    assert!(view.write_layer().get_sode(a).await.unwrap().is_none());
    // Now the ipv4 can go.
    let mut ed = editor(&view);
    assert!(ed.del_node(&b, false).await.unwrap());
    ed.apply().await.unwrap();
    assert_eq!(view.count_form("inet:ipv4").await.unwrap(), 0);
    views.fini().await;
}

struct OnlyFqdns;

impl EditPerms for OnlyFqdns {
    fn check(&self, perm: &EditPerm<'_>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        match perm {
            EditPerm::NodeAdd { form: "inet:fqdn" } => Ok(()),
            other => Err(format!("must have permission {}", other.path().join(".")).into()),
        }
    }
}

#[tokio::test]
async fn the_permission_hook_sees_requested_edits() {
    let dir = tempfile::tempdir().unwrap();
    let views = open(dir.path()).await;
    let view = views.default_view();
    let mut ed = view.editor(
        synapse_cortex::nodeedit::EditMeta::now("visi"),
        std::sync::Arc::new(OnlyFqdns),
    );
    // Auto-added nodes (inet:fqdn parents) need no permission.
    let a = ed
        .add_node("inet:fqdn", &s("www.vertex.link"))
        .await
        .unwrap()
        .unwrap();
    let err = ed.add_node("inet:ipv4", &s("1.2.3.4")).await.unwrap_err();
    assert_eq!(err.class(), "AuthDeny");
    assert_eq!(err.to_string(), "must have permission node.add.inet:ipv4");
    let err = ed.add_tag(&a, "foo.bar", None).await.unwrap_err();
    assert_eq!(err.to_string(), "must have permission node.tag.add.foo.bar");
    ed.apply().await.unwrap();
    assert_eq!(view.count_form("inet:fqdn").await.unwrap(), 3);
    assert_eq!(
        EditPerm::PropSet {
            form: "inet:ipv4",
            prop: "asn"
        }
        .legacy_path()
        .unwrap()
        .join("."),
        "node.prop.set.inet:ipv4:asn"
    );
    views.fini().await;
}
