//! Layer storage: applying nodeedits, indexes, counters, the edit log, restarts.

use std::sync::Arc;

use futures::TryStreamExt;
use rmpv::Value;
use synapse_cortex::layer::{Abrvs, Layer, LayerDef};
use synapse_cortex::nodeedit::{EditMeta, EditOp, NodeEdit, buid, stortype as st};

fn ipv4_add(ip: u32, asn: Option<i64>) -> NodeEdit {
    let valu = Value::from(ip);
    let mut ops = vec![EditOp::NodeAdd {
        valu: valu.clone(),
        stortype: st::U32,
    }];
    if let Some(asn) = asn {
        ops.push(EditOp::PropSet {
            prop: "asn".into(),
            valu: Value::from(asn),
            oldv: Value::Nil,
            stortype: st::I64,
        });
    }
    NodeEdit::new(buid("inet:ipv4", &valu), "inet:ipv4", ops)
}

fn meta() -> EditMeta {
    EditMeta {
        time: 1000,
        user: "root".into(),
        extra: Vec::new(),
    }
}

#[tokio::test]
async fn apply_reports_changes_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let abrvs = Arc::new(Abrvs::new());
    let def = LayerDef::new("root");
    let layer = Layer::open(dir.path().join("l"), def.clone(), abrvs.clone())
        .await
        .unwrap();

    let applied = layer
        .apply(vec![ipv4_add(1, Some(10)), ipv4_add(2, None)], meta())
        .await
        .unwrap();
    assert_eq!(applied.offset, Some(0));
    assert_eq!(applied.edits.len(), 2);
    let ops: Vec<i64> = applied.edits[0].edits.iter().map(|e| e.op.code()).collect();
    assert_eq!(ops, vec![0, 2, 2]);
    match &applied.edits[0].edits[1].op {
        EditOp::PropSet {
            prop,
            valu,
            stortype,
            ..
        } => {
            assert_eq!(prop, ".created");
            assert_eq!(valu, &Value::from(1000));
            assert_eq!(*stortype, st::MINTIME);
        }
        other => panic!("unexpected {other:?}"),
    }

    // Re-applying changes nothing and logs nothing.
    let again = layer
        .apply(vec![ipv4_add(1, Some(10))], meta())
        .await
        .unwrap();
    assert_eq!(again.offset, None);
    assert!(again.edits.is_empty());

    // Changing a prop reports the old value.
    let applied = layer
        .apply(vec![ipv4_add(1, Some(20))], meta())
        .await
        .unwrap();
    match &applied.edits[0].edits[0].op {
        EditOp::PropSet { oldv, valu, .. } => {
            assert_eq!(oldv, &Value::from(10));
            assert_eq!(valu, &Value::from(20));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(layer.count_form("inet:ipv4").await.unwrap(), 2);
    assert_eq!(layer.count_prop("inet:ipv4", "asn").await.unwrap(), 1);
    assert_eq!(layer.count_univ(".created").await.unwrap(), 2);

    let log: Vec<_> = layer.sync_edits(0, false).try_collect().await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].offset, 1);
    assert_eq!(log[0].meta.user, "root");

    let sode = layer
        .get_sode(buid("inet:ipv4", &Value::from(1u32)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sode.prop("asn"), Some((&Value::from(20), st::I64)));
    layer.fini().await;

    // Restart: everything is back, including abbreviations in a fresh table.
    let layer = Layer::open(dir.path().join("l"), def, Arc::new(Abrvs::new()))
        .await
        .unwrap();
    assert_eq!(layer.edit_offset(), 2);
    let sode = layer
        .get_sode(buid("inet:ipv4", &Value::from(1u32)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sode.form.as_deref(), Some("inet:ipv4"));
    assert_eq!(sode.prop("asn"), Some((&Value::from(20), st::I64)));
    assert_eq!(layer.count_form("inet:ipv4").await.unwrap(), 2);
    layer.fini().await;
}

#[tokio::test]
async fn followers_wait_for_new_edits() {
    let dir = tempfile::tempdir().unwrap();
    let layer = Layer::open(
        dir.path().join("l"),
        LayerDef::new("root"),
        Arc::new(Abrvs::new()),
    )
    .await
    .unwrap();
    layer.apply(vec![ipv4_add(1, None)], meta()).await.unwrap();
    let follower = layer.sync_edits(0, true);
    let reader = tokio::spawn(async move {
        let mut follower = follower;
        let mut seen = Vec::new();
        while let Some(entry) = follower.try_next().await.unwrap() {
            seen.push((entry.offset, entry.edits[0].buid));
            if seen.len() == 3 {
                break;
            }
        }
        seen
    });
    layer.apply(vec![ipv4_add(2, None)], meta()).await.unwrap();
    // A batch without changes is not logged.
    layer.apply(vec![ipv4_add(2, None)], meta()).await.unwrap();
    layer.apply(vec![ipv4_add(3, None)], meta()).await.unwrap();
    let seen = tokio::time::timeout(std::time::Duration::from_secs(60), reader)
        .await
        .unwrap()
        .unwrap();
    let want: Vec<(u64, [u8; 32])> = (1u32..=3)
        .enumerate()
        .map(|(offs, ip)| (offs as u64, buid("inet:ipv4", &Value::from(ip))))
        .collect();
    assert_eq!(seen, want);
    // Replaying the log into a fresh layer rebuilds the same nodes.
    let copy = Layer::open(
        dir.path().join("copy"),
        LayerDef::new("root"),
        Arc::new(Abrvs::new()),
    )
    .await
    .unwrap();
    let entries = layer.read_log(0, 100).await.unwrap();
    for entry in entries {
        copy.apply(entry.edits, entry.meta).await.unwrap();
    }
    for ip in 1u32..=3 {
        let a = layer
            .get_sode(buid("inet:ipv4", &Value::from(ip)))
            .await
            .unwrap();
        let b = copy
            .get_sode(buid("inet:ipv4", &Value::from(ip)))
            .await
            .unwrap();
        assert_eq!(a, b);
    }
    layer.fini().await;
    copy.fini().await;
}

#[tokio::test]
async fn tag_props_edges_and_data_are_indexed() {
    use synapse_cortex::layer::LiftBy;
    use synapse_cortex::model::StorLift;

    let dir = tempfile::tempdir().unwrap();
    let abrvs = Arc::new(Abrvs::new());
    let layer = Layer::open(dir.path().join("l"), LayerDef::new("root"), abrvs)
        .await
        .unwrap();
    let ips: Vec<[u8; 32]> = (1u32..=3)
        .map(|ip| buid("inet:ipv4", &Value::from(ip)))
        .collect();
    let mut edits = Vec::new();
    for (idx, ip) in (1u32..=3).enumerate() {
        let mut ne = ipv4_add(ip, None);
        ne.edits.push(
            EditOp::TagSet {
                tag: "rep".into(),
                valu: (None, None),
                oldv: None,
            }
            .into(),
        );
        ne.edits.push(
            EditOp::TagPropSet {
                tag: "rep".into(),
                prop: "score".into(),
                valu: Value::from(10 * (3 - idx as i64)),
                oldv: Value::Nil,
                stortype: st::I64,
            }
            .into(),
        );
        ne.edits.push(
            EditOp::EdgeAdd {
                verb: "refs".into(),
                n2: ips[(idx + 1) % 3],
            }
            .into(),
        );
        ne.edits.push(
            EditOp::NodeDataSet {
                name: "d".into(),
                valu: Value::from(idx as i64),
                oldv: Value::Nil,
            }
            .into(),
        );
        edits.push(ne);
    }
    layer.apply(edits, meta()).await.unwrap();
    assert_eq!(layer.count_tagprop(None, "rep", "score").await.unwrap(), 3);
    assert_eq!(
        layer
            .count_tagprop(Some("inet:ipv4"), "rep", "score")
            .await
            .unwrap(),
        3
    );
    assert_eq!(layer.count_tag("rep", None).await.unwrap(), 3);
    assert_eq!(layer.count_edges().await.unwrap(), 3);
    let by = LiftBy::TagPropValu {
        form: None,
        tag: "rep".into(),
        prop: "score".into(),
        cmpr: StorLift {
            cmpr: ">=".into(),
            valu: Value::from(20),
            stortype: st::I64,
        },
    };
    assert_eq!(layer.count_lift(&by).await.unwrap(), 2);
    assert_eq!(
        layer.get_data(ips[1], "d").await.unwrap(),
        Some(Value::from(1))
    );
    assert!(layer.has_edge(ips[0], "refs", ips[1]).await.unwrap());
    assert_eq!(
        layer.edge_verbs(ips[0], ips[1]).await.unwrap(),
        vec!["refs".to_owned()]
    );

    // Changing a tag prop moves its index row; deleting the node drops data and edges.
    let ne = NodeEdit::new(
        ips[0],
        "inet:ipv4",
        vec![EditOp::TagPropSet {
            tag: "rep".into(),
            prop: "score".into(),
            valu: Value::from(5),
            oldv: Value::Nil,
            stortype: st::I64,
        }],
    );
    let applied = layer.apply(vec![ne], meta()).await.unwrap();
    match &applied.edits[0].edits[0].op {
        EditOp::TagPropSet { oldv, .. } => assert_eq!(oldv, &Value::from(30)),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(layer.count_lift(&by).await.unwrap(), 1);
    let ne = NodeEdit::new(
        ips[0],
        "inet:ipv4",
        vec![EditOp::NodeDel {
            valu: Value::Nil,
            stortype: st::U32,
        }],
    );
    layer.apply(vec![ne], meta()).await.unwrap();
    assert_eq!(layer.get_data(ips[0], "d").await.unwrap(), None);
    assert!(!layer.has_edge(ips[0], "refs", ips[1]).await.unwrap());
    assert_eq!(layer.count_edges().await.unwrap(), 2);
    assert_eq!(layer.count_form("inet:ipv4").await.unwrap(), 2);
    // The sode keeps its tags and tag props (only the primary value went).
    let sode = layer.get_sode(ips[0]).await.unwrap().unwrap();
    assert!(sode.valu.is_none());
    assert_eq!(
        sode.tagprop("rep", "score"),
        Some((&Value::from(5), st::I64))
    );
    let log: Vec<_> = layer.sync_edits(0, false).try_collect().await.unwrap();
    assert_eq!(log.len(), 3);
    let wire = log[0].to_value(true);
    assert_eq!(wire.as_array().unwrap().len(), 3);
    layer.fini().await;
}

#[tokio::test]
async fn deferred_batches_share_log_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l");
    let def = LayerDef::new("root");
    let layer = Layer::open(&path, def.clone(), Arc::new(Abrvs::new()))
        .await
        .unwrap();
    // Three deferred batches of one user: one row, whose offset each batch reports.
    for ip in 1u32..=3 {
        let applied = layer
            .apply_deferred(vec![ipv4_add(ip, None)], meta())
            .await
            .unwrap();
        assert_eq!(applied.offset, Some(0));
    }
    assert_eq!(layer.edit_offset(), 1);
    // Another user's batch starts a row of its own.
    let other = EditMeta {
        user: "visi".into(),
        ..meta()
    };
    let applied = layer
        .apply_deferred(vec![ipv4_add(4, None)], other)
        .await
        .unwrap();
    assert_eq!(applied.offset, Some(1));
    // A reader of the log gets the row being gathered; later batches go to a new row.
    let rows = layer.read_log(0, 100).await.unwrap();
    let counts: Vec<(u64, usize)> = rows.iter().map(|r| (r.offset, r.edits.len())).collect();
    assert_eq!(counts, vec![(0, 3), (1, 1)]);
    layer
        .apply_deferred(vec![ipv4_add(5, None)], meta())
        .await
        .unwrap();
    layer
        .apply_deferred(vec![ipv4_add(6, None)], meta())
        .await
        .unwrap();
    // A committed batch writes the gathered row before its own.
    let applied = layer.apply(vec![ipv4_add(7, None)], meta()).await.unwrap();
    assert_eq!(applied.offset, Some(3));
    let rows = layer.read_log(0, 100).await.unwrap();
    let counts: Vec<(u64, usize)> = rows.iter().map(|r| (r.offset, r.edits.len())).collect();
    assert_eq!(counts, vec![(0, 3), (1, 1), (2, 2), (3, 1)]);
    // Deferred rows are written with the commit: all of them survive a reopen.
    layer
        .apply_deferred(vec![ipv4_add(8, None)], meta())
        .await
        .unwrap();
    layer.sync().await.unwrap();
    layer.fini().await;
    let layer = Layer::open(&path, def, Arc::new(Abrvs::new()))
        .await
        .unwrap();
    let rows = layer.read_log(0, 100).await.unwrap();
    let nodes: usize = rows.iter().map(|r| r.edits.len()).sum();
    assert_eq!((rows.len(), nodes), (5, 8));
    assert_eq!(layer.edit_offset(), 5);
}

#[tokio::test]
async fn the_log_reads_backwards() {
    let dir = tempfile::tempdir().unwrap();
    let layer = Layer::open(
        dir.path().join("l"),
        LayerDef::new("root"),
        Arc::new(Abrvs::new()),
    )
    .await
    .unwrap();
    // More rows than one read batch (64).
    for ip in 0u32..150 {
        layer.apply(vec![ipv4_add(ip, None)], meta()).await.unwrap();
    }
    let offsets = |entries: Vec<synapse_cortex::layer::LogEntry>| -> Vec<u64> {
        entries.iter().map(|e| e.offset).collect()
    };
    let all: Vec<_> = layer.edits_back(u64::MAX).try_collect().await.unwrap();
    assert_eq!(offsets(all), (0..150).rev().collect::<Vec<u64>>());
    let some: Vec<_> = layer.edits_back(70).try_collect().await.unwrap();
    assert_eq!(offsets(some), (0..=70).rev().collect::<Vec<u64>>());
    let first: Vec<_> = layer.edits_back(0).try_collect().await.unwrap();
    assert_eq!(offsets(first), vec![0]);
}

#[tokio::test]
async fn a_new_node_whose_row_id_is_taken_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let layer = Layer::open(
        dir.path().join("l"),
        LayerDef::new("root"),
        Arc::new(Abrvs::new()),
    )
    .await
    .unwrap();
    let node = |buid: [u8; 32], ip: u32| {
        let ops = vec![EditOp::NodeAdd {
            valu: Value::from(ip),
            stortype: st::U32,
        }];
        NodeEdit::new(buid, "inet:ipv4", ops)
    };
    // Same first bytes (the row id), different buids.
    let mut twin = [5u8; 32];
    twin[20] = 6;
    layer.apply(vec![node([5u8; 32], 1)], meta()).await.unwrap();
    let err = layer.apply(vec![node(twin, 2)], meta()).await.unwrap_err();
    assert_eq!(err.class(), "BadCoreStore", "{err}");
    // Two new twins in one batch, the first with an edge (written at once when applied).
    let mut other = [8u8; 32];
    other[31] = 9;
    let mut first = node([8u8; 32], 3);
    first.edits.push(
        EditOp::EdgeAdd {
            verb: "refs".into(),
            n2: [5u8; 32],
        }
        .into(),
    );
    let err = layer
        .apply(vec![first, node(other, 4)], meta())
        .await
        .unwrap_err();
    assert_eq!(err.class(), "BadCoreStore", "{err}");
    assert_eq!(layer.count_edges().await.unwrap(), 0);
    // The first node is whole, the refused ones are absent, the layer goes on.
    assert!(layer.get_sode([5u8; 32]).await.unwrap().is_some());
    for buid in [twin, [8u8; 32], other] {
        assert!(layer.get_sode(buid).await.unwrap().is_none());
    }
    layer
        .apply(vec![ipv4_add(7, Some(1))], meta())
        .await
        .unwrap();
    assert_eq!(layer.count_form("inet:ipv4").await.unwrap(), 2);
    assert_eq!(layer.count_prop("inet:ipv4", "asn").await.unwrap(), 1);
}

