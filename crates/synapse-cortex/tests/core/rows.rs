//! The raw row generators of the CoreApi (`iterFormRows` ... `iterTagPropRows`, in
//! `coreapi/rows.rs`) on cases the side-by-side interop test of synapse-servers leaves out:
//! tag scans restarted without a form, strings too long for their index, bad arguments.

use rmpv::Value;
use synapse_cell::CellApi;
use synapse_cortex::cortex::Cortex;

use crate::util::{call, fresh, genr, list, root, s};

async fn call_storm(api: &CellApi<Cortex>, text: &str) -> Value {
    call(api, "callStorm", vec![s(text)]).await.unwrap()
}

fn rows(items: &[Value]) -> Vec<(Vec<u8>, Value)> {
    items
        .iter()
        .map(|row| {
            let parts = row.as_array().unwrap();
            let Value::Binary(buid) = &parts[0] else {
                panic!("a buid is bytes: {row:?}")
            };
            (buid.clone(), parts[1].clone())
        })
        .collect()
}

#[tokio::test]
async fn layer_rows_restart_decode_and_refuse() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let long = "x".repeat(300);
    for text in [
        "[ inet:fqdn=a.com +#t ]".to_owned(),
        "[ inet:ipv4=1.2.3.4 +#t ]".to_owned(),
        "[ inet:ipv4=1.2.3.5 +#t ]".to_owned(),
        format!("[ ps:name=\"{long}\" ]"),
    ] {
        call_storm(&api, &format!("{text} return()")).await;
    }
    let layr = call_storm(&api, "return($lib.layer.get().iden)").await;

    // every tagged node, by form then buid; a restart at a node of a form resumes there
    let all = rows(
        &genr(&api, "iterTagRows", vec![layr.clone(), s("t")])
            .await
            .unwrap(),
    );
    assert_eq!(all.len(), 3);
    let (buid, valu) = &all[1];
    let form = valu.as_array().unwrap()[1].clone();
    let start = list(vec![Value::Binary(buid.clone()), form]);
    let rest = rows(
        &genr(
            &api,
            "iterTagRows",
            vec![layr.clone(), s("t"), Value::Nil, start],
        )
        .await
        .unwrap(),
    );
    assert_eq!(rest, all[1..].to_vec());
    // a start node of a form no layer has seen yields nothing
    let start = list(vec![Value::Binary(buid.clone()), s("inet:nope")]);
    let none = genr(
        &api,
        "iterTagRows",
        vec![layr.clone(), s("t"), Value::Nil, start],
    )
    .await
    .unwrap();
    assert!(none.is_empty());
    let err = genr(
        &api,
        "iterTagRows",
        vec![layr.clone(), s("t"), Value::Nil, s("x")],
    )
    .await
    .unwrap_err();
    assert_eq!(err.name(), "BadArg");

    // a string longer than its index holds comes from the storage node, whole
    let names = rows(
        &genr(
            &api,
            "iterFormRows",
            vec![layr.clone(), s("ps:name"), Value::from(1)],
        )
        .await
        .unwrap(),
    );
    assert_eq!(names.len(), 1);
    assert_eq!(names[0].1, s(&long));

    // a start value without a storage type, or one the type cannot index, is refused
    let err = genr(
        &api,
        "iterFormRows",
        vec![layr.clone(), s("inet:ipv4"), Value::Nil, Value::from(1)],
    )
    .await
    .unwrap_err();
    assert_eq!(err.name(), "BadArg");
    let err = genr(
        &api,
        "iterFormRows",
        vec![layr.clone(), s("inet:ipv4"), Value::from(4), s("nope")],
    )
    .await
    .unwrap_err();
    assert_eq!(err.name(), "BadTypeValu");
    // a start past every value yields nothing
    let after = genr(
        &api,
        "iterFormRows",
        vec![
            layr,
            s("inet:ipv4"),
            Value::from(4),
            Value::from(0x0102_0306),
        ],
    )
    .await
    .unwrap();
    assert!(after.is_empty());
}
