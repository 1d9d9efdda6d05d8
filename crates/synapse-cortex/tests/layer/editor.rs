//! The editor: auto-added nodes, subs, tags, props, edges, node data, deletion.

use rmpv::Value;
use synapse_cortex::model::Model;
use synapse_cortex::node::PackOpts;
use synapse_cortex::nodeedit::{EditOp, buid};

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
