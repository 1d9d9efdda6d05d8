//! Views: fork, read-through, shadowed values, merge, delete, restart.

use futures::TryStreamExt;
use rmpv::Value;
use synapse_cortex::nodeedit::buid;

use super::util::{editor, ndefs, nodes, open, s};

fn ip(text: &str) -> Value {
    s(text)
}

#[tokio::test]
async fn forks_read_through_and_merge() {
    let dir = tempfile::tempdir().unwrap();
    let views = open(dir.path()).await;
    let base = views.default_view();

    let mut ed = editor(&base);
    let one = ed
        .add_node_props(
            "inet:ipv4",
            &ip("1.2.3.4"),
            &[("asn".into(), Value::from(1))],
        )
        .await
        .unwrap()
        .unwrap();
    let five = ed
        .add_node_props(
            "inet:ipv4",
            &ip("5.5.5.5"),
            &[("asn".into(), Value::from(9))],
        )
        .await
        .unwrap()
        .unwrap();
    let fqdn = ed
        .add_node("inet:fqdn", &s("a.com"))
        .await
        .unwrap()
        .unwrap();
    ed.add_tag(&fqdn, "foo", Some(&s("2020"))).await.unwrap();
    ed.apply().await.unwrap();

    let fork = views
        .fork(&base.iden(), Some("fork".into()), "root")
        .await
        .unwrap();
    assert_eq!(fork.layers().len(), 2);
    assert_eq!(fork.def().parent.as_deref(), Some(base.iden().as_str()));

    let mut ed = editor(&fork);
    ed.set_prop(&one, "asn", &Value::from(2)).await.unwrap();
    ed.set_prop(&five, "asn", &Value::from(3)).await.unwrap();
    ed.add_tag(&fqdn, "foo", Some(&s("2022"))).await.unwrap();
    let batches = ed.apply().await.unwrap();
    // The two ipv4s, the fqdn and the new inet:asn nodes.
    assert_eq!(batches[0].len(), 5);

    // The fork sees the top layer's values; lifts of hidden values find nothing.
    let lift = |full: &'static str, cmpr: &'static str, valu: Value| {
        let fork = fork.clone();
        async move { ndefs(&nodes(fork.lift_prop_valu(full, cmpr, &valu, false).unwrap()).await) }
    };
    assert_eq!(lift("inet:ipv4:asn", "=", Value::from(1)).await, vec![]);
    assert_eq!(
        lift("inet:ipv4:asn", "=", Value::from(2)).await,
        vec![("inet:ipv4".into(), Value::from(16909060))]
    );
    assert_eq!(lift("inet:ipv4:asn", "=", Value::from(9)).await, vec![]);
    // In value order across layers: asn 2 (1.2.3.4) then asn 3 (5.5.5.5).
    let both = ndefs(&nodes(fork.lift_prop("inet:ipv4:asn", false).unwrap()).await);
    assert_eq!(
        both,
        vec![
            ("inet:ipv4".into(), Value::from(16909060)),
            ("inet:ipv4".into(), Value::from(84215045)),
        ]
    );
    let ips = nodes(fork.lift_prop("inet:ipv4", false).unwrap()).await;
    assert_eq!(ips.len(), 2);
    let tagged = nodes(
        fork.lift_tag_valu("foo", None, "@=", &s("2021"), false)
            .unwrap(),
    )
    .await;
    assert_eq!(tagged.len(), 1);
    assert_eq!(
        tagged[0].tag("foo"),
        Some((Some(1577836800000), Some(1640995200001)))
    );
    // The base view is unchanged.
    let node = base.get_node(one).await.unwrap().unwrap();
    assert_eq!(node.get("asn"), Some(&Value::from(1)));
    assert_eq!(
        nodes(
            base.lift_tag_valu("foo", None, "@=", &s("2021"), false)
                .unwrap()
        )
        .await
        .len(),
        0
    );

    // Deleting in the fork only removes what the fork holds.
    let mut ed = editor(&fork);
    ed.del_node(&one, false).await.unwrap();
    ed.apply().await.unwrap();
    let node = fork.get_node(one).await.unwrap().unwrap();
    assert_eq!(node.get("asn"), Some(&Value::from(1)));

    // Merge the fork down and delete it.
    let mut ed = editor(&fork);
    let news = ed
        .add_node("inet:fqdn", &s("new.com"))
        .await
        .unwrap()
        .unwrap();
    ed.apply().await.unwrap();
    let forklayer = fork.write_layer().iden();
    views.merge(&fork.iden(), "root", true).await.unwrap();
    assert!(views.view(&fork.iden()).is_none());
    assert!(views.layer(&forklayer).is_none());
    assert!(base.get_node(news).await.unwrap().is_some());
    assert_eq!(
        base.get_node(five).await.unwrap().unwrap().get("asn"),
        Some(&Value::from(3))
    );
    assert_eq!(
        base.get_node(fqdn).await.unwrap().unwrap().tag("foo"),
        Some((Some(1577836800000), Some(1640995200001)))
    );
    views.fini().await;

    // Everything survives a restart.
    let views = open(dir.path()).await;
    let base = views.default_view();
    assert_eq!(views.views().len(), 1);
    assert!(base.get_node(news).await.unwrap().is_some());
    assert_eq!(base.count_form("inet:fqdn").await.unwrap(), 3);
    assert_eq!(
        nodes(base.lift_tag("foo", None, false).unwrap())
            .await
            .len(),
        1
    );
    views.fini().await;
}

