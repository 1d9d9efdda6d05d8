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