#[tokio::test]
async fn logged_edits_come_back_with_their_buids() {
    let dir = tempfile::tempdir().unwrap();
    let layer = Layer::open(
        dir.path().join("l"),
        LayerDef::new("root"),
        Arc::new(Abrvs::new()),
    )
    .await
    .unwrap();
    // A node added by its edit (buid derivable), one whose buid is not the hash of its form and
    // value, then edits of an existing node (no add).
    let odd = NodeEdit::new(
        [7u8; 32],
        "inet:ipv4",
        vec![EditOp::NodeAdd {
            valu: Value::from(9u32),
            stortype: st::U32,
        }],
    );
    let first = layer
        .apply(vec![ipv4_add(1, None), odd], meta())
        .await
        .unwrap();
    let second = layer
        .apply(vec![ipv4_add(1, Some(5))], meta())
        .await
        .unwrap();
    let log: Vec<_> = layer.sync_edits(0, false).try_collect().await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].edits, first.edits);
    assert_eq!(log[1].edits, second.edits);
    let buids: Vec<_> = log[0].edits.iter().map(|e| e.buid).collect();
    assert_eq!(buids, [buid("inet:ipv4", &Value::from(1u32)), [7u8; 32]]);
    assert_eq!(log[1].edits[0].buid, buid("inet:ipv4", &Value::from(1u32)));
}
