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

/// The `print` texts and the first error name of a `storm()` call.
async fn storm_prints(
    api: &synapse_cell::CellApi<synapse_cortex::cortex::Cortex>,
    text: &str,
) -> (Vec<String>, Option<String>) {
    let mesgs = crate::util::genr(api, "storm", vec![s(text), dict(vec![])])
        .await
        .unwrap();
    let mut prints = Vec::new();
    let mut err = None;
    for mesg in &mesgs {
        let parts = mesg.as_array().unwrap();
        match parts[0].as_str() {
            Some("print") => prints.push(
                crate::util::get(&parts[1], "mesg")
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
            Some("err") if err.is_none() => {
                err = parts[1].as_array().unwrap()[0].as_str().map(str::to_owned);
            }
            _ => {}
        }
    }
    (prints, err)
}

#[tokio::test]
async fn runas_runs_as_the_user_and_needs_admin() {
    let (_dir, core) = fresh().await;
    let (visi, _iden) = user(&core, "visi").await;
    let api = root(&core);

    let (prints, err) = storm_prints(&api, "runas visi { $lib.print($lib.user.name()) }").await;
    assert_eq!((prints, err), (vec!["visi".to_owned()], None));

    // path variables pass through, nodes pass on
    let (prints, err) = storm_prints(
        &api,
        "[ inet:ipv4=1.1.1.1 ] $x=$node.repr() | runas visi { $lib.print($x) } | $lib.print(after)",
    )
    .await;
    assert_eq!(
        (prints, err),
        (vec!["1.1.1.1".to_owned(), "after".to_owned()], None)
    );

    // the query's edits are checked against the user
    let (_, err) = storm_prints(&api, "runas visi { [ inet:ipv4=2.2.2.2 ] }").await;
    assert_eq!(err.as_deref(), Some("AuthDeny"));
    let (_, err) = storm_prints(&api, "runas nope { }").await;
    assert_eq!(err.as_deref(), Some("NoSuchUser"));

    // only admins may use it
    let (_, err) = storm_prints(&visi, "runas root { $lib.print(x) }").await;
    assert_eq!(err.as_deref(), Some("AuthDeny"));
}

#[tokio::test]
async fn uptime_counts_from_the_cell_start() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let (prints, err) = storm_prints(&api, "uptime").await;
    assert_eq!(err, None);
    let since: String = synapse_cortex::model::time::repr(core.cell().started())
        .replacen('/', "-", 2)
        .chars()
        .take(19)
        .collect();
    assert!(prints[0].starts_with("up "), "{prints:?}");
    assert!(
        prints[0].ends_with(&format!(" (since {since})")),
        "{prints:?}"
    );
}
