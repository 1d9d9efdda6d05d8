//! Permissions as the reference checks them: `cryo.tank.add` on the gate `cryo`, and
//! `cryo.tank.put` / `cryo.tank.read` on each tank's gate; creators administer their tanks;
//! `list` shows readable tanks only; `delete` is for admins.

use futures::TryStreamExt;
use synapse_cell::Rule;
use synapse_cryotank::{CryoClient, SliceOpts};
use synapse_telepath::{Proxy, Value};

use crate::{Cryo, err_name};

fn mesg<T: std::fmt::Debug>(res: Result<T, synapse_telepath::Error>) -> String {
    match res {
        Err(synapse_telepath::Error::Remote(err)) => {
            assert_eq!(err.name, "AuthDeny", "{err:?}");
            err.mesg().unwrap_or_default().to_string()
        }
        other => panic!("expected AuthDeny, got {other:?}"),
    }
}

#[tokio::test]
async fn permissions_follow_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let cryo = Cryo::open(&dir.path().join("cryo")).await;
    let auth = cryo.svc.cell().auth().clone();
    let low = auth
        .add_user("lowuser", Some("secret"), None, None)
        .await
        .unwrap();
    let root = cryo.root().await;
    let rootiden = root.init("rootstuff", None).await.unwrap();
    root.puts("rootstuff", vec![1.into(), 2.into()])
        .await
        .unwrap();

    let lowc = CryoClient::open(&cryo.url("lowuser", "")).await.unwrap();
    let who = format!("User 'lowuser' ({})", low.iden);

    // Nothing is allowed by default.
    assert_eq!(
        mesg(lowc.init("mine", None).await),
        format!("{who} must have permission cryo.tank.add on object cryo (cryo).")
    );
    assert_eq!(
        mesg(lowc.puts("rootstuff", vec![3.into()]).await),
        format!("{who} must have permission cryo.tank.put on object {rootiden} (tank).")
    );
    for res in [
        lowc.last("rootstuff").await.map(|_| ()),
        lowc.slice("rootstuff", 0, SliceOpts::default())
            .await
            .map(|_| ()),
        lowc.rows("rootstuff", 0, None).await.map(|_| ()),
        lowc.metrics("rootstuff", 0, None).await.map(|_| ()),
    ] {
        assert_eq!(
            mesg(res),
            format!("{who} must have permission cryo.tank.read on object {rootiden} (tank).")
        );
    }
    assert!(lowc.list().await.unwrap().is_empty());
    assert_eq!(
        mesg(lowc.delete("rootstuff").await),
        "User is not an admin [lowuser]"
    );
    // Opening a missing tank's API creates it, which needs cryo.tank.add.
    let res = Proxy::open(&cryo.url("lowuser", "cryotank/nope")).await;
    assert_eq!(err_name(res), "AuthDeny");
    // An existing tank's API opens, but its data is guarded.
    let tank = cryo.tank("lowuser", "rootstuff").await;
    assert_eq!(tank.iden().await.unwrap(), rootiden);
    assert_eq!(err_name(tank.puts(vec![1.into()]).await), "AuthDeny");
    assert_eq!(
        err_name(tank.slice(0, SliceOpts::default()).await.map(|_| ())),
        "AuthDeny"
    );
    assert_eq!(
        err_name(tank.metrics(0, None).await.map(|_| ())),
        "AuthDeny"
    );
    tank.fini().await;

    // Allowed to add tanks, the user administers the tanks it makes, and only those.
    auth.add_user_rule(
        &low.iden,
        Rule::new(true, &["cryo", "tank", "add"]),
        None,
        Some("cryo"),
    )
    .await
    .unwrap();
    let mine = lowc.init("mine", None).await.unwrap();
    assert_eq!(lowc.puts("mine", vec!["a".into()]).await.unwrap(), 1);
    assert_eq!(lowc.last("mine").await.unwrap(), Some((0, "a".into())));
    let names: Vec<String> = lowc
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["mine"]);
    let tank = cryo.tank("lowuser", "viapath").await;
    assert_eq!(tank.puts(vec![1.into()]).await.unwrap(), 1);
    tank.fini().await;
    assert_eq!(
        err_name(lowc.puts("rootstuff", vec![3.into()]).await),
        "AuthDeny"
    );
    let gate = auth.gate(&mine).unwrap();
    assert!(gate.users.iter().any(|(user, _)| user == &low.iden));

    // A read rule on root's tank lets the user read it (and list it), not write it.
    auth.add_user_rule(
        &low.iden,
        Rule::new(true, &["cryo", "tank", "read"]),
        None,
        Some(&rootiden),
    )
    .await
    .unwrap();
    let rows: Vec<(u64, Value)> = lowc
        .slice("rootstuff", 0, SliceOpts::default())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(lowc.list().await.unwrap().len(), 3);
    assert_eq!(
        err_name(lowc.puts("rootstuff", vec![3.into()]).await),
        "AuthDeny"
    );

    // Admins delete; the tank's gate goes with it.
    assert!(root.delete("mine").await.unwrap());
    assert!(auth.gate(&mine).is_none());
    lowc.fini().await;
    root.fini().await;
    cryo.fini().await;
}

#[tokio::test]
async fn perm_defs_and_gates() {
    let dir = tempfile::tempdir().unwrap();
    let cryo = Cryo::open(&dir.path().join("cryo")).await;
    let root = cryo.root().await;
    let defs = root
        .proxy()
        .call("getPermDefs", vec![], vec![])
        .await
        .unwrap();
    let perms: Vec<String> = defs
        .as_array()
        .unwrap()
        .iter()
        .map(|pdef| {
            let perm = crate::get(pdef, "perm").as_array().unwrap();
            let gate = crate::get(pdef, "gate").as_str().unwrap();
            let parts: Vec<&str> = perm.iter().map(|p| p.as_str().unwrap()).collect();
            format!("{}@{gate}", parts.join("."))
        })
        .collect();
    assert_eq!(
        perms,
        [
            "cryo.tank.add@cryo",
            "cryo.tank.put@tank",
            "cryo.tank.read@tank"
        ]
    );
    let info = root
        .proxy()
        .call("getCellInfo", vec![], vec![])
        .await
        .unwrap();
    let cellvers = crate::get(crate::get(&info, "cell"), "cellvers");
    assert_eq!(crate::get(cellvers, "cryotank"), &Value::from(3));
    root.fini().await;
    cryo.fini().await;
}