#[tokio::test]
async fn views_refuse_bad_deletes_and_merges() {
    let dir = tempfile::tempdir().unwrap();
    let views = open(dir.path()).await;
    let base = views.default_view();
    let err = views.merge(&base.iden(), "root", false).await.unwrap_err();
    assert_eq!(err.class(), "CantMergeView");
    let err = views.del_view(&base.iden()).await.unwrap_err();
    assert_eq!(err.class(), "SynErr");
    let fork = views.fork(&base.iden(), None, "root").await.unwrap();
    let kid = views.fork(&fork.iden(), None, "root").await.unwrap();
    assert_eq!(kid.layers().len(), 3);
    assert_eq!(
        views.del_view(&fork.iden()).await.unwrap_err().class(),
        "SynErr"
    );
    assert_eq!(
        views
            .merge(&fork.iden(), "root", true)
            .await
            .unwrap_err()
            .class(),
        "CantMergeView"
    );
    let err = views
        .del_layer(&fork.write_layer().iden())
        .await
        .unwrap_err();
    assert_eq!(err.class(), "LayerInUse");
    views.del_view(&kid.iden()).await.unwrap();
    views.merge(&fork.iden(), "root", true).await.unwrap();
    assert_eq!(views.layers().len(), 2);
    assert!(views.req_view("00000000000000000000000000000000").is_err());
    let _ = buid("inet:fqdn", &s("x"));
    let _ = fork
        .edges_n1(buid("inet:fqdn", &s("x")), None)
        .try_collect::<Vec<_>>()
        .await;
    views.fini().await;
}

#[tokio::test]
async fn large_merged_lifts_keep_value_order() {
    let dir = tempfile::tempdir().unwrap();
    let views = open(dir.path()).await;
    let base = views.default_view();
    let mut ed = editor(&base);
    let mut buids = Vec::new();
    for idx in 0..700u32 {
        let b = ed
            .add_node_props(
                "inet:ipv4",
                &Value::from(idx + 1),
                &[("asn".into(), Value::from(idx))],
            )
            .await
            .unwrap()
            .unwrap();
        buids.push(b);
    }
    ed.apply().await.unwrap();
    let fork = views.fork(&base.iden(), None, "root").await.unwrap();
    let mut ed = editor(&fork);
    for (idx, b) in buids.iter().enumerate() {
        if idx % 2 == 0 {
            ed.set_prop(b, "asn", &Value::from(idx as u32 + 1000))
                .await
                .unwrap();
        }
    }
    ed.apply().await.unwrap();
    let got = nodes(fork.lift_prop("inet:ipv4:asn", false).unwrap()).await;
    let asns: Vec<i64> = got
        .iter()
        .map(|n| n.get("asn").and_then(Value::as_i64).unwrap())
        .collect();
    let mut want: Vec<i64> = (0..700).filter(|i| i % 2 == 1).collect();
    want.extend((0..700).filter(|i| i % 2 == 0).map(|i| i + 1000));
    assert_eq!(asns, want);
    let back = nodes(fork.lift_prop("inet:ipv4:asn", true).unwrap()).await;
    let mut rev = want.clone();
    rev.reverse();
    assert_eq!(
        back.iter()
            .map(|n| n.get("asn").and_then(Value::as_i64).unwrap())
            .collect::<Vec<_>>(),
        rev
    );
    // Every node once in a form lift across both layers.
    assert_eq!(
        nodes(fork.lift_prop("inet:ipv4", false).unwrap())
            .await
            .len(),
        700
    );
    views.fini().await;
}
