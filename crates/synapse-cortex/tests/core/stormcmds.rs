//! Storm's view commands through the Cortex service: forks get their auth gates, with the
//! forking user their admin, and `view.merge --delete` removes them.

use crate::util::{allow, call, dict, fresh, root, s, user};

#[tokio::test]
async fn storm_forks_get_gates_and_merge_delete_removes_them() {
    let (_dir, core) = fresh().await;
    let (visi, iden) = user(&core, "visi").await;
    for perm in [&["view", "add"][..], &["view", "read"], &["view", "fork"]] {
        allow(&core, &iden, perm, None).await;
    }
    let fork = call(
        &visi,
        "callStorm",
        vec![
            s("return($lib.view.get().fork(name=mine).iden)"),
            dict(vec![]),
        ],
    )
    .await
    .unwrap();
    let fork = fork.as_str().unwrap().to_owned();
    assert!(core.cell().auth().gate(&fork).is_some());

    // the forking user may edit its fork (admin of the new layer's gate) ...
    let opts = dict(vec![("view", s(&fork))]);
    let repr = call(
        &visi,
        "callStorm",
        vec![s("[ inet:ipv4=1.2.3.4 ] return($node.repr())"), opts],
    )
    .await
    .unwrap();
    assert_eq!(repr, s("1.2.3.4"));
    // ... but not the default view
    let err = call(
        &visi,
        "callStorm",
        vec![s("[ inet:ipv4=1.2.3.4 ]"), dict(vec![])],
    )
    .await
    .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");

    let api = root(&core);
    let layer = core
        .service()
        .views()
        .view(&fork)
        .unwrap()
        .write_layer()
        .iden();
    let text = format!("view.merge {fork} --delete | inet:ipv4=1.2.3.4 return($node.repr())");
    let merged = call(&api, "callStorm", vec![s(&text), dict(vec![])])
        .await
        .unwrap();
    assert_eq!(merged, s("1.2.3.4"));
    assert!(core.cell().auth().gate(&fork).is_none());
    assert!(core.cell().auth().gate(&layer).is_none());
    assert!(core.service().views().view(&fork).is_none());
}
